"""The C2PA Soft Binding Resolution API's finer points (maxResults, 414, hints, returnActiveManifest)
and concept attribution from ``serve --registry``, over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from pathlib import Path

import c2pa
import pytest

from provmark.c2pa.manifest import SOFT_BINDING_ALG

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")


def _json(response: tuple[int, dict[str, str], bytes]) -> tuple[int, dict]:
    status, headers, body = response
    assert headers["content-type"].startswith("application/json"), headers
    return status, json.loads(body)


def _b64(manifest_id: str) -> str:
    return base64.b64encode(bytes.fromhex(manifest_id)).decode().replace("+", "%2B").replace("/", "%2F")


def test_max_results_and_long_queries(service, samples) -> None:
    from provmark.serve.resolution import MAX_RESULTS, _max_results

    query = f"/matches/byBinding?alg={SOFT_BINDING_ALG}&value={_b64(samples.manifest_id)}"
    for given in ("0", "-1", "ten"):
        status, error = _json(service.request("GET", f"{query}&maxResults={given}"))
        assert status == 400 and "maxResults" in error["error"]["message"], given
    assert _json(service.request("GET", f"{query}&maxResults=100000"))[1]["matches"][0]["manifestId"] == samples.manifest_id
    assert _max_results("100000") == MAX_RESULTS == 400 and _max_results(None) == 10 and _max_results("3") == 3
    status, error = _json(service.request("GET", f"{query}&pad={'x' * 2048}"))
    assert status == 414 and error["error"]["code"] == "query_too_long"
    assert _json(service.request("GET", f"{query}&pad={'x' * 1900}"))[0] == 200  # 2048 characters in all still pass


def test_content_queries_take_a_hint(service, samples) -> None:
    base = f"/matches/byContent?alg={SOFT_BINDING_ALG}"
    hint = f"&hintAlg={SOFT_BINDING_ALG}&hintValue={_b64(samples.manifest_id)}"
    status, found = _json(service.request("POST", base + hint, samples.stripped))
    assert status == 200 and [m["manifestId"] for m in found["matches"]] == [samples.manifest_id]  # found once
    status, found = _json(service.request("POST", base + hint, samples.unmarked))
    assert status == 200 and [m["manifestId"] for m in found["matches"]] == [samples.manifest_id]
    assert found["matches"][0]["similarityScore"] < 90  # the hinted manifest, scored against other content
    for bad in (f"&hintAlg={SOFT_BINDING_ALG}", f"&hintAlg=com.other.1&hintValue={_b64(samples.manifest_id)}",
                f"&hintAlg={SOFT_BINDING_ALG}&hintValue=not-base64!"):  # fmt: skip
        status, error = _json(service.request("POST", base + bad, samples.unmarked))
        assert status == 400 and error["error"]["code"] == "bad_request", bad


def _manifests(store: bytes, keys: Path) -> tuple[str, dict]:
    context = c2pa.Context.from_dict({"trust": {"user_anchors": (keys / "ca.pem").read_text()}})
    with c2pa.Reader("application/c2pa", io.BytesIO(store), context=context) as reader:
        report = json.loads(reader.json())
    return report["active_manifest"], report["manifests"]


def test_return_active_manifest(service, samples) -> None:
    status, headers, resigned = service.request(
        "POST", "/sign?model=Editor%202.0", samples.signed, {"Authorization": f"Bearer {service.token}"}
    )  # a signed image signed again: its store holds the parent's manifest and the new one
    assert status == 200
    manifest_id = headers["x-provmark-manifest-id"]
    full = service.request("GET", f"/manifests/{manifest_id}")[2]
    status, headers, active = service.request("GET", f"/manifests/{manifest_id}?returnActiveManifest=true")
    assert status == 200 and headers["content-type"] == "application/c2pa"
    full_label, full_manifests = _manifests(full, service.keys)
    active_label, active_manifests = _manifests(active, service.keys)
    assert len(full_manifests) == 2 and list(active_manifests) == [full_label] == [active_label]
    assert active_manifests[active_label]["claim_generator_info"] == full_manifests[full_label]["claim_generator_info"]
    assert service.request("GET", f"/manifests/{manifest_id}?returnActiveManifest=false")[2] == full
    assert _json(service.request("GET", f"/manifests/{manifest_id}?returnActiveManifest=maybe"))[0] == 400


def test_reports_attribute_concepts_and_never_leak_the_registry_secret(service, samples, concept_marked) -> None:
    status, report = _json(service.request("POST", "/verify?name=fox.jpg", concept_marked))
    assert status == 200
    hits = report["attribution"]["concepts"]
    assert [h["name"] for h in hits] == ["red-fox"] and hits[0]["owner"] == "Fox Agency" and hits[0]["p_value"] <= 1e-6
    _, check = _json(service.request("POST", "/api/check", concept_marked))
    assert check["report"]["attribution"] == report["attribution"]
    assert check["headline"] == {"kind": "concepts", "text": "Carries registered concepts: red-fox (Fox Agency). "
                                 "No C2PA manifest, no provenance watermark."}  # fmt: skip
    _, plain = _json(service.request("POST", "/verify", samples.unmarked))
    assert plain["attribution"]["concepts"] == []

    with sqlite3.connect(service.registry) as db:
        (secret,) = db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    from provmark.api import Registry

    with Registry.open(service.registry) as registry:
        derived = registry.watermark_key
    forbidden = [secret, secret.hex().encode(), base64.b64encode(secret), derived, derived.hex().encode(),
                 base64.b64encode(derived), str(service.registry).encode()]  # fmt: skip
    value = _b64(samples.manifest_id)
    responses = [
        service.request("POST", "/verify?name=fox.jpg", concept_marked), service.request("POST", "/api/check", concept_marked),
        service.request("POST", "/verify", b"not an image"), service.request("GET", "/healthz"), service.request("GET", "/"),
        service.request("POST", "/matches/byContent", concept_marked),
        service.request("GET", f"/matches/byBinding?alg={SOFT_BINDING_ALG}&value={value}"),
    ]  # fmt: skip
    for status, headers, body in responses:
        blob = body + json.dumps(headers).encode()
        assert not [f for f in forbidden if f in blob], (status, body[:200])
    log = service.log.read_bytes()
    assert not [f for f in forbidden[1:3] + forbidden[4:6] if f in log]
