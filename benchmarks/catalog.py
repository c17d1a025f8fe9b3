"""Catalog marking benchmark: throughput against plain decode+encode, memory, attribution.

Generates a catalog (default 2,000 images, 256-1024 px, JPEG/PNG/WebP, in 20 concept folders)
from held-out photos (sorted names, index % 5 == 0, as in robustness.py) by random crops,
flips and recolouring. In the same run, over the same files:

- a plain pass (decode + encode in the same format + atomic write) with 1 and 2 processes;
- ``mark_catalog`` (the library behind ``provmark mark --concept-from-dir``) with -j 1 and -j 2;
- peak RSS of each pass (sum over its process tree, sampled every 0.1 s);
- attribution of a sample of marked files re-encoded at JPEG 75 (right concept first), and of
  the same unmarked sources re-encoded at JPEG 75 (must be none);
- kill-then-resume: ``provmark mark -j 2`` killed when about half is recorded, run again, then
  every file checked to have exactly one record matching the file on disk.

    nice -n 10 .venv/bin/python -m benchmarks.catalog [--count 2000] [--sample 200] [--photos DIR]

Writes benchmarks/results/catalog.json and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

import provmark
from provmark.concepts.catalog import is_image_name, mark_catalog, walk_catalog
from provmark.concepts.marker import MarkOptions
from provmark.concepts.registry import ConceptSpec, Registry
from provmark.concepts.sources import FolderConcepts
from provmark.io import encode_like, load_image, write_bytes_atomic

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "benchmarks" / "results"
CONCEPTS = 20
CLI = [sys.executable, "-c", "from provmark.cli.main import main; main()"]


def held_out_photos(folder: Path) -> list[Path]:
    """Photos not used for training: sorted names, index % 5 == 0."""
    photos = sorted(p for p in folder.iterdir() if is_image_name(p.name))
    return photos[::5] or photos


def make_catalog(dst: Path, count: int, photos: list[Path], seed: int = 0) -> None:
    """Write ``count`` varied images under ``dst/cNN/`` (JPEG, PNG and WebP in turn)."""
    rng = random.Random(seed)
    sources = [Image.open(p).convert("RGB") for p in photos]
    for i in range(count):
        image = sources[rng.randrange(len(sources))]
        w, h = image.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        left, top = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
        crop = image.crop((left, top, left + cw, top + ch))
        side = rng.randint(256, 1024)
        scale = side / max(crop.size)
        crop = crop.resize((max(160, round(crop.width * scale)), max(160, round(crop.height * scale))))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop = ImageEnhance.Color(crop).enhance(rng.uniform(0.6, 1.4))
        crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(0.85, 1.15))
        folder = dst / f"c{i % CONCEPTS:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 3
        if kind == 0:
            crop.save(folder / f"img{i:05d}.jpg", quality=rng.randint(75, 95))
        elif kind == 1:
            crop.save(folder / f"img{i:05d}.png")
        else:
            crop.save(folder / f"img{i:05d}.webp", quality=85)


# --- passes, each run in a child process so its memory is measured alone ------------------


def _plain_one(args: tuple[str, str]) -> bool:
    src, out = args
    loaded = load_image(src)
    write_bytes_atomic(out, encode_like(loaded.image, loaded))
    return True


def plain_pass(src: Path, dst: Path, jobs: int) -> dict[str, float]:
    """Decode and re-encode every image (same format and quality), writing atomically."""
    import multiprocessing

    tasks = ((str(src / rel), str(dst / rel)) for rel in walk_catalog(src) if is_image_name(rel))
    started = time.perf_counter()
    if jobs == 1:
        done = sum(_plain_one(t) for t in tasks)
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            done = sum(pool.imap_unordered(_plain_one, tasks, chunksize=4))
    return {"images": done, "seconds": time.perf_counter() - started}


def mark_pass(src: Path, dst: Path, registry: Path, jobs: int) -> dict[str, float]:
    """Mark every image with its folder's concept through the library."""
    with Registry.open(registry) as reg:
        summary = mark_catalog(src, dst, reg, FolderConcepts(src), MarkOptions(), jobs)
    return {"images": summary.marked, "failed": len(summary.failures), "seconds": summary.seconds}


