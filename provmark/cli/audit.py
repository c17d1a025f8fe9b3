"""``provmark audit``: did the model that generated these samples learn from the registry's concepts?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

import provmark
from provmark.api import ALL_SAMPLES, DEFAULT_GRID, MARKS
from provmark.cli.attribute import expand_inputs
from provmark.cli.common import EXIT_NEGATIVE, EXIT_OK, FailureLog, echo_json, one_line_errors
from provmark.cli.concepts import registry_option


def _table(report: provmark.AuditReport, show_all: bool) -> None:
    click.echo(f"{report.samples} samples, {report.tests} tests (concepts x groups), claim at p <= {report.threshold:g}")
    click.echo(f"{'concept':<24} {'group':<16} {'z':>6} {'p-value':>9} {'samples':>8} {'needed':>7}  learned")
    for r in report.results if show_all else report.learned() or report.results[:1]:
        needed = "-" if r.samples_needed is None else str(r.samples_needed)
        click.echo(
            f"{r.concept[:24]:<24} {r.group[:16]:<16} {r.z:6.2f} {r.p_value:9.1e} {r.samples:8d} {needed:>7}  "
            f"{'yes' if r.learned else 'no'}"
        )


@click.command()
@click.argument("samples", nargs=-1, required=True, type=click.Path(path_type=Path))
@registry_option
@click.option(
    "--group-by-folder",
    is_flag=True,
    help="Each sample's folder names its group (the prompt or class it was generated for); "
    "default: all samples form one group.",
)
@click.option("--channel-grid", type=click.IntRange(min=8), default=DEFAULT_GRID, show_default=True, metavar="N",
              help="Concept channel cells per side of the training copies.")
@click.option("--mark", type=click.Choice(MARKS), default="channel", show_default=True,
              help="Which training-copy mark to read: the concept channel (mark --channel) or the training "
              "mark (mark --training-mark).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG of the evidence per sample.")
@click.option("--all", "show_all", is_flag=True, help="List every concept and group, not only the learned ones.")
@one_line_errors
def audit(
    samples: tuple[Path, ...],
    registry_path: Path,
    group_by_folder: bool,
    channel_grid: int,
    mark: str,
    as_json: bool,
    plot: Path | None,
    show_all: bool,
) -> None:
    """Audit a model from SAMPLES... it generated (images or folders): which concepts did it learn?

    The concept channel (or, with --mark training, the training mark) of every sample is read and the evidence of all samples (of each group)
    is added up; a concept counts as learned when the family-wise p-value over all concepts and
    groups is at most 1e-6. Draw the samples from the model yourself: edited images cannot
    frame a model whose samples the auditor generates. Exit 0 if some concept was learned,
    3 if none, 1 if some sample could not be read.
    """
    paths = list(expand_inputs(samples))
    groups = [p.parent.name or ALL_SAMPLES for p in paths] if group_by_folder else None
    report = provmark.audit(paths, registry_path, groups=groups, channel_grid=channel_grid, mark=mark)
    failures = FailureLog(total=len(paths))
    for path, reason in report.failures:
        failures.record(path, reason)
    if as_json:
        echo_json(report.to_json())
    else:
        _table(report, show_all)
    if plot is not None:
        click.echo(f"plot: {report.save_plot(plot)}", err=True)
    sys.exit(failures.summary() or (EXIT_OK if report.learned() else EXIT_NEGATIVE))
