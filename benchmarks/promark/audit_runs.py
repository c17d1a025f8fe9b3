"""Model audits of the shipped ProMark generators: does `provmark audit` find what each model learned?

    .venv/bin/python -m benchmarks.promark.audit_runs [--per-concept 12] [--extra 100]

For every run folder's shipped ``generator.pt`` (control and concept-channel variants), draw
``--per-concept`` samples per class with fresh seeds (the auditor's own draws), and audit them
against the run's registry, grouped by class and as one pool. Partial null: the same samples
against a copy of the registry with ``--extra`` concepts no model was trained on; none of those
may be claimed. Writes ``benchmarks/promark/audit.json`` and a plot per marked model, prints a table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.promark import diffusion
from benchmarks.promark.pipeline import MARK_SIZE, RunConfig, to_images
from provmark import AuditReport, ConceptSpec, Registry, audit

HERE = Path(__file__).resolve().parent
RUNS = ("run-lookalike32", "run-distinct32", "run-lookalike64")
AUDIT_SEED = 1000  # not the evaluation seed: the auditor's own draws


def draw(generator: Path, classes: int, per_class: int, res: int) -> tuple[list, list[int]]:
    """``per_class`` samples of every class, upsampled to the mark's minimum side."""
    labels = torch.arange(classes).repeat(per_class)  # interleaved: any prefix covers every class
    batch = diffusion.ddim_sample(diffusion.load_ema(generator), labels, res, 50, seed=AUDIT_SEED)
    images = [im.resize((MARK_SIZE, MARK_SIZE), 3) for im in to_images(batch)]
    return images, labels.tolist()


def summarise(report: AuditReport, names: list[str]) -> dict:
    """Learned concepts (with z, p, samples needed) and the strongest claim on anything else."""
    learned = report.learned()
    return {
        "learned": [
            {"concept": r.concept, "group": r.group, "z": round(r.z, 2), "p_value": r.p_value,
             "samples_needed": r.samples_needed, "group_samples": r.samples}
            for r in learned
        ],
        "trained_concepts_found": sorted({r.concept for r in learned} & set(names)),
        "wrong_group_claims": sum(1 for r in learned if r.group not in ("all", r.concept)),
        "extra_concepts_claimed": sorted({r.concept for r in learned} - set(names)),
        "samples": report.samples,
        "tests": report.tests,
    }


def audit_run(run: Path, per_class: int, extra: int, scratch: Path) -> dict:
    cfg = RunConfig(**json.loads((run / "config.json").read_text()))
    names = json.loads((run / "concepts.json").read_text())
    wide = scratch / f"{run.name}-wide.db"
    shutil.copy(run / "registry.db", wide)
    with Registry.open(wide) as reg:
        reg.add([ConceptSpec(f"unused{i:03d}") for i in range(extra)])
    out = {}
    for variant in cfg.variants:
        generator = run / "models" / variant / diffusion.GENERATOR
        if not generator.exists():
            continue
        start = time.monotonic()
        images, labels = draw(generator, len(names), per_class, cfg.res)
        groups = [names[label] for label in labels]
        row = {"samples": len(images), "sample_seconds": round(time.monotonic() - start, 1)}
        with Registry.open(run / "registry.db") as reg:
            grouped = audit(images, reg, groups=groups, channel_grid=cfg.res)
            pooled = audit(images, reg, channel_grid=cfg.res)
        partial = audit(images, wide, groups=groups, channel_grid=cfg.res)
        row |= {"by_class": summarise(grouped, names), "pooled": summarise(pooled, names),
                f"by_class_with_{extra}_unused": summarise(partial, names)}
        if variant != "control":
            grouped.save_plot(HERE / f"audit-{run.name}-{variant}.png")
        out[variant] = row
        found = row["by_class"]["trained_concepts_found"]
        needed = [r["samples_needed"] for r in row["by_class"]["learned"]]
        print(f"{run.name:<16} {variant:<8} {len(images):>7} {len(found):>5}/{len(names)} "
              f"{max(needed) if needed else '-':>10} {len(row['pooled']['trained_concepts_found']):>6} "
              f"{len(row[f'by_class_with_{extra}_unused']['extra_concepts_claimed']):>7} "
              f"{row['by_class']['wrong_group_claims']:>6}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-concept", type=int, default=12)
    parser.add_argument("--extra", type=int, default=100)
    parser.add_argument("runs", nargs="*", default=list(RUNS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'run':<16} {'variant':<8} {'samples':>7} {'found':>7} {'max needed':>10} {'pooled':>6} "
          f"{'extra':>7} {'wrong':>6}")
    target = HERE / "audit.json"
    results = json.loads(target.read_text()) if target.exists() else {"runs": {}}  # other runs are kept
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.runs:
            run = audit_run(HERE / name, args.per_concept, args.extra, Path(scratch))
            results["runs"][name] = {"per_concept": args.per_concept, "extra_unused_concepts": args.extra} | run
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
