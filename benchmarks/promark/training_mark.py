"""Training mark vs concept channel under a buyer's pipeline, on held-out photos (issue 11, item 1).

For every mark (training mark at two levels; concept channel at +-4 and +-8, grid 32) and every
buyer transform (JPEG 85, flip, downscale to 32..512 px, random resized crop >= 60 % of the area,
and chains of them), on the held-out photos of ``../shared/data/photos`` (sorted names, index % 5
== 0), all marked with one concept of an 8-concept registry:

- PSNR of the marked copy (lossless) against the photo;
- per-image z of the true code, the share attributed at p <= 1e-6 among 8 codes and the forced
  choice top-1;
- aggregated z (sum of unit readings, as ``provmark audit``) after N = 1, 10, 26, 52, 104 views
  and the views needed to reach the audit's threshold (p <= 1e-6 for 8 tests); deterministic
  transforms give one view per photo (26), random crops four (104);
- false positives: the same on the unmarked photos (largest z over the 8 codes, and attributions).

Also writes the two figures: a 100 % crop side by side and the residual amplified x20.

    python -m benchmarks.promark.training_mark [--photos ../shared/data/photos] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from provmark import ConceptSpec, Registry
from provmark.watermark.concept_channel import channel_logits, embed_channel
from provmark.watermark.decision import raw_bits
from provmark.watermark.training_mark import code_signs, embed_training_mark, training_reading

ROOT = Path(__file__).resolve().parents[2]
OUT_JSON = ROOT / "benchmarks/results/training_mark.json"
FIG_CROP = ROOT / "benchmarks/promark/training_mark_crop.png"
FIG_RESIDUAL = ROOT / "benchmarks/promark/training_mark_residual_x20.png"
CONCEPTS = 8
Z_NEEDED = math.sqrt(2 * math.log(CONCEPTS / 1e-6))  # audit threshold for 8 tests
Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as im:
        return im.convert("RGB")


def downscale(image: Image.Image, side: int) -> Image.Image:
    """Short side to ``side`` px (aspect kept; never upscales)."""
    w, h = image.size
    scale = side / min(w, h)
    return image if scale >= 1 else image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)


def resized_crop(image: Image.Image, side: int, rng: np.random.Generator) -> Image.Image:
    """torchvision-style RandomResizedCrop: 60-100 % of the area, aspect 3/4..4/3, to side x side."""
    w, h = image.size
    area = w * h * rng.uniform(0.6, 1.0)
    ratio = float(np.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3))))
    cw, ch = min(w, round(math.sqrt(area * ratio))), min(h, round(math.sqrt(area / ratio)))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch)).resize((side, side), Image.Resampling.BICUBIC)


def flip(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


TRANSFORMS: dict[str, tuple[Transform, bool]] = {  # name: (transform, random)
    "none": (lambda im, r: im, False),
    "jpeg85": (lambda im, r: jpeg(im), False),
    "flip": (lambda im, r: flip(im), False),
    **{f"down{s}": ((lambda s: lambda im, r: downscale(im, s))(s), False) for s in (32, 64, 128, 256, 512)},
    "crop128": (lambda im, r: resized_crop(im, 128, r), True),
    **{f"chain{s}": ((lambda s: lambda im, r: flip(resized_crop(jpeg(im), s, r)))(s), True) for s in (32, 64, 256)},
}


def held_out(folder: Path) -> list[Path]:
    names = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    return [p for i, p in enumerate(names) if i % 5 == 0]


def psnr(a: Image.Image, b: Image.Image) -> float:
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(10 * math.log10(255.0**2 / max(np.mean(d**2), 1e-12)))


class Mark:
    """One mark to compare: how to embed it and how to read it (reading, code signs)."""

    def __init__(self, name: str, kind: str, strength: float, payloads: list[bytes], key: bytes) -> None:
        self.name, self.kind, self.strength, self.payloads, self.key = name, kind, strength, payloads, key
        if kind == "training":
            self.signs = np.array([code_signs(p, key) for p in payloads])
        else:
            self.signs = np.array([2.0 * raw_bits(p, key) - 1.0 for p in payloads])

    def embed(self, image: Image.Image) -> Image.Image:
        if self.kind == "training":
            return embed_training_mark(image, self.payloads[0], self.key, self.strength)
        return embed_channel(image, self.payloads[0], self.key, self.strength, 32)

    def read(self, image: Image.Image) -> np.ndarray:
        r = training_reading(image) if self.kind == "training" else channel_logits(image, self.key, 32)
        return r / max(float(np.linalg.norm(r)), 1e-12)


def z_of(total: np.ndarray, signs: np.ndarray) -> np.ndarray:
    return signs @ total / max(float(np.linalg.norm(total)), 1e-12)


def summarise(readings: list[np.ndarray], signs: np.ndarray, photos: int) -> dict:
    """Per-image and aggregated statistics for readings of images marked with code 0 (or none).

    Readings come photo by photo (several views each); they are added up view by view, so the
    first ``photos`` views are all different photos."""
    per = len(readings) // photos
    readings = [readings[p * per + v] for v in range(per) for p in range(photos)]
    zs = np.array([z_of(r, signs) for r in readings])  # [views, codes]
    p_best = np.minimum(1.0, CONCEPTS * np.exp(-np.maximum(zs.max(1), 0) ** 2 / 2))
    cum = np.cumsum(np.array(readings), axis=0)
    agg = np.array([z_of(c, signs) for c in cum])
    needed = next((n + 1 for n, v in enumerate(agg[:, 0]) if v >= Z_NEEDED), None)
    slope = agg[-1, 0] / math.sqrt(len(agg)) if agg[-1, 0] > 0 else 0.0
    return {
        "views": len(readings),
        "z_mean": float(zs[:, 0].mean()),
        "z_sd": float(zs[:, 0].std()),
        "attributed": float(np.mean((p_best <= 1e-6) & (zs.argmax(1) == 0))),
        "false_attributed": float(np.mean((p_best <= 1e-6) & (zs.argmax(1) != 0))),
        "forced_top1": float(np.mean(zs.argmax(1) == 0)),
        "agg_z": {str(n): float(agg[n - 1, 0]) for n in (1, 10, 26, 52, 104) if n <= len(agg)},
        "agg_z_max_other": float(agg[-1, 1:].max()),
        "views_needed": needed,
        "views_needed_extrapolated": None if needed or slope <= 0 else int(math.ceil((Z_NEEDED / slope) ** 2)),
    }


def figures(marks: list[Mark], photo: Path) -> None:
    """100 % crop of a flat area side by side, and the residual x20, for each mark."""
    with Image.open(photo) as im:
        original = im.convert("RGB")
    box = (0, 0, 256, 200)  # sky of the example photo
    crops, residuals = [original.crop(box)], []
    for mark in marks:
        marked = mark.embed(original)
        crops.append(marked.crop(box))
        diff = np.asarray(marked, dtype=np.float64) - np.asarray(original, dtype=np.float64)
        residuals.append(Image.fromarray(np.clip(128 + 20 * diff, 0, 255).astype(np.uint8)).crop(box))
    for tiles, path in ((crops, FIG_CROP), (residuals, FIG_RESIDUAL)):
        sheet = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), tiles[0].height), "white")
        x = 0
        for tile in tiles:
            sheet.paste(tile, (x, 0))
            x += tile.width + 8
        sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/photos")
    parser.add_argument("--quick", action="store_true", help="8 photos, for a smoke run")
    args = parser.parse_args()
    photos = held_out(args.photos)[: 8 if args.quick else None]
    with _temp_registry() as reg:
        concepts = reg.concepts()
        payloads, key = [reg.payload(c) for c in concepts], reg.watermark_key
    marks = [Mark("training L2", "training", 2.0, payloads, key), Mark("training L3", "training", 3.0, payloads, key),
             Mark("channel A4", "channel", 4.0, payloads, key), Mark("channel A8", "channel", 8.0, payloads, key)]
    figures([marks[0], marks[3]], ROOT / "examples/images/mate_Dune.webp")
    readings: dict[tuple[str, str], list[np.ndarray]] = {}
    psnrs: dict[str, list[float]] = {m.name: [] for m in marks}
    for i, path in enumerate(photos):
        with Image.open(path) as im:
            photo = im.convert("RGB")
        copies = {"unmarked": photo}
        for m in marks:
            copies[m.name] = m.embed(photo)
            psnrs[m.name].append(psnr(photo, copies[m.name]))
        for t, (fn, random) in TRANSFORMS.items():
            for v in range(4 if random else 1):
                seed = 1000 * i + v
                for name, image in copies.items():
                    view = fn(image, np.random.default_rng(seed))
                    for m in marks if name == "unmarked" else [mm for mm in marks if mm.name == name]:
                        label = f"unmarked/{m.kind}" if name == "unmarked" else name
                        if name == "unmarked" and m.strength not in (2.0, 4.0):
                            continue  # one unmarked reading per reader
                        readings.setdefault((label, t), []).append(m.read(view))
        print(f"{i + 1}/{len(photos)} {path.name}", flush=True)
    signs = {m.name: m.signs for m in marks} | {"unmarked/training": marks[0].signs, "unmarked/channel": marks[2].signs}
    results = {
        "photos": len(photos), "concepts": CONCEPTS, "z_needed": Z_NEEDED,
        "psnr": {k: float(np.mean(v)) for k, v in psnrs.items()},
        "rows": [{"mark": label, "transform": t, **summarise(rs, signs[label], len(photos))} for (label, t), rs in readings.items()],
    }  # fmt: skip
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(results, indent=1))
    print_table(results)


def _temp_registry() -> Registry:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "bench.db"
    reg = Registry.create(path)
    reg.add([ConceptSpec(f"concept{i}", owner="bench") for i in range(CONCEPTS)])
    return reg


def print_table(results: dict) -> None:
    print(f"PSNR (dB): " + ", ".join(f"{k} {v:.1f}" for k, v in results["psnr"].items()))
    print(f"claim at z >= {results['z_needed']:.2f} (p <= 1e-6, {CONCEPTS} tests)")
    print(f"| mark | transform | views | z per image | attributed | forced top-1 | agg z (N=26) | agg z (all) | views needed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results["rows"]:
        agg = row["agg_z"]
        needed = row["views_needed"] or (f"~{row['views_needed_extrapolated']}" if row["views_needed_extrapolated"] else "-")
        if row["mark"].startswith("unmarked"):
            needed = f"max other {row['agg_z_max_other']:.2f}"
        print(
            f"| {row['mark']} | {row['transform']} | {row['views']} | {row['z_mean']:.2f} ± {row['z_sd']:.2f} | "
            f"{row['attributed']:.0%} (false {row['false_attributed']:.0%}) | {row['forced_top1']:.0%} | "
            f"{agg.get('26', float('nan')):.2f} | {list(agg.values())[-1]:.2f} | {needed} |"
        )


if __name__ == "__main__":
    main()
