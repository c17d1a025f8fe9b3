"""The service's worker pool: spawned processes behind an asyncio gate, a full queue refused with
503 and Retry-After, a stuck task ended with 504, a killed worker replaced (killed for real)."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")

from provmark.serve.errors import ApiError  # noqa: E402
from provmark.serve.limits import Limits  # noqa: E402
from provmark.serve.pool import WorkerPool  # noqa: E402


class Napper:
    """A worker state for the tests (imported by the spawned workers from this module)."""

    def nap(self, seconds: float) -> tuple[int, float, float]:
        start = time.time()
        time.sleep(seconds)
        return os.getpid(), start, time.time()


def _wait_dead(pid: int) -> None:
    """Until ``pid`` has ended, all its threads too (a zombie counts: multiprocessing reaps it later)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X") and len(os.listdir(f"/proc/{pid}/task")) == 1:
                return
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"worker {pid} did not end")


def test_pool_bounds_concurrency_queue_and_time() -> None:
    pool = WorkerPool(Napper, Limits(workers=2, queue=2, timeout_s=3.0))
    pool.start()
    first = list(pool.pids)

    async def scenario() -> list[object]:
        calls = [pool.run("nap", 0.4) for _ in range(4)]  # 2 run, 2 wait
        results = await asyncio.gather(*calls, pool.run("nap", 0.4), return_exceptions=True)
        stuck = await asyncio.gather(pool.run("nap", 30.0), return_exceptions=True)
        deadline = time.monotonic() + 60
        while (len(pool.pids) < 2 or set(pool.pids) == set(first)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the replacement starts in the background
        gone = [asyncio.ensure_future(pool.run("nap", 0.3)) for _ in range(2)]  # both workers busy, then
        await asyncio.sleep(0.1)
        for request in gone:
            request.cancel()  # their clients go away: the workers come back once the naps end
        await asyncio.gather(*gone, return_exceptions=True)
        await asyncio.sleep(0.5)
        after = await asyncio.gather(*[pool.run("nap", 0.1) for _ in range(4)], return_exceptions=True)
        assert all(isinstance(r, tuple) for r in after), after  # no worker was lost to the cancelled requests
        return results + stuck

    try:
        results = asyncio.run(scenario())
        done = [r for r in results[:4] if isinstance(r, tuple)]
        assert len(done) == 4 and {r[0] for r in done} <= set(first)
        spans = sorted((start, end) for _, start, end in done)
        assert max(sum(1 for s, e in spans if s < t < e) for t in [s + 0.05 for s, _ in spans]) == 2  # never 3 at once
        full = results[4]
        assert isinstance(full, ApiError) and full.status == 503 and full.headers == {"Retry-After": "1"}
        assert full.response().headers["retry-after"] == "1"
        stuck = results[5]
        assert isinstance(stuck, ApiError) and stuck.status == 504
        assert len(pool.pids) == 2 and len(set(pool.pids) - set(first)) == 1  # the stuck worker was ended, replaced
    finally:
        pool.close()


def test_killed_workers_are_replaced(tmp_path: Path, photo_paths: list[Path]) -> None:
    from provmark.keys import init_keys
    from provmark.serve.engine import start_engine

    keys = init_keys(tmp_path / "keys").dir
    photo = photo_paths[1].read_bytes()
    pool = WorkerPool(functools.partial(start_engine, keys), Limits(workers=1, timeout_s=240))
    pool.start()

    async def scenario() -> None:
        (idle,) = pool.pids
        os.kill(idle, signal.SIGKILL)  # killed while idle: the next request gets a fresh worker
        _wait_dead(idle)
        report = await pool.run("report", photo, "photo.jpg")
        assert report["ai_generated"] == "unknown" and pool.pids and idle not in pool.pids

        (busy,) = pool.pids
        request = asyncio.ensure_future(pool.run("report", photo, "photo.jpg"))
        await asyncio.sleep(0.05)
        os.kill(busy, signal.SIGKILL)  # killed under a request: 503, retry, and a fresh worker answers
        with pytest.raises(ApiError) as lost:
            await request
        assert lost.value.status == 503 and lost.value.code == "worker_lost" and lost.value.headers == {"Retry-After": "1"}
        report = await pool.run("report", photo, "photo.jpg")
        assert report["path"] == "photo.jpg" and busy not in pool.pids and len(pool.pids) == 1

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_a_worker_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    from provmark.errors import ProvmarkError
    from provmark.serve.engine import start_engine

    pool = WorkerPool(functools.partial(start_engine, tmp_path / "no-keys"), Limits(workers=1))
    with pytest.raises(ProvmarkError, match="could not start: .*no-keys"):
        pool.start()
    assert pool.pids == []
