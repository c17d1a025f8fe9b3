"""Catalog marking benchmark: ``provmark mark`` against plain decode+encode, per image size, in one run.

Builds catalogs at 640 px, 1024 px, 2048 px and 8K (7680x4320) long side from the shared photos
and concept images (resized copies, 60% JPEG q90 and 40% PNG, in 5 concept folders), then runs,
over the same files, each pass in a child process whose peak RSS is sampled (whole process
tree, and the largest single process = peak memory per worker):

- plain PIL: decode + encode in the same format and quality + atomic write (what a re-save costs),
  with 1 and 2 processes; plain OpenCV (imread + imwrite) with 1 process, when installed;
- ``mark_catalog`` (the library behind ``provmark mark --concept-from-dir``) with -j 1, -j 2, and
  on a local Ray instance with 2 CPUs (``--ray``; Ray's start-up is timed apart); the rate counts
  the model load and worker start, the steady rate only the files after each worker's first;
- attribution of the marked files, per image, model load excluded (and whether each is
  attributed to its folder's concept), and of a few unmarked sources (every reading stage and
  the alignment searches run there, so they cost far more).

Ratios measured in the same run are what count: the machine may be shared, and the load
average and ``uptime`` at start and end are recorded.

    nice .venv/bin/python -m benchmarks.catalog [--scale 1.0] [--sizes 640,1024,2048,8K] [--no-ray]

Writes benchmarks/results/catalog.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

import provmark
from provmark.api import ConceptSpec, FolderConcepts, MarkOptions, Registry, is_image_name, mark_catalog, walk_catalog
from provmark.io import encode_like, load_image, write_bytes_atomic  # the plain pass encodes exactly as mark does

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
CONCEPTS = ("fishes", "monuments", "others", "renewable", "tools")
#: Long side (px) -> files at scale 1.
SIZES = {"640": (640, 40), "1024": (1024, 20), "2048": (2048, 12), "8K": (7680, 3)}


def source_images() -> list[Path]:
    """The shared photos and concept images (tests/data when the shared data is absent)."""
    found = sorted(p for folder in (DATA / "photos", DATA / "concepts") if folder.is_dir()
                   for p in folder.rglob("*") if is_image_name(p.name))  # fmt: skip
    return found or sorted((ROOT / "tests" / "data").glob("*.jpg"))


def make_catalog(dst: Path, side: int, count: int, sources: list[Path]) -> None:
    """``count`` resized copies (long side ``side``; 8K is 7680x4320) under ``dst/<concept>/``."""
    for i in range(count):
        image = Image.open(sources[(i * 7 + side) % len(sources)]).convert("RGB")
        if side == 7680:
            image = image.resize((7680, 4320), Image.Resampling.BICUBIC)
        else:
            scale = side / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        folder = dst / CONCEPTS[i % len(CONCEPTS)]
        folder.mkdir(parents=True, exist_ok=True)
        if i % 5 < 3:
            image.save(folder / f"img{i:03d}.jpg", quality=90)
        else:
            image.save(folder / f"img{i:03d}.png")


# --- passes (each runs in a child process) -------------------------------------------------


def _files(src: Path) -> list[str]:
    return [rel for rel in walk_catalog(src) if is_image_name(rel)]


def _plain_pil(args: tuple[str, str]) -> int:
    src, out = args
    loaded = load_image(src)
    write_bytes_atomic(out, encode_like(loaded.image, loaded))
    return 1


def _plain_cv2(args: tuple[str, str]) -> int:
    import cv2

    src, out = args
    image = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if out.endswith(".jpg") else []
    return int(cv2.imwrite(out, image, params))


def plain_pass(kind: str, src: Path, dst: Path, jobs: int) -> dict[str, float]:
    """Decode and re-encode every image with PIL (as provmark writes) or OpenCV."""
    import multiprocessing

    one = _plain_pil if kind == "pil" else _plain_cv2
    tasks = [(str(src / rel), str(dst / rel)) for rel in _files(src)]
    started = time.perf_counter()
    if jobs == 1:
        done = sum(map(one, tasks))
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:  # started like mark's workers
            done = sum(pool.imap_unordered(one, tasks))
    return {"images": done, "seconds": time.perf_counter() - started}


def mark_pass(src: Path, dst: Path, registry: Path, jobs: int, ray: bool) -> dict[str, float]:
    """Mark every image with its folder's concept through the library (locally or on Ray)."""
    extra: dict[str, float] = {}
    if ray:
        import ray as ray_module

        started = time.perf_counter()
        ray_module.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        extra["ray_start_seconds"] = time.perf_counter() - started
    done: list[float] = []  # when each file was reported
    with Registry.open(registry) as reg:
        summary = mark_catalog(src, dst, reg, FolderConcepts(src), MarkOptions(), jobs,
                               lambda _: done.append(time.perf_counter()), "" if ray else None)  # fmt: skip
    if len(done) > jobs:  # after each worker's first file: without the model load and worker start
        extra["steady_images_per_s"] = (len(done) - jobs) / (done[-1] - done[jobs - 1])
    return {"images": summary.marked, "failed": len(summary.failures), "seconds": summary.seconds, **extra}


