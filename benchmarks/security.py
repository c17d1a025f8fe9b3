"""Security benchmark: provmark attacked with its public code and weights only, on held-out photos.

The attacker has the shipped code and model, marked images, and nothing else (no
``watermark.key``, no registry secret; see :mod:`benchmarks.adversary`). The keys are used only
to make the marked images and to judge the outcome with provmark's own verdicts:

- copy (white-box: the model's raw bit scores of a signed image written into an unrelated photo
  through the model's residual path; black-box: signed image minus a denoised copy, at the
  decoder's internal scale and at full size, x1 and x3): forged ``verify`` verdicts
  ``ai_generated: true`` on unrelated held-out photos;
- removal (white-box: subtract the residual of the bits the model reads, until the read scores
  cancel, or down to 38 dB): is the signed payload still decoded, also after JPEG 90;
- complement (the negated mark, white-box and black-box): valid payloads other than the signed one;
- collusion (:mod:`benchmarks.collusion`): framing and stripping concept marks with the average of
  N = 8, 32, 64, 256 marked images, before (1 variant per concept) and after keyed variants.

Writes benchmarks/results/security.json and prints a table.

    .venv/bin/python -m benchmarks.security [--limit 10 | --all] [--variants 128] [--only copy,removal,after]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import provmark
from benchmarks import collusion
from benchmarks.adversary import GUESSED_KEY, WhiteBox, add_pattern, band_pass, denoise_residual, gain_for_psnr, jpeg, psnr
from benchmarks.adversary import resize_pattern, tile_average
from benchmarks.attacks import attack_by_name
from benchmarks.adversary import load_rgb as rgb
from provmark.concepts.codes import DEFAULT_VARIANTS
from provmark.models.threads import one_torch_thread

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "benchmarks" / "results"
PROVMARK = [str(Path(sys.executable).with_name("provmark"))]


def split_photos(folder: Path) -> tuple[list[Path], list[Path]]:
    """Held-out photos (sorted names, index % 5 == 0) and the rest (the attacker's own material)."""
    names = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    return [p for i, p in enumerate(names) if i % 5 == 0], [p for i, p in enumerate(names) if i % 5]


def sign(sources: list[Path], work: Path) -> tuple[list[Path], Path]:
    """Sign ``sources`` with a fresh test PKI and watermark key (``provmark keys init`` + ``sign``)."""
    keys = work / "keys"
    command = [*PROVMARK, "keys", "init", "--dir", str(keys), "--org", "Example AI"]
    subprocess.run(command, check=True, capture_output=True)
    out = work / "signed"
    command = [*PROVMARK, "sign", *map(str, sources), "--out", str(out), "--keys", str(keys), "--generator", "Gen 1"]
    subprocess.run(command, check=True, capture_output=True)
    return [out / p.name for p in sources], keys


def forged(paths: list[Path], keys: Path) -> tuple[int, dict[str, int]]:
    """How many of ``paths`` ``provmark verify --keys`` calls ai_generated: true, and how many carry
    the watermark (a copied mark) and a recovered manifest whose signed content differs."""
    verifier = provmark.Verifier(keys)
    reports = [verifier.verify(p) for p in paths]
    marks = [r.watermark for r in reports if r.watermark is not None]
    counts = dict(watermark_detected=sum(m.detected for m in marks),
                  content_differs=sum(m.content == "differs" for m in marks))
    return sum(r.ai_generated is True for r in reports), counts


def save_all(images: list[Image.Image], folder: Path, names: list[Path]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / (n.stem + ".png") for n in names]
    for image, path in zip(images, paths):
        image.save(path)
    return paths


def copy_attacks(signed: list[Path], targets: list[Path], keys: Path, work: Path, rows: list[dict]) -> None:
    """White-box and black-box copy of the signed images' marks onto unrelated held-out photos."""
    box = WhiteBox()
    n = len(targets)
    for setting, paths in (("signed images as issued", signed), ("held-out photos, unattacked", targets)):
        found, counts = forged(paths, keys)
        rows.append(dict(attack="reference", setting=setting, metric="ai_generated", value=found, of=n, **counts))
    for gain in (1.0, 2.0):
        out = [box.write(rgb(t), (box.scores(rgb(s)) > 0).astype(np.float32), gain) for s, t in zip(signed, targets)]
        quality = float(np.mean([psnr(rgb(t), o) for t, o in zip(targets, out)]))
        paths = save_all(out, work / f"wb-copy-{gain:g}", targets)
        found, counts = forged(paths, keys)
        rows.append(dict(attack="copy, white-box", setting=f"model residual path x{gain:g}", metric="ai_generated",
                         value=found, of=n, psnr=quality, **counts))
    for size, scale_name in ((box.size, f"{box.size} px"), (None, "full size")):
        for denoiser in ("median3", "gauss1", "mode5"):
            estimates = [denoise_residual(rgb(s), denoiser, size) for s in signed]
            for gain in (1.0, 3.0):
                out = [add_pattern(rgb(t), e, gain) for t, e in zip(targets, estimates)]
                quality = float(np.mean([psnr(rgb(t), o) for t, o in zip(targets, out)]))
                paths = save_all(out, work / f"bb-copy-{denoiser}-{size}-{gain:g}", targets)
                found, counts = forged(paths, keys)
                rows.append(dict(attack="copy, black-box", setting=f"minus {denoiser}, {scale_name}, x{gain:g}",
                                 metric="ai_generated", value=found, of=n, psnr=quality, **counts))


def removal_attacks(signed: list[Path], keys: Path, rows: list[dict]) -> None:
    """White-box removal and complement on the signed images; judged with the real key."""
    box = WhiteBox()
    key = provmark.load_watermark_key(keys)
    truth = [provmark.decode(s, key).payload for s in signed]
    n = len(signed)

    def judge(images: list[Image.Image]) -> tuple[int, int, int]:
        found = [provmark.decode(im, key) for im in images]
        kept = sum(f.detected and f.payload == p for f, p in zip(found, truth))
        other = sum(f.detected and f.payload != p for f, p in zip(found, truth))
        after_jpeg = sum(provmark.decode(jpeg(im, 90), key).payload == p for im, p in zip(images, truth))
        return kept, other, after_jpeg

    for setting, floor in (("until the read scores cancel", None), ("down to 38 dB", 38.0)):
        out = [box.remove(rgb(s), floor)[0] for s in signed]
        quality = float(np.mean([psnr(rgb(s), o) for s, o in zip(signed, out)]))
        kept, other, after_jpeg = judge(out)
        rows.append(dict(attack="removal, white-box", setting=setting, metric="payload still decoded", value=kept,
                         of=n, psnr=quality, after_jpeg90=after_jpeg, other_payloads=other))
    # The public tile period (grid 128 / tile 32): average the grid-scale high-pass over the 4x4
    # tiles, which keeps whatever repeats (a periodic mark) and averages the rest away; subtract.
    config = box.net.config
    periods = config.grid // config.tile
    for db in (38.0, 42.0):
        out = []
        for s in signed:
            image = rgb(s)
            estimate = resize_pattern(tile_average(band_pass(image, config.grid, gray=True), periods), image.size)
            out.append(add_pattern(image, estimate, -gain_for_psnr(estimate, db)))
        quality = float(np.mean([psnr(rgb(s), o) for s, o in zip(signed, out)]))
        kept, other, after_jpeg = judge(out)
        rows.append(dict(attack="removal, tile average", setting=f"minus the tile-averaged high-pass, {db:g} dB",
                         metric="payload still decoded", value=kept, of=n, psnr=quality, after_jpeg90=after_jpeg,
                         other_payloads=other))
        if db == 38.0:  # the sync tile repeats, so this strips it: geometry found by the sync, after
            for name in ("crop70-topleft", "rotate10"):
                moved = [attack_by_name(name).apply(im, np.random.default_rng(0)) for im in out]
                kept = sum(provmark.decode(im, key).payload == p for im, p in zip(moved, truth))
                rows.append(dict(attack="removal, tile average", setting=f"38 dB, then {name}",
                                 metric="payload still decoded", value=kept, of=n))
    complements = []
    for s in signed:
        image = rgb(s)
        _, scale = box.remove(image)
        pattern = box.residual(image, (box.scores(image) > 0).astype(np.float32))
        complements.append(add_pattern(image, pattern, -2.0 * scale))
    bb = [add_pattern(rgb(s), denoise_residual(rgb(s), "median3", box.size), -2.0) for s in signed]
    for setting, out in (("white-box: minus twice the read residual", complements),
                         ("black-box: minus twice (image - median3), 256 px", bb)):
        kept, other, _ = judge(out)
        quality = float(np.mean([psnr(rgb(s), o) for s, o in zip(signed, out)]))
        rows.append(dict(attack="complement", setting=setting, metric="valid other payloads", value=other, of=n,
                         psnr=quality, payload_still_decoded=kept))


def print_table(rows: list[dict]) -> None:
    print(f"{'attack':38} {'mark / setting':58} {'N':>4} {'result':>8}  {'PSNR':>6}  note")
    for r in rows:
        setting = " / ".join(str(r[k]) for k in ("mark", "setting") if k in r)
        notes = ("watermark_detected", "content_differs", "after_jpeg90", "other_payloads", "payload_still_decoded",
                 "marked", "group")
        note = ", ".join(f"{k}={r[k]}" for k in notes if k in r)
        q = f"{r['psnr']:.1f}" if "psnr" in r else ""
        print(f"{r['attack']:38} {setting[:58]:58} {r.get('colluders') or '':>4} {r['value']:>3}/{r['of']:<4} {q:>6}  "
              f"{r['metric']}{'; ' + note if note else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = next((p for p in (ROOT.parent, ROOT.parents[1]) if (p / "shared").is_dir()), ROOT.parent) / "shared"
    parser.add_argument("--photos", type=Path, default=shared / "data" / "photos", help="../shared/data/photos")
    parser.add_argument("--limit", type=int, default=10, help="held-out photos used (default 10)")
    parser.add_argument("--all", action="store_true", help="every held-out photo")
    parser.add_argument("--variants", type=int, default=DEFAULT_VARIANTS, help="keyed variants per concept (after)")
    parser.add_argument("--colluders", default="8,32,64,256", help="numbers of colluding images")
    parser.add_argument("--only", default="copy,removal," + ",".join(collusion.SETTINGS),
                        help="attacks to run: copy, removal, and collusion settings before, after, channel")
    parser.add_argument("--out", type=Path, default=RESULTS / "security.json")
    args = parser.parse_args()
    held, train = split_photos(args.photos)
    held = held if args.all else held[: args.limit]
    ns = [int(x) for x in args.colluders.split(",")]
    only = tuple(args.only.split(","))
    rows: list[dict] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="provmark-security-") as tmp, one_torch_thread():
        work = Path(tmp)
        if "copy" in only or "removal" in only:
            signed, keys = sign(train[: len(held)], work)
            if "copy" in only:
                copy_attacks(signed, held, keys, work, rows)
            if "removal" in only:
                removal_attacks(signed, keys, rows)
        if set(only) & set(collusion.SETTINGS):
            collusion.attacks(train, held, ns, args.variants, work, rows, only)
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = dict(held_out=[p.name for p in held], variants=args.variants, colluders=ns, only=list(only),
                  attacker_key=GUESSED_KEY.hex(), seconds=round(time.time() - started, 1))
    args.out.write_text(json.dumps(dict(config=config, rows=rows), indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
