"""One command for the ProMark experiment: data, marking, training, sampling, attribution, report.

    python -m benchmarks.promark.run --out runs/promark-lookalike --setting lookalike --jobs 2
    python -m benchmarks.promark.run --out runs/promark-lookalike --resume --steps 6000   # continue
    python -m benchmarks.promark.run --smoke --out /tmp/promark-smoke                    # CI check

Every stage skips finished work; ``--resume`` continues a run from its folder (config.json and
checkpoints), optionally raising ``--steps``. ``--minutes`` caps this invocation's training time
per variant (the checkpoint is kept, the run evaluates what it has).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks.promark import pipeline, report
from benchmarks.promark.pipeline import RunConfig

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
TEST_DATA = HERE.parents[1] / "tests" / "data"


def smoke_config() -> RunConfig:
    """A few concepts and steps from the bundled test photos: minutes of CPU, not hours."""
    return RunConfig(setting="lookalike", data=str(TEST_DATA), concepts=3, per_concept=6, res=16, strength=1.0,
                     variants=["control", "chan12"], steps=4, samples=4, ddim_steps=4, widths=(16, 32), batch=8)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--smoke", action="store_true", help="tiny run on tests/data (CI)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out with its config.json")
    p.add_argument("--setting", choices=("lookalike", "distinct"), default="lookalike")
    p.add_argument("--data", type=Path, help="../shared/data (default) or a folder of photos")
    p.add_argument("--concepts", type=int, default=8)
    p.add_argument("--per-concept", type=int, default=200)
    p.add_argument("--res", type=int, default=32, help="training resolution (px)")
    p.add_argument("--strength", type=float, default=1.0, help="product mark strength (provmark mark)")
    p.add_argument("--variants", help="control, mark, chan<A>, comma-separated (default control,chan8)")
    p.add_argument("--steps", type=int, help="training steps per variant (default 3000)")
    p.add_argument("--samples", type=int, default=50, help="samples per concept")
    p.add_argument("--ddim-steps", type=int, default=50)
    p.add_argument("--minutes", type=float, help="cap on this invocation's training time per variant")
    p.add_argument("--jobs", type=int, default=2, help="variants trained in parallel (one torch thread each)")
    p.add_argument("--ceiling", type=int, default=80, help="training images checked per variant for the data ceiling")
    p.add_argument("--data-only", action="store_true", help="stop after data, marking and the data ceiling")
    p.add_argument("--train-only", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def load_config(args: argparse.Namespace) -> RunConfig:
    """The run's config: from --out/config.json with --resume, else from the arguments."""
    path = args.out / "config.json"
    if args.resume or args.train_only:
        if not path.exists():
            sys.exit(f"promark: {path} not found: nothing to resume")
        saved = json.loads(path.read_text())
        saved["widths"] = tuple(saved["widths"])
        cfg = RunConfig(**saved)
        cfg.steps = args.steps or cfg.steps
        cfg.data = str(args.data or cfg.data)  # the data may live elsewhere on the resuming machine
        cfg.variants = args.variants.split(",") if args.variants else cfg.variants
    elif path.exists():
        sys.exit(f"promark: {args.out} holds a run already: use --resume, or another --out")
    elif args.smoke:
        cfg = smoke_config()
    else:
        variants = (args.variants or "control,chan8").split(",")
        cfg = RunConfig(setting=args.setting, data=str(args.data or SHARED), concepts=args.concepts,
                        per_concept=args.per_concept, res=args.res, strength=args.strength, variants=variants,
                        steps=args.steps or 3000, samples=args.samples, ddim_steps=args.ddim_steps)
    if not args.train_only:  # children read it concurrently: only the parent writes
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    return cfg


def log(out: Path, message: str) -> None:
    """Print and append to ``progress.log``."""
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with (out / "progress.log").open("a") as f:
        f.write(line + "\n")


def train_all(cfg: RunConfig, args: argparse.Namespace, names: list[str]) -> None:
    """Train every variant, ``--jobs`` at a time in child processes (one torch thread each)."""
    pending = list(cfg.variants)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    base = [sys.executable, "-m", "benchmarks.promark.run", "--out", str(args.out), "--train-only"]
    extra = ["--minutes", str(args.minutes)] if args.minutes else []
    while pending or running:
        while pending and len(running) < max(1, args.jobs):
            variant = pending.pop(0)
            log(args.out, f"training {variant} to step {cfg.steps}, then sampling {cfg.samples} per concept")
            running.append((variant, subprocess.Popen([*base, variant, *extra], cwd=HERE.parents[1])))
        time.sleep(0.5)
        for item in list(running):
            if item[1].poll() is not None:
                running.remove(item)
                if item[1].returncode != 0:
                    sys.exit(f"promark: training {item[0]} failed (exit {item[1].returncode})")
                log(args.out, f"trained {item[0]}")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    cfg = load_config(args)
    torch.set_num_threads(1)
    if args.train_only:
        names = sorted(json.loads((args.out / "concepts.json").read_text()))
        step = pipeline.train_variant(cfg, args.out, names, args.train_only, args.minutes)
        pipeline.sample_variant(cfg, args.out, names, args.train_only)  # here, so variants sample in parallel
        print(f"{args.train_only}: step {step}, sampled", flush=True)
        return
    log(args.out, f"data: {cfg.setting}, {cfg.concepts} concepts x {cfg.per_concept}, marking at strength {cfg.strength}")
    names = pipeline.prepare_data(cfg, args.out, args.jobs)
    (args.out / "concepts.json").write_text(json.dumps(names) + "\n")
    for variant in cfg.variants:
        pipeline.training_images(cfg, args.out, names, variant)
    ceiling_file = args.out / "ceiling.json"
    known = {c["variant"]: c for c in json.loads(ceiling_file.read_text())} if ceiling_file.exists() else {}
    ceiling = [known.get(v) or pipeline.data_ceiling(cfg, args.out, names, v, args.ceiling) for v in cfg.variants]
    ceiling_file.write_text(json.dumps(ceiling, indent=2) + "\n")
    log(args.out, f"data ceiling: {json.dumps(ceiling)}")
    if args.data_only:
        return
    train_all(cfg, args, names)
    results = {"config": asdict(cfg), "concepts": names, "data_ceiling": ceiling, "variants": {}}
    for variant in cfg.variants:
        folder = pipeline.sample_variant(cfg, args.out, names, variant)
        results["variants"][variant] = scores = pipeline.evaluate_variant(cfg, args.out, names, variant, folder)
        log(args.out, f"{variant}: product {scores['product_mark']['accuracy']:.1%}, channel "
            f"{scores['concept_channel']['accuracy']:.1%}, similarity {scores['similarity_baseline']['accuracy']:.1%}, "
            f"FD {scores['quality_fd']:.3f}")
        report.confusion_png(scores["concept_channel"]["confusion"], names, args.out / f"confusion-{variant}-channel.png")
    report.write_json(results, args.out / "results.json")
    (args.out / "table.md").write_text(report.table(results) + "\n\n" + report.ceiling_table(ceiling) + "\n")
    report.sample_grid({v: args.out / "samples" / f"{v}.pt" for v in cfg.variants}, len(names), cfg.samples,
                       args.out / "samples.png")
    log(args.out, "done: results.json, table.md, samples.png, confusion-*.png")


if __name__ == "__main__":
    main()
