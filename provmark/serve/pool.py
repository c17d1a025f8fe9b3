"""Worker processes for the service's CPU work, behind an asyncio gate.

Each worker is a spawned process that builds its state once (keys, trust anchors, watermark
model, registry: see :func:`provmark.serve.engine.start_engine`) and then runs one task at a
time, ``state.METHOD(*args, **kwargs)``, sent over a pipe. Processes rather than threads: decoding and
watermark reading hold the GIL in places, a stuck request can be ended by ending its process,
and a worker that dies is replaced without taking the server down.

At most ``Limits.workers`` tasks run at once and ``Limits.queue`` more wait; past that a
request is refused at once with 503 and ``Retry-After``. A task past the request timeout ends
its worker (504) and a fresh one takes its place.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from provmark.errors import ProvmarkError
from provmark.serve.errors import ApiError
from provmark.serve.limits import Limits

log = logging.getLogger("provmark.serve")

#: Seconds a client is asked to wait before retrying a refused request.
RETRY_AFTER_S = 1
#: Seconds a new worker may take to build its state.
START_TIMEOUT_S = 300.0


class WorkerLost(Exception):
    """The worker process ended while it held a task."""


def _worker_main(factory: Callable[[], Any], conn: Connection) -> None:
    """A worker: build the state, say ready, then answer tasks until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which ends its workers
    try:
        state = factory()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which refuses to start
        conn.send(("failed", f"{exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        method, args, kwargs = task
        try:
            conn.send(("ok", getattr(state, method)(*args, **kwargs)))
        except (ProvmarkError, ValueError) as exc:
            conn.send(("error", _portable(exc)))
        except Exception as exc:  # noqa: BLE001 - the parent answers 500, naming only the kind
            conn.send(("crash", type(exc).__name__))


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a plain ProvmarkError with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return ProvmarkError(str(exc))


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
        """Send one task and wait for its answer (blocking: run on a thread)."""
        try:
            self.conn.send((method, args, kwargs))
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerLost from None

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class WorkerPool:
    """``limits.workers`` spawned processes, each holding ``factory()``; tasks run on a free one.

    >>> pool = WorkerPool(functools.partial(list, "ab"), Limits(workers=2))  # doctest: +SKIP
    >>> pool.start()  # doctest: +SKIP
    >>> asyncio.run(pool.run("index", "b"))  # doctest: +SKIP
    1
    """

    def __init__(self, factory: Callable[[], Any], limits: Limits) -> None:
        self.limits = limits
        self._factory = factory
        self._context = multiprocessing.get_context("spawn")
        self._threads = ThreadPoolExecutor(max_workers=2 * limits.workers + 2, thread_name_prefix="provmark-pool")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: list[_Worker] = []
        self._waiting = 0
        self._closed = False

    def start(self) -> None:
        """Start every worker and wait until each has built its state (raises if one cannot)."""
        starting = [self._spawn() for _ in range(self.limits.workers)]
        try:
            for worker in starting:
                self._await_ready(worker)
        except BaseException:
            for worker in starting:
                worker.stop()
            raise
        for worker in starting:
            self._add(worker)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and operators)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``state.METHOD(*args, **kwargs)`` on a free worker: 503 when the queue is full or a worker died
        under the request, 504 past the timeout. The arguments and the result must pickle."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.timeout_s
        worker = await self._take(deadline)
        call = loop.run_in_executor(self._threads, worker.call, method, args, kwargs)
        try:
            kind, value = await asyncio.wait_for(asyncio.shield(call), timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:  # the client went away: the worker comes back when its task ends
            call.add_done_callback(lambda done: self._release(worker, done))
            raise
        except TimeoutError:
            call.add_done_callback(lambda done: done.exception())  # WorkerLost once ended: expected
            self._replace(worker, "it ran past the request timeout")
            raise ApiError(504, "timeout", f"the request took longer than {self.limits.timeout_s:g} s") from None
        except WorkerLost:
            self._replace(worker, "it stopped during a request")
            raise _busy("worker_lost", "the worker handling this request stopped; retry") from None
        self._idle.put_nowait(worker)
        if kind == "ok":
            return value
        if kind == "error":
            raise value
        raise ApiError(500, "internal", f"internal error ({value}); the request was not processed")

    async def _take(self, deadline: float) -> _Worker:
        """A free, live worker: at once, or after waiting in the queue."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._idle.empty():
                worker = self._idle.get_nowait()
            elif self._waiting >= self.limits.queue:
                raise _busy("busy", "the server is busy; retry in a moment")
            else:
                self._waiting += 1
                try:
                    worker = await asyncio.wait_for(self._idle.get(), timeout=max(0.0, deadline - loop.time()))
                except TimeoutError:
                    raise ApiError(504, "timeout", f"no worker was free within {self.limits.timeout_s:g} s") from None
                finally:
                    self._waiting -= 1
            if worker.process.is_alive():
                return worker
            self._replace(worker, "it had stopped while idle")

    def _release(self, worker: _Worker, call: asyncio.Future[tuple[str, Any]]) -> None:
        """Take ``worker`` back after a task nobody waits for any more."""
        if call.exception() is None:
            self._idle.put_nowait(worker)
        else:
            self._replace(worker, "it stopped during a request")

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(self._factory, child), daemon=True, name="provmark-worker")
        process.start()
        child.close()
        return _Worker(process, parent)

    def _await_ready(self, worker: _Worker) -> None:
        if not worker.conn.poll(START_TIMEOUT_S):
            raise ProvmarkError(f"a service worker did not start within {START_TIMEOUT_S:g} s")
        try:
            kind, detail = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=5)
            raise ProvmarkError(
                f"a service worker stopped while starting (exit code {worker.process.exitcode}); a script that starts "
                "the service must do so under 'if __name__ == \"__main__\":' (workers are spawned processes)"
            ) from None
        if kind != "ready":
            raise ProvmarkError(f"a service worker could not start: {detail}")

    def _add(self, worker: _Worker) -> None:
        self._workers.append(worker)
        self._idle.put_nowait(worker)

    def _replace(self, worker: _Worker, why: str) -> None:
        """End ``worker`` and start another in the background (the pool runs one short meanwhile)."""
        log.warning("worker %s replaced: %s", worker.process.pid, why)
        if worker in self._workers:
            self._workers.remove(worker)
        worker.stop()
        if self._closed:
            return
        loop = asyncio.get_running_loop()

        def fresh() -> _Worker:
            new = self._spawn()
            try:
                self._await_ready(new)
            except BaseException:
                new.stop()
                raise
            return new

        def done(future: asyncio.Future[_Worker]) -> None:
            if future.cancelled() or future.exception() is not None:
                log.error("a replacement worker could not start: %s", future.exception())
            elif self._closed:
                future.result().stop()
            else:
                self._add(future.result())

        loop.run_in_executor(self._threads, fresh).add_done_callback(done)

    def close(self) -> None:
        """End every worker."""
        self._closed = True
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)


def _busy(code: str, message: str) -> ApiError:
    return ApiError(503, code, message, headers={"Retry-After": str(RETRY_AFTER_S)})
