"""provmark serve over real HTTP: /verify, the soft-binding resolution API, /sign, limits and errors."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import c2pa
import pytest
from PIL import Image

from provmark.c2pa.manifest import SOFT_BINDING_ALG

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")


def _json(response: tuple[int, dict[str, str], bytes]) -> tuple[int, dict]:
    status, headers, body = response
    assert headers["content-type"].startswith("application/json"), headers
    return status, json.loads(body)


def test_verify_returns_the_cli_json(service, samples, tmp_path: Path) -> None:
    (tmp_path / "signed.jpg").write_bytes(samples.signed)
    cli = subprocess.run(
        [sys.executable, "-c", "from provmark.cli.main import main; main()", "verify", "signed.jpg", "--keys", str(service.keys), "--json"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    status, report = _json(service.request("POST", "/verify?name=signed.jpg", samples.signed))
    assert status == 200
    attribution = report.pop("attribution")  # the test server has a concept registry, the CLI call none
    assert report == json.loads(cli.stdout)
    assert attribution["concepts"] == [] and attribution["regions_tried"] > 0
    assert report["verified"] is True and report["ai_generated"] is True
    assert report["c2pa"]["signer"] and report["watermark"]["payload"] == samples.manifest_id
    # the hard binding holds and names the watermark: these are the signed bytes, no fingerprint search
    assert report["watermark"]["content"] == "match" and report["watermark"]["content_distance"] is None


def test_page_check_gives_plain_verdicts(service, samples) -> None:
    tampered = bytearray(samples.signed)
    tampered[-200] ^= 0xFF  # one byte of the compressed pixels changed after signing
    expected = {
        "signed": ("ai", "AI-generated, signed by "),
        "stripped": ("ai", "AI-generated, signed by "),
        "forged": ("copied", "Watermark found, but the content differs from the signed image")
        if samples.forged_carries_mark
        else ("none", "No provenance found"),
        "unmarked": ("none", "No provenance found"),
        "tampered": ("tampered", "Tampered: the image was changed after it was signed"),
    }
    uploads = {**vars(samples), "tampered": bytes(tampered)}
    for name, (kind, text) in expected.items():
        status, body = _json(service.request("POST", "/api/check", uploads[name]))
        assert status == 200
        assert body["headline"]["kind"] == kind and body["headline"]["text"].startswith(text), (name, body["headline"])
        if name == "tampered":  # the hard binding fails: the content is compared with the fingerprint
            assert body["report"]["watermark"]["content_distance"] is not None
        if name in ("forged", "unmarked"):
            assert body["report"]["ai_generated"] != True  # noqa: E712 - "unknown" or False, never True


def test_stripped_copy_resolves_to_its_manifest(service, samples) -> None:
    status, found = _json(service.request("POST", f"/matches/byContent?alg={SOFT_BINDING_ALG}", samples.stripped))
    assert status == 200 and [m["manifestId"] for m in found["matches"]] == [samples.manifest_id]
    assert found["matches"][0]["similarityScore"] >= 90  # 100 - 100 * distance / 64
    assert "endpoint" not in found["matches"][0]  # absent: the manifest is served here

    value = base64.b64encode(bytes.fromhex(samples.manifest_id)).decode()
    status, by_get = _json(service.request("GET", f"/matches/byBinding?alg={SOFT_BINDING_ALG}&value={value.replace('+', '%2B')}"))
    assert status == 200 and by_get["matches"][0]["manifestId"] == samples.manifest_id
    body = json.dumps({"alg": SOFT_BINDING_ALG, "value": value}).encode()
    status, by_post = _json(service.request("POST", "/matches/byBinding", body, {"Content-Type": "application/json"}))
    assert by_post == by_get

    status, headers, store = service.request("GET", f"/manifests/{samples.manifest_id}")
    assert status == 200 and headers["content-type"] == "application/c2pa"
    context = c2pa.Context.from_dict({"trust": {"user_anchors": (service.keys / "ca.pem").read_text()}})
    reader = c2pa.Reader("application/c2pa", io.BytesIO(store), context=context)
    assert reader.get_active_manifest()["title"]  # a real manifest store, signed by the service's keys

    status, none = _json(service.request("POST", "/matches/byContent", samples.unmarked))
    assert status == 200 and none == {"matches": []}
    other = base64.b64encode(b"\0" * 8).decode()
    assert _json(service.request("GET", f"/matches/byBinding?alg={SOFT_BINDING_ALG}&value={other}")) == (200, {"matches": []})
    status, error = _json(service.request("GET", f"/matches/byBinding?alg=com.other.1&value={other}"))
    assert status == 400 and "unsupported soft-binding algorithm" in error["error"]["message"]
    assert _json(service.request("GET", "/manifests/0000000000000000"))[0] == 404
    assert _json(service.request("GET", "/manifests/..%2F..%2Fca"))[0] in (400, 404)
    status, headers, preview = service.request("GET", f"/manifests/{samples.manifest_id}/thumbnail")
    assert status == 200 and headers["content-type"] == "image/png"  # signed without a C2PA thumbnail: the fingerprint's
    assert Image.open(io.BytesIO(preview)).size[0] == 256
    assert _json(service.request("GET", "/manifests/0000000000000000/thumbnail"))[0] == 404
    assert _json(service.request("GET", "/no/such/route"))[1]["error"]["code"] == "not_found"
    assert _json(service.request("GET", "/verify"))[1]["error"]["code"] == "method_not_allowed"
    status, algs = _json(service.request("GET", "/services/supportedAlgorithms"))
    assert algs["watermarks"] == [{"alg": SOFT_BINDING_ALG}]


def test_sign_needs_the_bearer_token(service, photo_paths: list[Path]) -> None:
    photo = photo_paths[2].read_bytes()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {service.token}"}):
        status, error = _json(service.request("POST", "/sign", photo, headers))
        assert status == 401 and error["error"]["code"] == "unauthorized"
    status, headers, signed = service.request("POST", "/sign?model=Other%201.0", photo, {"Authorization": f"Bearer {service.token}"})
    assert status == 200 and headers["content-type"] == "image/jpeg"
    _, report = _json(service.request("POST", "/verify", signed))
    assert report["verified"] is True and report["c2pa"]["software_agent"] == "Other 1.0"
    assert (service.keys / "manifests" / f"{headers['x-provmark-manifest-id']}.json").is_file()  # fingerprint kept


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4000, 4000)).save(buf, format="PNG", optimize=True)  # 16 MP in a few KB
    return buf.getvalue()


def test_bad_uploads_get_clear_json_errors_and_the_server_stays_up(service, photo_paths: list[Path]) -> None:
    jpeg = photo_paths[0].read_bytes()
    cases = {
        "oversized": (b"\xff" * (3 * 1024 * 1024 + 1), 413, "upload_too_large"),
        "bomb": (_bomb(), 413, "image_too_large"),
        "corrupt": (jpeg[: len(jpeg) // 3], 422, "corrupt_image"),
        "not an image": (b"%PDF-1.4 not an image at all\n" * 40, 415, "not_an_image"),
        "empty": (b"", 400, "empty_upload"),
    }
    for name, (body, code, kind) in cases.items():
        for path in ("/verify", "/matches/byContent"):
            status, error = _json(service.request("POST", path, body))
            assert (status, error["error"]["code"]) == (code, kind), (name, path, error)
            assert error["error"]["message"] and "Traceback" not in error["error"]["message"]
        assert service.request("GET", "/healthz")[0] == 200, name
    status, report = _json(service.request("POST", "/verify", jpeg))
    assert status == 200 and report["ai_generated"] == "unknown"


def test_logs_and_errors_hold_no_secrets(service, samples) -> None:
    service.request("POST", "/verify?name=private-holiday.jpg", samples.unmarked)
    service.request("POST", "/sign", b"x", {"Authorization": "Bearer wrong-token-value"})
    time.sleep(0.2)
    log = service.log.read_text()
    requests = "\n".join(line for line in log.splitlines() if " provmark.serve " in line)
    assert "POST /verify 200" in requests and "POST /sign 401" in requests
    for secret in (service.token, "wrong-token-value", "private-holiday", "127.0.0.1", str(service.keys)):
        assert secret not in requests
    assert service.token not in log and "wrong-token-value" not in log  # nor anywhere else in the log
    key_text = (service.keys / "signer.key").read_text().splitlines()[1]
    for path in ("/verify", "/api/check"):
        _, _, body = service.request("POST", path, samples.signed)
        text = body.decode()
        assert key_text not in text and service.token not in text and str(service.keys) not in text


def test_slow_uploads_time_out() -> None:
    from starlette.requests import Request

    from provmark.serve.errors import ApiError
    from provmark.serve.limits import Limits, read_body

    async def trickle() -> dict:
        await asyncio.sleep(0.1)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def scenario() -> ApiError:
        request = Request({"type": "http", "method": "POST", "headers": []}, trickle)
        try:
            await read_body(request, Limits(timeout_s=0.5))
        except ApiError as exc:
            return exc
        raise AssertionError("a body that never ends was accepted")

    error = asyncio.run(scenario())
    assert error.status == 408 and error.code == "upload_timeout"


def test_manifest_thumbnail_comes_from_the_manifest_when_it_has_one(tmp_path: Path, photo_paths: list[Path]) -> None:
    import provmark
    from provmark.c2pa.reader import manifest_thumbnail
    from provmark.keys import init_keys

    init_keys(tmp_path / "keys")
    signed = provmark.Signer(tmp_path / "keys", thumbnail=True, watermark=False).sign_image(photo_paths[3].read_bytes())
    data, mime = manifest_thumbnail(signed.manifest_store)
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).format == "JPEG"
    plain = provmark.Signer(tmp_path / "keys", watermark=False).sign_image(photo_paths[3].read_bytes())
    assert manifest_thumbnail(plain.manifest_store) is None


def test_access_log_answers_json_500_and_logs_no_query(caplog: pytest.LogCaptureFixture) -> None:
    from provmark.serve.app import AccessLog

    async def broken(scope: dict, receive: object, send: object) -> None:
        raise RuntimeError("secret detail /srv/keys")

    async def scenario() -> list[dict]:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"name=private", "headers": []}
        await AccessLog(broken)(scope, receive, send)
        return sent

    with caplog.at_level("INFO", logger="provmark.serve"):
        sent = asyncio.run(scenario())
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": {"code": "internal", "message": "internal error; the request was not processed"}}
    assert "GET /x 500" in caplog.text and "RuntimeError" in caplog.text
    assert "private" not in caplog.text and "secret detail" not in caplog.text
