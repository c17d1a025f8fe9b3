"""Catalog runs: walk a source folder, mark every image into a mirror folder, record each one.

Memory stays flat in the catalog size: the walk is a generator and at most ``2 x jobs`` files
are in flight. A run is resumable: outputs are written atomically and recorded in the registry
right after, so an output whose record matches its source and its own size and mtime is
complete and skipped; anything else is marked again. Sources are only ever read.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from provmark.concepts.codebook import CodeBook
from provmark.concepts.layout import CHANNEL_REGION, TRAINING_REGION
from provmark.concepts.marker import MarkJob, MarkOptions, output_path
from provmark.concepts.pool import run_jobs
from provmark.concepts.records import Concept, ImageRecord
from provmark.concepts.registry import Registry
from provmark.concepts.sources import ConceptSource
from provmark.errors import OutputError, ProvmarkError
from provmark.io.atomic import sync_folder

#: File name endings treated as catalog images (content decides the format when read).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".avif", ".heic", ".heif", ".jxl")

#: A catalog run records its results in one transaction per this many files, or per this many seconds.
BATCH_RECORDS = 64
BATCH_SECONDS = 2.0

# Temporary files left by an atomic write that was killed: ".<name>.<8 random chars>.tmp".
_PARTIAL = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")


@dataclass
class Outcome:
    """What happened to one catalog file: ``status`` is "marked", "skipped" or "failed"."""

    rel: str
    status: str
    reason: str | None = None


@dataclass
class CatalogSummary:
    """Totals of a catalog run, and the failures as (relative path, reason)."""

    marked: int = 0
    skipped: int = 0
    ignored: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images(self) -> int:
        """Image files seen (marked, skipped or failed)."""
        return self.marked + self.skipped + len(self.failures)


def is_image_name(name: str) -> bool:
    """Whether a file name has one of :data:`IMAGE_SUFFIXES` (any case).

    >>> is_image_name("foxes/IMG_0001.JPG"), is_image_name("notes.txt")
    (True, False)
    """
    return name.lower().endswith(IMAGE_SUFFIXES)


def check_folders(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Resolve SRC and DST; refuse a missing SRC and any overlap (DST in SRC, SRC in DST, equal).

    >>> check_folders("catalog", "catalog/marked")  # doctest: +SKIP
    Traceback (most recent call last):
    provmark.errors.OutputError: catalog/marked: the output folder must be outside the source folder catalog (and not contain it)
    """
    source, dest = Path(src).resolve(), Path(dst).resolve()
    if not source.is_dir():
        raise OutputError(f"{src}: not a folder")
    if dest == source or dest.is_relative_to(source) or source.is_relative_to(dest):
        raise OutputError(f"{dst}: the output folder must be outside the source folder {src} (and not contain it)")
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{dst}: exists and is not a folder")
    return source, dest


def walk_catalog(root: Path, on_error: Callable[[str, str], None] | None = None) -> Iterator[str]:
    """Yield every file under ``root`` as a POSIX path relative to it, in sorted order, lazily.

    Hidden files and folders (names starting with ".") are skipped. A folder that cannot be
    listed is passed to ``on_error(relative path, reason)``.

    >>> list(walk_catalog(Path("catalog")))  # doctest: +SKIP
    ['owl/01.png', 'red-fox/01.jpg', 'red-fox/2024/02.jpg']
    """

    def failed(exc: OSError) -> None:
        if on_error is not None:
            rel = Path(exc.filename or root).relative_to(root).as_posix()
            on_error(rel, f"cannot list folder: {exc.strerror or exc}")

    for folder, dirs, files in os.walk(root, onerror=failed):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(folder).relative_to(root).as_posix()
        for name in sorted(f for f in files if not f.startswith(".")):
            yield name if base == "." else f"{base}/{name}"


def count_images(root: Path) -> int:
    """How many image files a run over ``root`` will look at.

    >>> count_images(Path("catalog"))  # doctest: +SKIP
    3
    """
    return sum(1 for rel in walk_catalog(root) if is_image_name(rel))


def clean_partial_outputs(dst: Path) -> int:
    """Delete temporary files a killed run left under ``dst``; return how many."""
    removed = 0
    if not dst.is_dir():
        return 0
    for folder, _, files in os.walk(dst):
        for name in files:
            match = _PARTIAL.match(name)
            if match and is_image_name(match.group(1)):
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed


def is_complete(
    record: ImageRecord | None, src: Path, out: Path, names: tuple[str, ...], layout: str, channel: bool = False,
    training: bool = False,
) -> bool:
    """Whether ``out`` is a finished mark of ``src`` with concepts ``names`` and, if ``channel``, the
    concept channel, if ``training``, the training mark (so a rerun skips it; the channel's amplitude
    and grid and the training mark's level are not recorded)."""
    if record is None or (CHANNEL_REGION in record.concepts) != channel:
        return False
    if (TRAINING_REGION in record.concepts) != training:
        return False
    marked = [n.casefold() for region, n in record.concepts.items() if region not in (CHANNEL_REGION, TRAINING_REGION)]
    if marked != [n.casefold() for n in names]:
        return False
    if layout != "auto" and record.layout != layout:
        return False
    try:
        s, o = src.stat(), out.stat()
    except OSError:
        return False
    same_src = (s.st_size, s.st_mtime_ns) == (record.src_size, record.src_mtime_ns)
    return same_src and (o.st_size, o.st_mtime_ns) == (record.out_size, record.out_mtime_ns)


def mark_catalog(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    registry: Registry,
    source: ConceptSource,
    options: MarkOptions = MarkOptions(),
    jobs: int = 1,
    on_outcome: Callable[[Outcome], None] | None = None,
    ray_address: str | None = None,
) -> CatalogSummary:
    """Mark every image under ``src`` into the same relative path under ``dst``; see the module doc.

    With ``ray_address`` (not None) the files are marked on a Ray cluster instead of ``jobs``
    local processes (see :mod:`provmark.cluster`; "" means ``RAY_ADDRESS`` or a local instance).

    >>> with Registry.open("catalog.db") as reg:  # doctest: +SKIP
    ...     summary = mark_catalog("catalog", "marked", reg, FolderConcepts(Path("catalog")), jobs=2)
    >>> summary.marked, summary.failures  # doctest: +SKIP
    (3, [])
    """
    root, dest = check_folders(src, dst)
    options = dataclasses.replace(options, variants=registry.variants)
    summary = CatalogSummary()
    started = time.perf_counter()
    concepts: dict[str, Concept] = {}

    def report(outcome: Outcome) -> None:
        if outcome.status == "failed":
            summary.failures.append((outcome.rel, outcome.reason or "failed"))
        else:
            setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
        if on_outcome is not None:
            on_outcome(outcome)

    def lookup(name: str) -> Concept:
        if name not in concepts:
            concepts[name] = registry.require(name)
        return concepts[name]

    def planned() -> Iterator[MarkJob]:
        for rel in walk_catalog(root, lambda rel, reason: report(Outcome(rel, "failed", reason))):
            if not is_image_name(rel):
                summary.ignored += 1
                continue
            src_path, out = root / rel, output_path(dest, rel)
            try:
                names = source.names_for(rel)
                found = [lookup(name) for name in names]
            except ProvmarkError as exc:
                report(Outcome(rel, "failed", str(exc)))
                continue
            names = tuple(c.name for c in found)
            record = registry.record_for_output(str(out))
            if is_complete(record, src_path, out, names, options.layout, options.channel is not None,
                           options.training_mark is not None):
                report(Outcome(rel, "skipped"))
                continue
            payloads = tuple(registry.payload(c) for c in found)
            yield MarkJob(rel, str(src_path), str(out), names, tuple(c.index for c in found), payloads)

    clean_partial_outputs(dest)
    codebook = CodeBook.from_registry(registry) if options.verify else None
    with RecordBatch(registry, dest, lambda rel: report(Outcome(rel, "marked"))) as batch:
        if ray_address is None:
            results = run_jobs(planned(), registry.watermark_key, options, jobs, codebook)
        else:
            from provmark.cluster import run_mark_jobs

            results = run_mark_jobs(planned(), registry.watermark_key, options, codebook, ray_address)
        for result in results:
            if result.record is not None:
                batch.add(result.rel, result.record)
            else:
                report(Outcome(result.rel, "failed", result.error))
    summary.seconds = time.perf_counter() - started
    return summary


class RecordBatch:
    """Results waiting to be recorded: flushed (outputs made durable, then one registry transaction)
    when the batch is as large as all recorded so far (1, 1, 2, 4, ... up to :data:`BATCH_RECORDS`:
    a short run records early) or older than :data:`BATCH_SECONDS`, and on leaving the ``with``
    block, also after an error or an interrupt. ``on_recorded(rel)`` is called once a result is recorded."""

    def __init__(self, registry: Registry, dest: Path, on_recorded: Callable[[str], None]) -> None:
        self.registry, self.dest, self.on_recorded = registry, dest, on_recorded
        self.pending: list[tuple[str, ImageRecord]] = []
        self.since = time.monotonic()
        self.recorded = 0

    def add(self, rel: str, record: ImageRecord) -> None:
        """Queue one result; flush when the batch is full or old."""
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append((rel, record))
        full = len(self.pending) >= min(BATCH_RECORDS, max(1, self.recorded))
        if full or time.monotonic() - self.since > BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Make the queued outputs durable and record them in one transaction."""
        if self.pending:
            sync_folder(self.dest)
            self.registry.record_images([record for _, record in self.pending])
            for rel, _ in self.pending:
                self.on_recorded(rel)
            self.recorded += len(self.pending)
        self.pending = []

    def __enter__(self) -> RecordBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
