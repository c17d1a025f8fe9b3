"""The C2PA Soft Binding Resolution API over the manifest store.

Routes and shapes follow the C2PA "Soft Binding Resolution API" (OpenAPI 3.0, version 1.0.0):

- ``GET /matches/byBinding?alg=&value=[&maxResults=]`` and ``POST /matches/byBinding`` with
  ``{"alg": ..., "value": ...}``: manifests whose soft binding (base64 ``value``) matches;
- ``POST /matches/byContent?alg=[&maxResults=]`` with the asset as the body: the service reads
  the watermark itself;
- both answer ``{"matches": [{"manifestId": ..., "endpoint": ..., "similarityScore": ...}]}``
  (``similarityScore``, 0-100, from the content fingerprint, only where one is stored);
- ``GET /manifests/{manifestId}``: the manifest store, ``application/c2pa``;
- ``GET /services/supportedAlgorithms``: ``{"watermarks": [{"alg": ...}], "fingerprints": []}``;
- ``GET /manifests/{manifestId}/thumbnail`` (a provmark extension): what was signed.

Manifest ids are the watermark payloads in hex.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.serve.engine import Match
from provmark.serve.errors import ApiError
from provmark.serve.limits import read_body

T = TypeVar("T")

router = APIRouter(tags=["soft binding resolution"])


def _state(request: Request) -> Any:
    return request.app.state.service


def _max_results(value: str | None) -> int:
    if value is None:
        return 10
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "bad_request", "maxResults must be a positive integer")
    return int(value)


def _answer(request: Request, matches: list[Match], max_results: int) -> JSONResponse:
    endpoint = str(request.base_url).rstrip("/")
    out = []
    for match in matches[:max_results]:
        entry: dict[str, Any] = {"manifestId": match.manifest_id, "endpoint": endpoint}
        if match.similarity is not None:
            entry["similarityScore"] = match.similarity
        out.append(entry)
    return JSONResponse({"matches": out})


async def _by_binding(request: Request, alg: str | None, value: str | None, max_results: str | None) -> JSONResponse:
    if not alg or not value:
        raise ApiError(400, "bad_request", "give alg and value (base64 of the soft binding)")
    service = _state(request)
    try:
        matches = await service.gate.run(lambda: service.engine.matches_by_binding(alg, value))
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return _answer(request, matches, _max_results(max_results))


@router.get("/matches/byBinding")
async def by_binding_get(request: Request) -> JSONResponse:
    """Manifest ids for one soft binding given in the query."""
    q = request.query_params
    return await _by_binding(request, q.get("alg"), q.get("value"), q.get("maxResults"))


@router.post("/matches/byBinding")
async def by_binding_post(request: Request) -> JSONResponse:
    """Manifest ids for one soft binding given as JSON ``{"alg", "value"}``."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "bad_request", 'send JSON: {"alg": ..., "value": ...}') from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'send JSON: {"alg": ..., "value": ...}')
    return await _by_binding(request, body.get("alg"), body.get("value"), request.query_params.get("maxResults"))


@router.post("/matches/byContent")
async def by_content(request: Request) -> JSONResponse:
    """Manifest ids for the watermark in an uploaded asset (the request body)."""
    service = _state(request)
    alg = request.query_params.get("alg", SOFT_BINDING_ALG)
    if alg != SOFT_BINDING_ALG:
        raise ApiError(400, "bad_request", f"unsupported soft-binding algorithm {alg!r} (supported: {SOFT_BINDING_ALG})")
    max_results = _max_results(request.query_params.get("maxResults"))
    data = await read_body(request, service.limits)
    matches = await service.gate.run(lambda: service.engine.matches_by_content(data, service.limits.max_pixels))
    return _answer(request, matches, max_results)


@router.get("/manifests/{manifest_id}")
async def manifest(request: Request, manifest_id: str) -> Response:
    """The manifest store kept under ``manifest_id``."""
    service = _state(request)
    data = await _lookup(service, lambda: service.engine.manifest(manifest_id), f"no manifest {manifest_id} in this store")
    return Response(data, media_type="application/c2pa")


@router.get("/manifests/{manifest_id}/thumbnail")
async def thumbnail(request: Request, manifest_id: str) -> Response:
    """provmark extension: what was signed (the manifest's thumbnail, else the fingerprint's gray preview)."""
    service = _state(request)
    found = await _lookup(
        service, lambda: service.engine.thumbnail(manifest_id), f"no thumbnail for manifest {manifest_id} in this store"
    )
    return Response(found[0], media_type=found[1])


async def _lookup(service: Any, find: Callable[[], T | None], missing: str) -> T:
    """Run a store lookup on the worker pool: 400 for a malformed id, 404 with ``missing`` when absent."""
    try:
        found = await service.gate.run(find)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if found is None:
        raise ApiError(404, "not_found", missing)
    return found


@router.get("/services/supportedAlgorithms")
async def supported_algorithms() -> JSONResponse:
    """The soft-binding algorithms this service resolves."""
    return JSONResponse({"watermarks": [{"alg": SOFT_BINDING_ALG}], "fingerprints": []})