def _tree_rss(pid: int) -> tuple[int, int]:
    """(sum, max) resident set size in bytes over ``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry))
    total = peak = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                    total, peak = total + rss, max(peak, rss)
        except OSError:
            continue
    return total, peak


def run_child(kind: str, src: Path, dst: Path, registry: Path, jobs: int) -> dict[str, float]:
    """Run one pass in a child process; add its peak process-tree RSS (MB) to its result."""
    cmd = [sys.executable, "-m", "benchmarks.catalog", "--child", kind, "--src", str(src), "--dst", str(dst)]
    proc = subprocess.Popen([*cmd, "--registry", str(registry), "--jobs", str(jobs)], stdout=subprocess.PIPE, cwd=ROOT)
    peaks = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            total, single = _tree_rss(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], single)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{kind} pass failed with exit code {proc.returncode}")
    result = json.loads(out)
    result.update(peak_rss_mb=peaks[0] / 2**20, peak_process_rss_mb=peaks[1] / 2**20, jobs=jobs)
    result["images_per_s"] = result["images"] / result["seconds"]
    return result


# --- attribution and resume ----------------------------------------------------------------


def attribution(src: Path, marked: Path, registry: Path, work: Path, sample: int) -> dict[str, float]:
    """Attribute JPEG 75 copies of ``sample`` marked files, and of their unmarked sources."""
    rels = sorted(rel for rel in walk_catalog(marked) if is_image_name(rel))
    rels = random.Random(1).sample(rels, min(sample, len(rels)))
    right = wrong = missed = unmarked_hits = 0
    started = time.perf_counter()
    with Registry.open(registry) as reg:
        for rel in rels:
            truth = rel.split("/")[0]
            for folder, is_marked in ((marked, True), (src, False)):
                copy = work / "jpeg75.jpg"
                Image.open(folder / rel).convert("RGB").save(copy, "JPEG", quality=75)
                hits = provmark.attribute(copy, reg).concepts
                if not is_marked:
                    unmarked_hits += bool(hits)
                elif not hits:
                    missed += 1
                elif hits[0].name == truth and len(hits) == 1:
                    right += 1
                else:
                    wrong += 1
    n = len(rels)
    return {
        "sample": n, "right": right, "wrong": wrong, "missed": missed, "accuracy": right / n,
        "unmarked_attributed": unmarked_hits, "seconds_per_image": (time.perf_counter() - started) / (2 * n),
    }  # fmt: skip


def _recorded(registry: Path) -> int:
    with sqlite3.connect(registry, timeout=60) as conn:
        return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]


def kill_and_resume(src: Path, dst: Path, registry: Path, total: int) -> dict[str, object]:
    """Kill ``provmark mark -j 2`` about halfway, run it again, check one record per file."""
    before = _recorded(registry)
    cmd = [*CLI, "mark", str(src), str(dst), "--registry", str(registry), "--concept-from-dir", "-j", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while _recorded(registry) - before < total // 2 and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _recorded(registry) - before
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    last = rerun.stderr.strip().splitlines()[-1] if rerun.stderr.strip() else ""
    files = sorted(p for p in dst.rglob("*") if p.is_file())
    with Registry.open(registry) as reg:
        records = {}
        for concept in reg.concepts():
            records.update({r.out_path: r for r in reg.images_of(concept.name)})
        consistent = sum(
            1 for p in files
            if str(p) in records and hashlib.sha256(p.read_bytes()).hexdigest() == records[str(p)].out_sha256
        )  # fmt: skip
    under_dst = sum(1 for path in records if Path(path).is_relative_to(dst))
    return {
        "recorded_at_kill": at_kill, "rerun_exit": rerun.returncode, "rerun_summary": last,
        "files": len(files), "records": under_dst, "consistent": consistent,
        "ok": rerun.returncode == 0 and len(files) == total == under_dst == consistent and 0 < at_kill < total,
    }  # fmt: skip


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=200, help="files checked for attribution")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--no-resume-check", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "catalog.json")
    parser.add_argument("--child", choices=("plain", "mark"), help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dst", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--registry", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "plain":
            print(json.dumps(plain_pass(args.src, args.dst, args.jobs)))
        else:
            print(json.dumps(mark_pass(args.src, args.dst, args.registry, args.jobs)))
        return

    photos = args.photos if args.photos.is_dir() else ROOT / "tests" / "data"
    with tempfile.TemporaryDirectory(prefix="provmark-catalog-") as tmp:
        work = Path(tmp)
        src, registry = work / "src", work / "registry.db"
        started = time.perf_counter()
        make_catalog(src, args.count, held_out_photos(photos))
        print(f"catalog: {args.count} images in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with Registry.create(registry) as reg:
            reg.add([ConceptSpec(f"c{i:02d}", owner=f"contributor {i}") for i in range(CONCEPTS)])
        passes = {}
        for kind, jobs in (("plain", 1), ("mark", 1), ("plain", 2), ("mark", 2)):
            passes[f"{kind}_j{jobs}"] = run_child(kind, src, work / f"{kind}_j{jobs}", registry, jobs)
            print(f"{kind} -j {jobs}: {passes[f'{kind}_j{jobs}']['images_per_s']:.1f} images/s", file=sys.stderr)
        attributed = attribution(src, work / "mark_j1", registry, work, args.sample)
        resume = None if args.no_resume_check else kill_and_resume(src, work / "resumed", registry, args.count)

    ratios = {f"j{j}": passes[f"mark_j{j}"]["images_per_s"] / passes[f"plain_j{j}"]["images_per_s"] for j in (1, 2)}
    sizes = {"count": args.count, "long_side_px": [256, 1024], "formats": ["JPEG", "PNG", "WEBP"]}
    result = {
        "catalog": {**sizes, "concepts": CONCEPTS, "photos": str(photos)},
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "model": (ROOT / "provmark" / "models" / "weights" / "default.md").read_text().splitlines()[:3],
        "passes": passes, "throughput_ratio_mark_over_plain": ratios,
        "attribution_jpeg75": attributed, "kill_and_resume": resume,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"\n{'pass':<10} {'images/s':>9} {'peak RSS MB':>12} {'max proc MB':>12}")
    for name, p in passes.items():
        print(f"{name:<10} {p['images_per_s']:>9.1f} {p['peak_rss_mb']:>12.0f} {p['peak_process_rss_mb']:>12.0f}")
    print(f"mark/plain throughput ratio: -j1 {ratios['j1']:.2f}, -j2 {ratios['j2']:.2f}  (target >= 0.5)")
    a = attributed
    print(f"attribution after JPEG 75: {a['right']}/{a['sample']} right ({a['accuracy']:.1%}), "
          f"{a['wrong']} wrong, {a['missed']} missed; unmarked attributed: {a['unmarked_attributed']}/{a['sample']}")  # fmt: skip
    if resume is not None:
        print(f"kill and resume: killed at {resume['recorded_at_kill']}, {resume['records']} records for "
              f"{resume['files']} files, {resume['consistent']} matching: {'OK' if resume['ok'] else 'FAILED'}")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
