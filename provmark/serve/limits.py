"""Request limits: upload size, image pixels, per-request time, and bounded concurrency."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.requests import Request

from provmark.serve.errors import ApiError

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """What one request may cost. ``workers`` requests run at once; ``queue`` more may wait."""

    max_upload_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    timeout_s: float = 30.0
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    queue: int = 64


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refused with 413 past the upload limit (checked while reading) and with
    408 when it does not arrive within the request timeout (slow senders hold no worker)."""
    limit = limits.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "upload_too_large", f"upload is {int(declared)} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "upload_too_large", f"upload is over the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "upload_timeout", f"the upload did not arrive within {limits.timeout_s:g} s") from None
    body = b"".join(chunks)
    if not body:
        raise ApiError(400, "empty_upload", "send the image file as the request body")
    return body


class Gate:
    """Runs blocking work on ``workers`` threads; at most ``queue`` callers wait, each at most the timeout.

    A slot is freed only when its work really ends, so a timed-out request never lets more
    than ``workers`` jobs run at once.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._executor = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="provmark")
        self._slots = asyncio.Semaphore(limits.workers)
        self._waiting = 0

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a worker thread; 503 when the queue is full, 504 past the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.timeout_s
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken at once
        elif self._waiting >= self.limits.queue:
            raise ApiError(503, "busy", "the server is busy; retry in a moment")
        else:
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=self.limits.timeout_s)
            except TimeoutError:
                raise ApiError(504, "timeout", f"no worker was free within {self.limits.timeout_s:g} s") from None
            finally:
                self._waiting -= 1
        future = loop.run_in_executor(self._executor, work)
        future.add_done_callback(lambda _: self._slots.release())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise ApiError(504, "timeout", f"the request took longer than {self.limits.timeout_s:g} s") from None

    def close(self) -> None:
        """Stop the worker threads once their current work ends."""
        self._executor.shutdown(wait=False, cancel_futures=True)
