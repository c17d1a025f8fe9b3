"""Request limits: upload size, image pixels, per-request time, and bounded concurrency
(enforced by :mod:`provmark.serve.pool`)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from starlette.requests import Request

from provmark.serve.errors import ApiError


@dataclass(frozen=True)
class Limits:
    """What one request may cost. ``workers`` requests run at once (one worker process each);
    ``queue`` more may wait, each at most ``timeout_s`` in all."""

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
