"""The web application: page, ``/verify``, ``/sign``, ``/healthz`` and the resolution API.

Errors are JSON ``{"error": {"code", "message"}}``; logs carry method, route, status and time,
never client addresses, query strings, uploads, tokens or key material.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provmark import __version__
from provmark.errors import KeyMaterialError, ProvmarkError, RegistryError
from provmark.keys import load_keys
from provmark.serve.engine import start_engine
from provmark.serve.errors import ApiError, from_provmark
from provmark.serve.limits import Limits, read_body
from provmark.serve.pool import WorkerPool
from provmark.serve.resolution import MAX_QUERY
from provmark.serve.resolution import router as resolution_router
from provmark.serve.verdict import headline

log = logging.getLogger("provmark.serve")

#: Upload names echoed in reports: a plain file name, nothing else.
_NAME = re.compile(r"[^\w.\- ()]+")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class Service:
    """What the routes share: the worker pool (each worker an :class:`Engine`), the limits, the signing token."""

    pool: WorkerPool
    limits: Limits
    sign_token: str | None
    page: str
    attribution: bool


def create_app(
    keys_dir: str | os.PathLike[str],
    limits: Limits | None = None,
    *,
    sign_token: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    password: str | None = None,
) -> FastAPI:
    """The ASGI app over a keys folder (its CA, watermark key and manifest store ``manifests/``).

    ``limits.workers`` worker processes, started with the app (or by ``app.state.service.pool.start()``),
    each load the keys and the watermark model once. ``sign_token`` enables ``POST /sign`` for
    requests bearing it (``password`` opens an encrypted signing key); ``registry`` (a concept
    registry file) adds concept attribution to every report.

    The workers are spawned processes, so a script that starts the service does it under
    ``if __name__ == "__main__":``.

    >>> app = create_app("keys", Limits(workers=2), sign_token="change-me")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    limits = limits or Limits()
    if load_keys(keys_dir).watermark_key is None:
        raise KeyMaterialError(f"{keys_dir}: no watermark.key: the service needs a keys folder from 'provmark keys init'")
    if registry is not None and not Path(registry).is_file():
        raise RegistryError(f"{registry}: no such concept registry (make one with 'provmark concepts add')")
    options = {"password": password, "signing": sign_token is not None, "max_pixels": limits.max_pixels}
    if registry is not None:
        options["registry"] = Path(registry)
    pool = WorkerPool(functools.partial(start_engine, Path(keys_dir), **options), limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not pool.pids:
            await asyncio.to_thread(pool.start)
        yield
        pool.close()

    app = FastAPI(title="provmark", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan)
    page = resources.files("provmark.serve").joinpath("page.html").read_text(encoding="utf-8")
    app.state.service = Service(pool, limits, sign_token or None, page, registry is not None)
    app.include_router(resolution_router)
    _add_errors_and_logs(app, Path(keys_dir), [Path(registry)] if registry is not None else [])
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(request.app.state.service.page, headers=PAGE_HEADERS)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        service: Service = request.app.state.service
        return JSONResponse({
            "status": "ok", "version": __version__, "signing": service.sign_token is not None,
            "attribution": service.attribution, "workers": len(service.pool.pids),
        })  # fmt: skip

    @app.post("/verify")
    async def verify(request: Request) -> JSONResponse:
        """The report of ``provmark verify --json`` for the uploaded file (``?name=`` sets its name)."""
        return JSONResponse(await _report(request))

    @app.post("/api/check")
    async def check(request: Request) -> JSONResponse:
        """The page's call: the plain verdict and the report."""
        report = await _report(request)
        return JSONResponse({"headline": headline(report), "report": report})

    @app.post("/sign")
    async def sign(request: Request) -> Response:
        """Signed bytes of the uploaded image (``?prompt=&model=&title=``); needs the bearer token."""
        service: Service = request.app.state.service
        _authorize(request, service)
        data = await read_body(request, service.limits)
        fields = {k: v for k in ("prompt", "model", "title") if (v := request.query_params.get(k))}
        signed, mime, payload = await service.pool.run("sign", data, **fields)
        headers = {"X-Provmark-Manifest-Id": payload} if payload else {}
        return Response(signed, media_type=mime, headers=headers)


async def _report(request: Request) -> dict[str, Any]:
    service: Service = request.app.state.service
    name = _NAME.sub("_", request.query_params.get("name", "upload").rsplit("/", 1)[-1])[:120] or "upload"
    data = await read_body(request, service.limits)
    report: dict[str, Any] = await service.pool.run("report", data, name)
    return report


def _authorize(request: Request, service: Service) -> None:
    if service.sign_token is None:
        raise ApiError(403, "signing_off", "signing is off on this server (start it with PROVMARK_SIGN_TOKEN set)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), service.sign_token.encode()):
        raise ApiError(401, "unauthorized", "POST /sign needs 'Authorization: Bearer <token>'")


def _add_errors_and_logs(app: FastAPI, keys_dir: Path, files: list[Path]) -> None:
    places = [keys_dir, *files]
    hidden = sorted({text for p in places for text in (str(p), str(p.resolve()))}, key=len, reverse=True)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}").response()

    @app.exception_handler(ProvmarkError)
    async def library_error(request: Request, exc: ProvmarkError) -> JSONResponse:
        error = from_provmark(exc)
        for text in hidden:
            error.message = error.message.replace(text, "SERVER")
        return error.response()

    app.add_middleware(AccessLog)


class AccessLog:
    """ASGI middleware (plain, so a request costs no extra task): 414 past :data:`MAX_QUERY`
    characters of query string, a JSON 500 instead of any traceback, and one log line per
    request with method, route, status and time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if len(scope.get("query_string", b"")) > MAX_QUERY:
                too_long = ApiError(414, "query_too_long", f"the query string is over {MAX_QUERY} characters")
                await too_long.response()(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - last resort: never a traceback to the client
            log.error("%s %s failed: %s", scope["method"], scope["path"], type(exc).__name__)
            if not status[0]:
                await ApiError(500, "internal", "internal error; the request was not processed").response()(scope, receive, sending)
        log.info("%s %s %d %.0f ms", scope["method"], scope["path"], status[0], 1000 * (time.perf_counter() - start))
