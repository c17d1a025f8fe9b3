"""Signing throughput: images/s for 1024 px JPEGs, against a plain decode + re-encode.

Every mode starts from the same JPEG file bytes and ends with the bytes of a JPEG file, in
one process, in the same run:

- ``reencode``: decode and re-encode (what any pipeline that touches pixels pays anyway);
- ``sign``: decode (to check the file), disclosure XMP/EXIF swapped into the JPEG's metadata
  segments (pixels unchanged, so no re-encode), C2PA manifest signed with ES256;
- ``sign+thumbnail``: the same with the manifest thumbnail on;
- ``sign+watermark`` (with ``--watermark``): the same plus the invisible watermark, which
  changes the pixels and so re-encodes.

Writes benchmarks/results/signing.json and prints a table.

    .venv/bin/python -m benchmarks.signing [--photos DIR] [--count N] [--repeats R] [--watermark]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

import provmark
from provmark.io import encode_like, load_image

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "benchmarks" / "results"
SIZE = 1024


def make_jpegs(photos: list[Path], count: int) -> list[bytes]:
    """``count`` distinct 1024 px (long side) JPEGs at quality 90 made from ``photos``."""
    out = []
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            image = im.convert("RGB")
        scale = SIZE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        if (i // len(photos)) % 2:
            image = ImageOps.mirror(image)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def run_mode(files: list[bytes], work: Callable[[bytes], bytes], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` throughput of ``work`` over all files, plus mean output size."""
    times, sizes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        sizes = [len(work(data)) for data in files]
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "images_per_s": len(files) / best,
        "ms_per_image": 1000 * best / len(files),
        "median_ms_per_image": 1000 * statistics.median(times) / len(files),
        "mean_output_kb": sum(sizes) / len(sizes) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT / "tests" / "data", help="folder of source photos (*.jpg)")
    parser.add_argument("--count", type=int, default=16, help="number of 1024 px JPEGs")
    parser.add_argument("--repeats", type=int, default=3, help="passes per mode (best is reported)")
    parser.add_argument("--watermark", action="store_true", help="also time signing with the watermark (loads torch)")
    parser.add_argument("--out", type=Path, default=RESULTS / "signing.json")
    args = parser.parse_args()

    photos = sorted(args.photos.glob("*.jpg"))
    if not photos:
        sys.exit(f"no *.jpg photos in {args.photos}")
    files = make_jpegs(photos, args.count)
    with tempfile.TemporaryDirectory() as tmp:
        keys = provmark.init_keys(Path(tmp) / "keys")
        disclosure = provmark.Disclosure(generator="Bench 1.0", creator="Benchmark")

        def reencode(data: bytes) -> bytes:
            loaded = load_image(data)
            return encode_like(loaded.image, loaded)

        def signer(**options: bool) -> Callable[[bytes], bytes]:
            signer = provmark.Signer(keys.dir, disclosure=disclosure, **options)
            return lambda data: signer.sign(data, title="b.jpg")

        modes: dict[str, Callable[[bytes], bytes]] = {
            "reencode": reencode,
            "sign": signer(watermark=False),
            "sign+thumbnail": signer(watermark=False, thumbnail=True),
        }
        if args.watermark:
            modes["sign+watermark"] = signer(watermark=True)
        for work in modes.values():  # warm up: imports, model load, first-call costs
            work(files[0])
        results = {name: run_mode(files, work, args.repeats) for name, work in modes.items()}

    base = results["reencode"]["ms_per_image"]
    for row in results.values():
        row["overhead_ms_vs_reencode"] = row["ms_per_image"] - base
    report = {
        "benchmark": "signing",
        "images": len(files),
        "long_side_px": SIZE,
        "source_photos": os.path.relpath(args.photos, ROOT),
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "modes": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(files)} JPEGs, {SIZE} px long side, best of {args.repeats} passes, {os.cpu_count()} CPUs")
    print(f"{'mode':<16}{'images/s':>10}{'ms/image':>10}{'+ms vs re-encode':>18}{'out KB':>9}")
    for name, row in results.items():
        print(
            f"{name:<16}{row['images_per_s']:>10.1f}{row['ms_per_image']:>10.1f}"
            f"{row['overhead_ms_vs_reencode']:>18.1f}{row['mean_output_kb']:>9.1f}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
