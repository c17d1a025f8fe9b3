"""Batch jobs on a Ray cluster: ``provmark mark|attribute|verify --ray [ADDRESS]``.

The driver (the command you run) walks the inputs, sends files to Ray tasks a few at a time
and gets back results: marking records, attribution or verification reports. Workers read
and write through the paths they are given, so every node must see the same paths (a shared
file system mounted at the same place). Only the driver touches the registry: it records
each batch of results once, after the workers made the outputs durable, so a killed job
resumes like a local one. A Ray worker process loads the model once and keeps it for the
tasks after. Ray is the optional extra ``provmark[ray]``.

``ADDRESS`` is what ``ray.init`` takes: ``auto`` (the cluster this machine joined with
``ray start``), ``HOST:6379``, or ``ray://HOST:10001``; without one, ``RAY_ADDRESS`` or else a
Ray instance started for the job on this machine.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from provmark.errors import ClusterError, ProvmarkError

if TYPE_CHECKING:
    from provmark.concepts.codebook import CodeBook
    from provmark.concepts.marker import MarkJob, MarkOptions, MarkResult
    from provmark.concepts.records import Concept
    from provmark.concepts.registry import Registry
    from provmark.detect.attribution import AttributionReport
    from provmark.detect.verify import VerifyOptions
    from provmark.detect.report import VerificationReport

#: Files per Ray task: a task costs about a millisecond to schedule, a file tens of them.
FILES_PER_TASK = 4

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def connect(address: str | None) -> Iterator[Any]:
    """The ``ray`` module, connected to the cluster at ``address`` ("" or None: ``RAY_ADDRESS``, else a
    local instance); an existing connection of this process is used as it is."""
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed: pip install 'provmark[ray]'") from None
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=address or None, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "a local instance"
        raise ClusterError(f"cannot start or reach the Ray cluster ({where}): {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _one_torch_thread() -> None:
    """Parallelism comes from Ray's worker processes: torch runs on one thread in each (when loaded)."""
    if "torch" in sys.modules:
        from provmark.models.threads import use_one_thread

        use_one_thread()


def _mark_batch(jobs: list[MarkJob], key: bytes, options: MarkOptions, codebook: CodeBook | None) -> list[MarkResult]:
    from provmark.concepts.marker import mark_file
    from provmark.io.atomic import sync_folder

    results = []
    for job in jobs:
        results.append(mark_file(job, key, options, codebook))
        _one_torch_thread()
    written = [job.out for job, result in zip(jobs, results) if result.record is not None]
    if written:  # durable before the driver records them (outputs are written without fsync)
        sync_folder(os.path.dirname(written[0]))
    return results


def _failed_batch(ray: Any, exc: BaseException) -> str:
    if isinstance(exc, ray.exceptions.RayTaskError):
        return f"a Ray task failed: {str(exc).splitlines()[-1] if str(exc) else type(exc).__name__}"
    return f"a Ray worker died with this file in flight ({type(exc).__name__})"


def run_mark_jobs(
    jobs: Iterator[MarkJob], key: bytes, options: MarkOptions, codebook: CodeBook | None, address: str | None
) -> Iterator[MarkResult]:
    """Mark ``jobs`` on the cluster, yielding results as tasks finish (at most two tasks per CPU in flight)."""
    from provmark.concepts.marker import MarkResult

    with connect(address) as ray:
        task = ray.remote(num_cpus=1, max_retries=1)(_mark_batch)
        shared = (ray.put(key), ray.put(options), ray.put(codebook))
        window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        pending: dict[Any, list[MarkJob]] = {}
        batches = iter(lambda: list(itertools.islice(jobs, FILES_PER_TASK)), [])
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                pending[task.remote(batch, *shared)] = batch
            while pending and (batch is None or len(pending) >= window):
                (ready, *_), _ = ray.wait(list(pending), num_returns=1)
                done = pending.pop(ready)
                try:
                    yield from ray.get(ready)
                except ProvmarkError:
                    raise
                except ray.exceptions.RayError as exc:
                    yield from (MarkResult(job.rel, error=_failed_batch(ray, exc)) for job in done)