def attribute_pass(marked: Path, registry: Path, limit: int = 0) -> dict[str, float]:
    """Attribute every marked file, or the first ``limit`` (decode included, model load excluded);
    count those attributed to their folder's concept alone."""
    import torch

    torch.set_num_threads(1)  # one core, as the target says
    files = _files(marked)[: limit or None]
    with Registry.open(registry) as reg:
        provmark.attribute(marked / files[0], reg)  # loads the model
        right, started = 0, time.perf_counter()
        for rel in files:
            hits = provmark.attribute(marked / rel, reg).concepts
            right += [h.name for h in hits] == [rel.split("/")[0]]
        seconds = time.perf_counter() - started
    return {"images": len(files), "right": right, "seconds": seconds}


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


def run_child(args: list[str]) -> dict[str, float]:
    """Run one pass in a child process; add its peak tree and single-process RSS (MB)."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.catalog", "--child", *args], stdout=subprocess.PIPE, cwd=ROOT)
    peaks = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            total, single = _tree_rss(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], single)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"pass {args} failed with exit code {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update(peak_rss_mb=peaks[0] / 2**20, peak_process_rss_mb=peaks[1] / 2**20)
    result["images_per_s"] = result["images"] / result["seconds"]
    return result


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (pool workers; not Ray's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child(args: argparse.Namespace) -> None:
    """Run one pass; add the CPU seconds it took (on a shared machine: whether a second worker
    adds work or only waits for a core)."""
    kind, src, dst = args.child, Path(args.src), Path(args.dst)
    cpu = _cpu_seconds()
    if kind in ("pil", "cv2"):
        result = plain_pass(kind, src, dst, args.jobs)
    elif kind == "attribute":
        result = attribute_pass(src, Path(args.registry), args.jobs)
    else:
        result = mark_pass(src, dst, Path(args.registry), args.jobs, kind == "ray")
    result["cpu_seconds"] = _cpu_seconds() - cpu
    print(json.dumps(result))


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of files per size")
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated subset of " + ",".join(SIZES))
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--unmarked", type=int, default=2, help="unmarked files attributed per size (slow: searches)")
    parser.add_argument("--out", type=Path, default=RESULTS / "catalog.json")
    for name in ("child", "src", "dst", "registry"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    try:
        import cv2  # noqa: F401

        has_cv2 = True
    except ImportError:
        has_cv2 = False
    try:
        import ray  # noqa: F401

        has_ray = not args.no_ray
    except ImportError:
        has_ray = False
    load_start, uptime_start = os.getloadavg(), _uptime()
    sources = source_images()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="provmark-catalog-") as tmp:
        work = Path(tmp)
        registry = work / "registry.db"
        with Registry.create(registry) as reg:
            reg.add([ConceptSpec(name) for name in CONCEPTS])
        for size in args.sizes.split(","):
            side, count = SIZES[size]
            src = work / size / "src"
            make_catalog(src, side, max(1, round(count * args.scale)), sources)
            passes = [("pil", 1), ("pil", 2)] + ([("cv2", 1)] if has_cv2 else [])
            passes += [("mark", 1), ("mark", 2)] + ([("ray", 2)] if has_ray else [])
            results[size] = {}
            for kind, jobs in passes:
                name = f"{kind}_j{jobs}" if kind != "ray" else "ray"
                cmd = [kind, "--src", str(src), "--dst", str(work / size / name), "--registry", str(registry)]
                results[size][name] = run_child([*cmd, "--jobs", str(jobs)])
                print(f"{size} {name}: {results[size][name]['images_per_s']:.2f} images/s", file=sys.stderr)
            readings = [("attribute", "mark_j1", 0)]
            readings += [("attribute_unmarked", "src", args.unmarked)] if args.unmarked else []
            for name, folder, limit in readings:  # limit 0: every file
                where = ["--src", str(work / size / folder), "--dst", "-", "--registry", str(registry)]
                results[size][name] = run_child(["attribute", *where, "--jobs", str(limit)])
                print(f"{size} {name}: {results[size][name]['images_per_s']:.2f} images/s", file=sys.stderr)
    summary = {
        size: {
            "mark_j1_over_pil_j1": r["mark_j1"]["images_per_s"] / r["pil_j1"]["images_per_s"],
            "mark_j2_over_mark_j1": r["mark_j2"]["images_per_s"] / r["mark_j1"]["images_per_s"],
            **({"steady_mark_j1_over_pil_j1": r["mark_j1"]["steady_images_per_s"] / r["pil_j1"]["images_per_s"],
                "steady_mark_j2_over_mark_j1": r["mark_j2"]["steady_images_per_s"] / r["mark_j1"]["steady_images_per_s"]}
               if "steady_images_per_s" in r["mark_j1"] and "steady_images_per_s" in r["mark_j2"] else {}),
            "mark_j2_over_pil_j2": r["mark_j2"]["images_per_s"] / r["pil_j2"]["images_per_s"],
            **({"ray_over_mark_j1": r["ray"]["images_per_s"] / r["mark_j1"]["images_per_s"]} if "ray" in r else {}),
            "attribute_ms_per_image": 1000 * r["attribute"]["seconds"] / r["attribute"]["images"],
            **({"attribute_unmarked_ms_per_image": 1000 * r["attribute_unmarked"]["seconds"]
                / r["attribute_unmarked"]["images"]} if "attribute_unmarked" in r else {}),  # fmt: skip
        }
        for size, r in results.items()
    }
    result = {
        "machine": {
            "cpus": os.cpu_count(), "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "uptime_start": uptime_start, "uptime_end": _uptime(),
        },
        "catalog": {size: {"long_side_px": SIZES[size][0], "files": r["mark_j1"]["images"]} for size, r in results.items()},
        "passes": results,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"wrote {args.out}")


def _uptime() -> str:
    """``uptime``'s line (the machine's load as people read it), or "" where it is missing."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def print_table(result: dict) -> None:
    print(f"\n{'size':<5} {'pass':<18} {'images/s':>9} {'CPU s':>7} {'peak tree MB':>13} {'peak worker MB':>15}")
    for size, passes in result["passes"].items():
        for name, p in passes.items():
            print(f"{size:<5} {name:<18} {p['images_per_s']:>9.2f} {p['cpu_seconds']:>7.1f} "
                  f"{p['peak_rss_mb']:>13.0f} {p['peak_process_rss_mb']:>15.0f}")  # fmt: skip
    print(f"\n{'size':<5} {'mark/PIL -j1':>12} {'-j2/-j1':>8} {'steady':>13} {'mark/PIL -j2':>12} {'ray/-j1':>8} "
          f"{'attribute ms':>13} {'unmarked ms':>12}")  # fmt: skip
    for size, s in result["summary"].items():
        ray = f"{s['ray_over_mark_j1']:.2f}" if "ray_over_mark_j1" in s else "-"
        unmarked = f"{s['attribute_unmarked_ms_per_image']:.0f}" if "attribute_unmarked_ms_per_image" in s else "-"
        steady = (f"{s['steady_mark_j1_over_pil_j1']:.2f} / {s['steady_mark_j2_over_mark_j1']:.2f}"
                  if "steady_mark_j1_over_pil_j1" in s else "-")  # fmt: skip
        print(f"{size:<5} {s['mark_j1_over_pil_j1']:>12.2f} {s['mark_j2_over_mark_j1']:>8.2f} {steady:>13} "
              f"{s['mark_j2_over_pil_j2']:>12.2f} {ray:>8} {s['attribute_ms_per_image']:>13.0f} {unmarked:>12}")  # fmt: skip
    print("steady: mark/PIL -j1 and -j2/-j1 after each worker's first file")
    m = result["machine"]
    print(f"load average: start {m['load_average_start'][0]:.1f}, end {m['load_average_end'][0]:.1f} ({m['cpus']} CPUs)")
    print(f"uptime: start '{m['uptime_start']}', end '{m['uptime_end']}'")


if __name__ == "__main__":
    main()
