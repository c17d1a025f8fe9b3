"""Content fingerprint (content-bound soft binding): distances of legitimate copies vs other photos.

For every photo (long side scaled to 1024 px, as a signed output would be), the fingerprint is
taken, then compared with:

- legitimate copies of the same picture: metadata stripped (PNG re-save), JPEG 75, JPEG 50,
  resized to 0.5 and 0.25, centre crops keeping 80% of each side and 80% of the area, an
  off-centre crop (top-left 70% of the area), a full-width band keeping 60% of the height,
  a mirrored copy, a 10% white border, a 5 degree rotation (not searched for: shows the
  limit), and a chain (crop 80% area, resize 0.5, JPEG 75);
- other photos (what a copied watermark lands on): each photo against ``--others`` different ones.

Prints a table (percentiles of the minimum Hamming distance, of 64 bits) and writes
benchmarks/results/fingerprint.json with the distributions and the rates at the threshold.

    .venv/bin/python benchmarks/fingerprint.py [--photos DIR] [--others N]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provmark.c2pa.fingerprint import HASH_BITS, MATCH_DISTANCE, Fingerprint  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SIZE = 1024


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def strip(image: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def resize(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS)


def crop(image: Image.Image, fw: float, fh: float, px: float = 0.5, py: float = 0.5) -> Image.Image:
    w, h = round(image.width * fw), round(image.height * fh)
    x, y = round((image.width - w) * px), round((image.height - h) * py)
    return image.crop((x, y, x + w, y + h))


COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "stripped": strip,
    "jpeg75": lambda im: jpeg(im, 75),
    "jpeg50": lambda im: jpeg(im, 50),
    "resize0.5": lambda im: resize(im, 0.5),
    "resize0.25": lambda im: resize(im, 0.25),
    "crop80side": lambda im: crop(im, 0.8, 0.8),
    "crop80area": lambda im: crop(im, 0.8**0.5, 0.8**0.5),
    "crop70area_topleft": lambda im: crop(im, 0.7**0.5, 0.7**0.5, 0, 0),
    "band60height": lambda im: crop(im, 1.0, 0.6, 0.5, 0.3),
    "mirror": ImageOps.mirror,
    "border10": lambda im: ImageOps.expand(im, border=round(0.1 * im.width), fill=(255, 255, 255)),
    "rotate5": lambda im: im.rotate(5, resample=Image.Resampling.BICUBIC),
    "rotate10": lambda im: im.rotate(-10, resample=Image.Resampling.BICUBIC),
    "chain": lambda im: jpeg(resize(crop(im, 0.8**0.5, 0.8**0.5), 0.5), 75),
}


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    return resize(image, SIZE / max(image.size))


def percentiles(values: list[int]) -> dict[str, float]:
    arr = np.asarray(values)
    return {
        "n": int(arr.size),
        "min": int(arr.min()),
        "p5": float(np.percentile(arr, 5)),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "max": int(arr.max()),
        "matched": float(np.mean(arr <= MATCH_DISTANCE)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--others", type=int, default=40, help="other photos compared with each photo")
    args = parser.parse_args()
    paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = [load(p) for p in paths]
    prints = [Fingerprint.of(im) for im in images]
    start = time.perf_counter()
    legit: dict[str, list[int]] = {name: [fp.distance(make(im)) for im, fp in zip(images, prints)] for name, make in COPIES.items()}
    rng = random.Random(0)
    unrelated = []
    for i, image in enumerate(images):
        for j in rng.sample([k for k in range(len(images)) if k != i], min(args.others, len(images) - 1)):
            unrelated.append(prints[j].distance(image))
    comparisons = sum(len(v) for v in legit.values()) + len(unrelated)
    ms = 1000 * (time.perf_counter() - start) / comparisons
    rows = {name: percentiles(values) for name, values in legit.items()}
    rows["other photos"] = percentiles(unrelated)
    histogram = np.bincount(np.asarray(unrelated), minlength=HASH_BITS + 1).tolist()
    print(f"{len(images)} photos, {args.others} others each, threshold {MATCH_DISTANCE}/{HASH_BITS} bits, {ms:.2f} ms per comparison")
    print(f"{'copy':<20}{'n':>6}{'min':>5}{'p5':>6}{'p50':>6}{'p95':>6}{'max':>5}{'matched':>9}")
    for name, r in rows.items():
        print(f"{name:<20}{r['n']:>6}{r['min']:>5}{r['p5']:>6.0f}{r['p50']:>6.0f}{r['p95']:>6.0f}{r['max']:>5}{r['matched']:>9.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "photos": len(images),
        "others_per_photo": args.others,
        "threshold": MATCH_DISTANCE,
        "bits": HASH_BITS,
        "ms_per_comparison": ms,
        "rows": rows,
        "other_photos_histogram": histogram,
    }
    (RESULTS / "fingerprint.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / 'fingerprint.json'}")


if __name__ == "__main__":
    main()
