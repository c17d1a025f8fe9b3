"""``provmark mark``: mark a whole catalog folder with concept codes."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click
from tqdm import tqdm

import provmark
from provmark.api import (
    DEFAULT_GRID,
    LAYOUTS,
    ConceptSource,
    CsvRowsError,
    FixedConcepts,
    FolderConcepts,
    MappedConcepts,
    MarkOptions,
    Outcome,
    check_folders,
    check_known,
    count_images,
    layout_size,
    mark_catalog,
    read_concept_map,
)
from provmark.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, one_line_errors, ray_option
from provmark.cli.concepts import registry_option


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(file_okay=False, path_type=Path))
@registry_option
@click.option("--concept", "concepts", multiple=True, help="Concept for every file; repeat for one per region.")
@click.option("--concept-map", type=click.Path(dir_okay=False, path_type=Path), help="CSV: path, concept (A;B per region).")
@click.option("--concept-from-dir", is_flag=True, help="Each file's concept is its top-level folder name.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True, help="Regions for several concepts.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@ray_option
@click.option("--quality", type=click.IntRange(1, 100), help="JPEG/WebP quality (default: the source's).")
@click.option("--strength", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option("--verify", is_flag=True, help="Decode each marked file before writing it; failures are not written.")
@click.option(
    "--channel",
    type=click.FloatRange(min=0, min_open=True),
    metavar="AMPLITUDE",
    help="Also add the concept channel at +-AMPLITUDE 8-bit levels, a pattern a generator trained on the "
    "images reproduces: for training copies delivered to model builders, not for display copies "
    "(at 8 it is visible as fine noise on flat areas). One concept per image.",
)
@click.option(
    "--channel-grid",
    type=click.IntRange(min=8),
    metavar="N",
    help=f"Concept channel cells per side (default {DEFAULT_GRID}): the resolution the buyer trains at, e.g. 32 or 64.",
)
@click.option(
    "--training-mark",
    type=click.FloatRange(min=0, max=8, min_open=True),
    metavar="LEVEL",
    help="Also add the invisible training mark (a keyed tone comb, LEVEL 8-bit levels at most, 2 gives "
    "~46 dB) that crops, flips and resizes cannot misalign; 'provmark audit --mark training' reads it "
    "in a generator's samples. One concept per image.",
)
@one_line_errors
def mark(
    src: Path,
    dst: Path,
    registry_path: Path,
    concepts: tuple[str, ...],
    concept_map: Path | None,
    concept_from_dir: bool,
    layout: str,
    jobs: int,
    quality: int | None,
    strength: float,
    verify: bool,
    channel: float | None,
    channel_grid: int | None,
    ray_address: str | None,
    training_mark: float | None,
) -> None:
    """Mark every image under SRC into the same relative path under DST.

    Formats, JPEG quality and chroma subsampling, and EXIF/ICC/XMP are kept; SRC is never written. Each output is
    recorded in the registry, so running the same command again after an interruption skips
    what is done. Exit 1 if some file failed (all are listed at the end).

    With --ray, the files are marked on a Ray cluster (SRC and DST at the same paths on every
    node; see the README) and recorded here.

    With --channel, images that are gray, palette or CMYK are written as RGB (the channel is
    colour; alpha is kept) and 16-bit images fail.
    """
    if sum((bool(concepts), concept_map is not None, concept_from_dir)) != 1:
        fail("give exactly one of --concept, --concept-map, --concept-from-dir", EXIT_USAGE)
    if concepts and layout_size(layout) not in (0, len(concepts)):
        fail(f"layout {layout} has {layout_size(layout)} regions but {len(concepts)} --concept given", EXIT_USAGE)
    if channel is None and channel_grid is not None:
        fail("--channel-grid needs --channel", EXIT_USAGE)
    if training_mark is not None and (len(concepts) > 1 or layout_size(layout) > 1):
        fail("--training-mark covers the whole image: give one concept per image (no several --concept, no region --layout)",
             EXIT_USAGE)  # fmt: skip
    if channel is not None and (len(concepts) > 1 or layout_size(layout) > 1):
        fail("--channel covers the whole image: give one concept per image (no several --concept, no region --layout)",
             EXIT_USAGE)  # fmt: skip
    root, _ = check_folders(src, dst)
    source: ConceptSource
    try:
        if concepts:
            source = FixedConcepts(concepts)
        elif concept_map is not None:
            source = MappedConcepts(read_concept_map(concept_map))
        else:
            source = FolderConcepts(root)
    except CsvRowsError as exc:
        for problem in exc.problems:
            click.echo(f"provmark: error: {concept_map}: {problem}", err=True)
        fail(str(exc))
    options = MarkOptions(layout=layout, quality=quality, strength=strength, verify=verify, channel=channel,
                         training_mark=training_mark)
    if channel_grid is not None:
        options = dataclasses.replace(options, channel_grid=channel_grid)
    with provmark.Registry.open(registry_path) as reg:
        check_known(reg, source)
        bar = tqdm(total=count_images(root), unit="img", file=sys.stderr, dynamic_ncols=True, disable=None)

        def show(outcome: Outcome) -> None:
            if outcome.status == "failed":
                tqdm.write(f"provmark: error: {outcome.rel}: {outcome.reason}", file=sys.stderr)
            bar.update(1)

        try:
            summary = mark_catalog(root, dst, reg, source, options, jobs, show, ray_address)
        except KeyboardInterrupt:
            bar.close()
            fail("interrupted: run the same command again to resume", 130)
        bar.close()
    if isinstance(source, MappedConcepts):
        summary.failures += [(rel, "listed in the concept map but not found in SRC") for rel in source.missing()]
    rate = summary.marked / summary.seconds if summary.seconds else 0.0
    click.echo(
        f"provmark: {summary.marked} marked, {summary.skipped} already marked (skipped), "
        f"{len(summary.failures)} failed, {summary.ignored} non-image file(s) ignored; "
        f"{summary.seconds:.1f} s ({rate:.1f} images/s)",
        err=True,
    )
    if summary.failures:
        click.echo(f"provmark: {len(summary.failures)} file(s) failed:", err=True)
        for rel, reason in summary.failures:
            click.echo(f"  {rel}: {reason}", err=True)
    sys.exit(EXIT_FAILED if summary.failures else EXIT_OK)
