"""Running mark jobs: in this process, or in a pool of worker processes started once.

Each worker runs torch on one thread (parallelism comes from processes) and is forked from the
driver, which has loaded the model and the key's carriers before (see :func:`worker_context`):
workers share them instead of each loading them on its first job. At most ``2 x workers`` jobs
are in flight, so memory stays flat in the catalog size.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from provmark.concepts.codebook import CodeBook
from provmark.concepts.marker import MarkJob, MarkOptions, MarkResult, mark_file
from provmark.models import load_model
from provmark.models.threads import one_torch_thread, use_one_thread


def run_jobs(
    jobs: Iterator[MarkJob], key: bytes, options: MarkOptions, workers: int, codebook: CodeBook | None = None
) -> Iterator[MarkResult]:
    """Mark ``jobs`` in this process (``workers`` = 1) or in a pool, yielding results as they finish."""
    if workers <= 1:
        with one_torch_thread():
            for job in jobs:
                yield mark_file(job, key, options, codebook)
        return
    pending: dict[Future[MarkResult], MarkJob] = {}
    pool: ProcessPoolExecutor | None = None
    exhausted = broken = False
    try:
        while True:
            if broken and not pending and pool is not None:
                pool.shutdown(wait=False)
                pool, broken = None, False
            while not exhausted and not broken and len(pending) < 2 * workers:
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                if pool is None:
                    context = worker_context()
                    if context.get_start_method() == "fork":
                        preload(key)
                    pool = ProcessPoolExecutor(workers, context, _init_worker, (key, options, codebook))
                pending[pool.submit(_work, job)] = job
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    yield MarkResult(job.rel, error="a worker process died (out of memory?) with this file in flight")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def worker_context() -> multiprocessing.context.BaseContext:
    """On Linux, workers are forked from this process, which has imported torch and loaded the
    model (:func:`preload`): a pool of 2 starts in 0.4 s, against 5 s for a fork server that imports
    torch once and 12 s for spawned workers that each import it (measured on a loaded 2-core
    machine). Each worker then sets torch to one thread before its first job. Elsewhere
    (macOS, Windows), where forking a process that holds torch is not safe, workers are spawned."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def preload(key: bytes) -> None:
    """Load the watermark model and ``key``'s carriers here, on one torch thread (a forked child
    must not inherit a started thread pool), so that forked workers start with them."""
    with one_torch_thread():
        load_model().carriers(key)


_WORKER: tuple[bytes, MarkOptions, CodeBook | None] | None = None


def _init_worker(key: bytes, options: MarkOptions, codebook: CodeBook | None) -> None:
    global _WORKER
    use_one_thread()
    _WORKER = (key, options, codebook)


def _work(job: MarkJob) -> MarkResult:
    assert _WORKER is not None, "worker not initialised"
    return mark_file(job, *_WORKER)
