"""The C2PA Soft Binding Resolution API (OpenAPI 1.0.0) over the manifest store.

- ``GET /matches/byBinding?alg=&value=[&maxResults=]`` and ``POST /matches/byBinding`` with
  ``{"alg": ..., "value": ...}``: manifests whose soft binding (base64 ``value``) matches;
- ``POST /matches/byContent?alg=[&maxResults=][&hintAlg=&hintValue=]`` with the asset as the
  body: the service reads the watermark itself; a hint (a binding the client read) is looked
  up too;
- both answer ``{"matches": [{"manifestId": ..., "similarityScore": ...}]}``: no ``endpoint``,
  since every manifest is served here (``similarityScore``, 0-100, from the content
  fingerprint, only where one is stored); at most ``maxResults`` (default 10, capped at
  :data:`MAX_RESULTS`);
- ``GET /manifests/{manifestId}[?returnActiveManifest=true]``: the manifest store, or its
  active manifest alone, ``application/c2pa``;
- ``GET /services/supportedAlgorithms``: ``{"watermarks": [{"alg": ...}], "fingerprints": []}``;
- ``GET /manifests/{manifestId}/thumbnail`` (a provmark extension): what was signed.

Query strings longer than :data:`MAX_QUERY` characters get 414 (see :mod:`provmark.serve.app`).
Manifest ids are the watermark payloads in hex.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.serve.engine import Match, decode_binding
from provmark.serve.errors import ApiError
from provmark.serve.limits import read_body

#: Matches answered when the query names no maxResults, and the most it may ask for.
DEFAULT_RESULTS, MAX_RESULTS = 10, 400
#: Longest query string accepted (characters); longer ones get 414.
MAX_QUERY = 2048

router = APIRouter(tags=["soft binding resolution"])


def _state(request: Request) -> Any:
    return request.app.state.service


def _max_results(value: str | None) -> int:
    if value is None:
        return DEFAULT_RESULTS
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "bad_request", "maxResults must be a positive integer")
    return min(int(value), MAX_RESULTS)


def _answer(matches: list[Match], max_results: int) -> JSONResponse:
    out = []
    for match in matches[:max_results]:
        entry: dict[str, Any] = {"manifestId": match.manifest_id}
        if match.similarity is not None:
            entry["similarityScore"] = match.similarity
        out.append(entry)
    return JSONResponse({"matches": out})


def _bad(exc: ValueError) -> ApiError:
    return ApiError(400, "bad_request", str(exc))


async def _by_binding(request: Request, alg: object, value: object, max_results: str | None) -> JSONResponse:
    if not isinstance(alg, str) or not isinstance(value, str) or not alg or not value:
        raise ApiError(400, "bad_request", "give alg and value (base64 of the soft binding)")
    limit = _max_results(max_results)
    try:
        decode_binding(alg, value)  # a malformed query is refused before it takes a worker
    except ValueError as exc:
        raise _bad(exc) from None
    service = _state(request)
    return _answer(await service.pool.run("matches_by_binding", alg, value), limit)


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
    """Manifest ids for the watermark in an uploaded asset (the request body), and for a hint."""
    service = _state(request)
    q = request.query_params
    alg = q.get("alg", SOFT_BINDING_ALG)
    if alg != SOFT_BINDING_ALG:
        raise ApiError(400, "bad_request", f"unsupported soft-binding algorithm {alg!r} (supported: {SOFT_BINDING_ALG})")
    max_results = _max_results(q.get("maxResults"))
    hint = None
    if q.get("hintAlg") is not None or q.get("hintValue") is not None:
        if not q.get("hintAlg") or not q.get("hintValue"):
            raise ApiError(400, "bad_request", "give hintAlg and hintValue together")
        try:
            hint = decode_binding(q["hintAlg"], q["hintValue"])
        except ValueError as exc:
            raise _bad(exc) from None
    data = await read_body(request, service.limits)
    return _answer(await service.pool.run("matches_by_content", data, hint), max_results)


@router.get("/manifests/{manifest_id}")
async def manifest(request: Request, manifest_id: str) -> Response:
    """The manifest store kept under ``manifest_id`` (``returnActiveManifest=true``: its active manifest)."""
    active = request.query_params.get("returnActiveManifest", "false").lower()
    if active not in ("true", "false"):
        raise ApiError(400, "bad_request", "returnActiveManifest is true or false")
    data = await _lookup(request, "manifest", manifest_id, active == "true")
    if data is None:
        raise ApiError(404, "not_found", f"no manifest {manifest_id} in this store")
    return Response(data, media_type="application/c2pa")


@router.get("/manifests/{manifest_id}/thumbnail")
async def thumbnail(request: Request, manifest_id: str) -> Response:
    """provmark extension: what was signed (the manifest's thumbnail, else the fingerprint's gray preview)."""
    found = await _lookup(request, "thumbnail", manifest_id)
    if found is None:
        raise ApiError(404, "not_found", f"no thumbnail for manifest {manifest_id} in this store")
    return Response(found[0], media_type=found[1])


async def _lookup(request: Request, method: str, *args: Any) -> Any:
    """A store lookup on the worker pool; 400 for a malformed id."""
    try:
        return await _state(request).pool.run(method, *args)
    except ValueError as exc:
        raise _bad(exc) from None


@router.get("/services/supportedAlgorithms")
async def supported_algorithms() -> JSONResponse:
    """The soft-binding algorithms this service resolves."""
    return JSONResponse({"watermarks": [{"alg": SOFT_BINDING_ALG}], "fingerprints": []})