def map_ordered(
    func: Callable[..., list[R]], items: Iterable[T], args: Sequence[Any], address: str | None,
    on_failure: Callable[[T, str], R],
) -> Iterator[tuple[T, R]]:  # fmt: skip
    """``func(batch, *args)`` over ``items`` in batches on the cluster, results in input order; a
    batch whose task failed gives ``on_failure(item, reason)`` for each of its items."""
    with connect(address) as ray:
        task = ray.remote(num_cpus=1, max_retries=1)(func)
        shared = [ray.put(arg) for arg in args]
        window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        pending: collections.deque[tuple[Any, list[T]]] = collections.deque()
        source = iter(items)
        batches = iter(lambda: list(itertools.islice(source, FILES_PER_TASK)), [])
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                pending.append((task.remote(batch, *shared), batch))
            while pending and (batch is None or len(pending) >= window):
                ref, done = pending.popleft()
                try:
                    yield from zip(done, ray.get(ref))
                except ProvmarkError:
                    raise
                except ray.exceptions.RayError as exc:
                    yield from ((item, on_failure(item, _failed_batch(ray, exc))) for item in done)


@dataclass(frozen=True)
class RegistryView:
    """What attribution reads from a registry, without its database: sent to cluster workers."""

    concepts: dict[int, Concept]
    watermark_key: bytes

    @classmethod
    def of(cls, registry: Registry) -> RegistryView:
        """The view of an open registry."""
        return cls({c.index: c for c in registry.concepts()}, registry.watermark_key)

    def by_index(self, index: int) -> Concept | None:
        """The concept numbered ``index``, or None."""
        return self.concepts.get(index)


def attribute_batch(
    paths: list[Path], view: RegistryView, codebook: CodeBook, grid: int | None, training_mark: bool = False
) -> list[AttributionReport]:
    """Attribution reports of ``paths``; a file that cannot be read gets its reason (a cluster task)."""
    from provmark.detect.attribution import AttributionReport, attribute_image
    from provmark.io.images import load_image

    reports = []
    for path in paths:
        try:
            loaded = load_image(path)
            hits, tried = attribute_image(loaded.image, view, codebook, grid, training_mark)  # type: ignore[arg-type]
            reports.append(AttributionReport(loaded.name, hits, tried))
        except ProvmarkError as exc:
            reports.append(AttributionReport(str(path), error=str(exc)))
        _one_torch_thread()
    return reports


def verify_batch(paths: list[Path], options: VerifyOptions) -> list[VerificationReport | str]:
    """Verification reports of ``paths``, or a one-line reason for each that failed (a cluster task)."""
    from provmark.detect.verify import verify_file

    out: list[VerificationReport | str] = []
    for path in paths:
        try:
            out.append(verify_file(path, options))
        except ProvmarkError as exc:
            out.append(str(exc))
        _one_torch_thread()
    return out


def attribute_on_ray(
    paths: Iterable[Path], registry: Registry, channel_grid: int | None = None, address: str | None = None,
    training_mark: bool = False,
) -> Iterator[AttributionReport]:  # fmt: skip
    """Attribution reports of ``paths``, read on the Ray cluster at ``address``, in input order.

    Only the concepts and the watermark key travel to the workers, not the registry file; a
    file that cannot be read, or whose task failed, gets a report with the reason as its error.

    >>> with Registry.open("catalog.db") as registry:  # doctest: +SKIP
    ...     reports = list(attribute_on_ray(paths, registry, address="auto"))
    """
    from provmark.detect.attribution import AttributionReport

    shared = (RegistryView.of(registry), registry.codebook(), channel_grid, training_mark)
    failed = lambda path, reason: AttributionReport(str(path), error=reason)  # noqa: E731
    return (report for _, report in map_ordered(attribute_batch, paths, shared, address, failed))


def verify_on_ray(
    paths: Iterable[Path], options: VerifyOptions, address: str | None = None
) -> Iterator[tuple[Path, VerificationReport | str]]:
    """Each of ``paths`` with its verification report, or the one-line reason it failed, read on
    the Ray cluster at ``address``, in input order.

    >>> for path, report in verify_on_ray(paths, Verifier(keys="keys").options, "auto"):  # doctest: +SKIP
    ...     print(path, report if isinstance(report, str) else report.verified)
    """
    return map_ordered(verify_batch, paths, (options,), address, lambda path, reason: reason)
