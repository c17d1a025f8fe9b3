"""Gather finished ProMark runs into ``benchmarks/promark/results.json`` and print the tables.

    .venv/bin/python -m benchmarks.promark.summary [RUN_DIR ...]

Default runs: ``run-lookalike32``, ``run-distinct32`` and ``run-lookalike64``; targets are
checked per resolution. The strength trade-off rows are the
``chan<A>`` variants (PSNR of the channel alone is ``20 log10(255 / A)``: every pixel moves by
+-A levels); every target of issue 5 is checked against the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from benchmarks.promark.pipeline import channel_amplitude

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = ("run-lookalike32", "run-distinct32", "run-lookalike64")


def load_runs(folders: list[Path]) -> dict[str, dict]:
    """``results.json`` of each run folder that has one, by folder name."""
    return {f.name: json.loads((f / "results.json").read_text()) for f in folders if (f / "results.json").exists()}


def rows(runs: dict[str, dict]) -> list[dict]:
    """One flat row per (run, variant): attribution, bits, baseline, quality relative to the control."""
    out = []
    for name, run in runs.items():
        control = run["variants"].get("control")
        for variant, r in run["variants"].items():
            amplitude = channel_amplitude(variant)
            row = {
                "run": name,
                "setting": run["config"]["setting"],
                "res": run["config"]["res"],
                "variant": variant,
                "steps": r["train_steps"],
                "channel_psnr_db": round(20 * math.log10(255 / amplitude), 1) if amplitude else None,
                "channel_top1": r["concept_channel"]["accuracy"],
                "channel_attributed": r["concept_channel"]["attributed"],
                "product_top1": r["product_mark"]["accuracy"],
                "product_attributed": r["product_mark"]["attributed"],
                "similarity_top1": r["similarity_baseline"]["accuracy"],
                "quality_fd": r["quality_fd"],
                "quality_patch_fd": r.get("quality_patch_fd"),
            }
            if control is not None:
                row["fd_vs_control"] = r["quality_fd"] / control["quality_fd"] - 1
                if "quality_patch_fd" in r and "quality_patch_fd" in control:
                    row["patch_fd_vs_control"] = r["quality_patch_fd"] / control["quality_patch_fd"] - 1
            out.append(row)
    return out


def targets(table: list[dict]) -> dict[str, dict]:
    """Issue 5's targets at each training resolution, each with the measured value and whether it is met."""
    out: dict[str, dict] = {}
    for res in sorted({r["res"] for r in table}):
        rows_at = [r for r in table if r["res"] == res]
        for setting, goal in (("lookalike", 0.90), ("distinct", 0.95)):
            chans = [r for r in rows_at if r["setting"] == setting and r["variant"].startswith("chan")]
            if chans:
                row = max(chans, key=lambda r: r["channel_top1"])
                out[f"{res}px {setting}_top1>={goal:.0%}"] = {"variant": row["variant"], "value": row["channel_top1"],
                                                             "met": row["channel_top1"] >= goal}
        controls = [r for r in rows_at if r["variant"] == "control"]
        if controls:
            worst = max(max(r["channel_attributed"], r["product_attributed"]) for r in controls)
            out[f"{res}px control_attributes_nothing"] = {"value": worst, "met": worst == 0}
        for key in ("fd_vs_control", "patch_fd_vs_control"):
            marked = [r for r in rows_at if r["variant"].startswith("chan") and key in r]
            if marked:
                worst = max(r[key] for r in marked)
                out[f"{res}px quality_{key}_within_10%"] = {"value": round(worst, 3), "met": worst <= 0.10}
    return out


def markdown(table: list[dict]) -> str:
    """The rows as a markdown table."""
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    lines = ["| setting | variant | steps | channel PSNR | channel top-1 / attributed | product mark top-1 | "
             "similarity top-1 | FD (vs control) | patch FD (vs control) |", "|" + "---|" * 9]
    for r in table:
        fd = f"{r['quality_fd']:.3f} ({r['fd_vs_control']:+.1%})" if "fd_vs_control" in r else f"{r['quality_fd']:.3f}"
        patch = "-"
        if r.get("quality_patch_fd") is not None:
            patch = f"{r['quality_patch_fd']:.4f}" + (f" ({r['patch_fd_vs_control']:+.1%})" if "patch_fd_vs_control" in r else "")
        psnr = "-" if r["channel_psnr_db"] is None else f"{r['channel_psnr_db']} dB"
        lines.append(f"| {r['setting']} {r['res']} px | {r['variant']} | {r['steps']} | {psnr} | {pct(r['channel_top1'])} / "
                     f"{pct(r['channel_attributed'])} | {pct(r['product_top1'])} | {pct(r['similarity_top1'])} | {fd} | {patch} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders (default: the committed runs)")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs or [HERE / name for name in DEFAULT_RUNS])
    table = rows(runs)
    summary = {"rows": table, "targets": targets(table), "runs": runs}
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(table))
    for name, target in summary["targets"].items():
        print(f"{name}: {target['value']} -> {'met' if target['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
