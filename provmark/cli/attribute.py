"""``provmark attribute``: which registered concepts images carry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

import provmark
from provmark.api import DEFAULT_GRID, attribute_on_ray, is_image_name, walk_catalog
from provmark.cli.common import EXIT_NEGATIVE, EXIT_OK, EXIT_USAGE, FailureLog, echo_json, fail, one_line_errors, ray_option
from provmark.cli.concepts import registry_option
from provmark.errors import ProvmarkError


def expand_inputs(paths: tuple[Path, ...]) -> Iterator[Path]:
    """The files given, with folders replaced by the images under them (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from (path / rel for rel in walk_catalog(path) if is_image_name(rel))
        else:
            yield path


def _attribute(path: Path, registry: provmark.Registry, grid: int | None, training: bool) -> provmark.AttributionReport:
    try:
        return provmark.attribute(path, registry, channel_grid=grid, training_mark=training)
    except ProvmarkError as exc:
        return provmark.AttributionReport(str(path), error=str(exc))


def _row(report: provmark.AttributionReport) -> str:
    if report.error is not None:
        return f"{report.path}  error: {report.error}"
    if not report.concepts:
        return f"{report.path}  -"
    found = "; ".join(f"{c.name} ({c.region}, {c.confidence:.0%}, p={c.p_value:.1e})" for c in report.concepts)
    return f"{report.path}  {found}"


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@registry_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: path, concepts, ...")
@click.option(
    "--channel",
    is_flag=True,
    help="Also read the concept channel (region \"channel\"), e.g. in a generator's output after training "
    "on copies marked with 'provmark mark --channel'.",
)
@click.option(
    "--channel-grid",
    type=click.IntRange(min=8),
    metavar="N",
    help=f"Concept channel cells per side the copies were marked with (default {DEFAULT_GRID}).",
)
@click.option(
    "--training-mark",
    is_flag=True,
    help="Also read the training mark (region \"training-mark\", 'provmark mark --training-mark'). One image "
    "alone never names a concept by it (z of 2 to 4 where 1e-6 needs 5.7): to test a generator, "
    "use 'provmark audit --mark training' on many samples.",
)
@ray_option
@one_line_errors
def attribute(
    inputs: tuple[Path, ...],
    registry_path: Path,
    as_json: bool,
    channel: bool,
    channel_grid: int | None,
    training_mark: bool,
    ray_address: str | None,
) -> None:
    """Attribute images (or folders of images) IN... to the registry's concepts.

    Each concept found is given with its region, confidence (share of code bits read right)
    and p-value (chance of a false attribution, at most 1e-6 with or without --channel and
    --training-mark: these whole-image marks share half of the budget, the regions the other half).
    With --ray the files are read on a Ray cluster (the same paths on every node).
    Exit 0 if every input carries a concept, 3 if some carries none, 1 if some could not be read.
    """
    if channel_grid is not None and not channel:
        fail("--channel-grid needs --channel", EXIT_USAGE)
    grid = (channel_grid or DEFAULT_GRID) if channel else None
    failures = FailureLog()
    unattributed = 0
    with provmark.Registry.open(registry_path) as reg:
        if not as_json:
            click.echo("path  concepts (region, confidence, p-value)")
        reports: Iterator[provmark.AttributionReport]
        if ray_address is None:
            reports = (_attribute(path, reg, grid, training_mark) for path in expand_inputs(inputs))
        else:
            reports = attribute_on_ray(expand_inputs(inputs), reg, grid, ray_address, training_mark)
        for report in reports:
            failures.total += 1
            if report.error is not None:
                failures.record(report.path, report.error)
            unattributed += report.error is None and not report.concepts
            if as_json:
                echo_json(report.to_json())
            else:
                click.echo(_row(report))
    sys.exit(failures.summary() or (EXIT_NEGATIVE if unattributed else EXIT_OK))
