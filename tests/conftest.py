"""Shared fixtures: small real photos bundled under tests/data, a real ``provmark serve`` on loopback."""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def photo_paths() -> list[Path]:
    """Four small real JPEG photos (512 px long side)."""
    paths = sorted(DATA.glob("*.jpg"))
    assert len(paths) >= 4
    return paths


@pytest.fixture
def encrypted_key(tmp_path: Path) -> Callable[[Path, bytes], Path]:
    """Returns a function writing an encrypted copy of an unencrypted PEM key into tmp_path."""
    return lambda plain_key, password: _write_encrypted_key(plain_key, tmp_path / "enc.key", password)


def _write_encrypted_key(plain_key: Path, target: Path, password: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(plain_key.read_bytes(), None)
    target.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(password)
        )
    )
    return target


@dataclass
class Service:
    """A real ``provmark serve`` on loopback: its URL, keys, bearer token, log file and concept registry."""

    url: str
    keys: Path
    token: str
    log: Path
    registry: Path

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 120) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        """One HTTP request; returns status, headers (lower-case names) and body, errors included.

        The body is sent in chunks and a refusal part-way (the server answering 413 early and
        closing) still yields the server's response.
        """
        host, port = self.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.putrequest(method, path)
            for name, value in {**(headers or {}), "Content-Length": str(len(body or b""))}.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                for start in range(0, len(body or b""), 65536):
                    conn.send((body or b"")[start : start + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``provmark serve`` started as its own process (real uvicorn) with small limits for the tests."""
    pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
    from provmark.api import ConceptSpec, Registry
    from provmark.keys import init_keys

    root = tmp_path_factory.mktemp("service")
    keys = init_keys(root / "keys", org="Service Test Org").dir
    registry = root / "catalog.db"
    with Registry.open(registry, create=True) as reg:
        reg.add([ConceptSpec("red-fox", owner="Fox Agency", licence="CC-BY-4.0"), ConceptSpec("old-town")])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_urlsafe(24)
    log = root / "server.log"
    command = [sys.executable, "-c", "from provmark.cli.main import main; main()", "serve", "--keys", str(keys),
               "--port", str(port), "--workers", "2", "--max-upload-mb", "3", "--max-megapixels", "8",
               "--registry", str(registry)]  # fmt: skip
    env = {**os.environ, "PROVMARK_SIGN_TOKEN": token}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Service(f"http://127.0.0.1:{port}", keys, token, log, registry)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"provmark serve exited: {log.read_text()}")
            try:
                if server.request("GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"provmark serve did not start: {log.read_text()}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Samples:
    """The four kinds of upload: signed through POST /sign, its stripped copy, a forged copy, an unmarked photo."""

    signed: bytes
    manifest_id: str
    stripped: bytes
    forged: bytes
    #: Whether the copied residual still carries a readable watermark (it does with today's model;
    #: a keyed watermark that resists copying would make the forged copy show no provenance at all).
    forged_carries_mark: bool
    unmarked: bytes


@pytest.fixture(scope="session")
def samples(service: Service, photo_paths: list[Path]) -> Samples:
    from forgery import forged_copy

    status, headers, signed = service.request(
        "POST", "/sign?prompt=a%20caterpillar&model=Gen%204.2", photo_paths[0].read_bytes(),
        {"Authorization": f"Bearer {service.token}", "Content-Type": "image/jpeg"},
    )  # fmt: skip
    assert status == 200, signed
    stripped = io.BytesIO()
    Image.open(io.BytesIO(signed)).convert("RGB").save(stripped, format="PNG")
    forged, carries = forged_copy(signed, photo_paths[0], photo_paths[1]), False
    for host in photo_paths[1:]:  # prefer a copy the watermark survives on: the content check must catch it
        candidate = forged_copy(signed, photo_paths[0], host)
        status, _, body = service.request("POST", "/verify", candidate)
        if status == 200 and json.loads(body)["watermark"]["manifest_recovered"]:
            forged, carries = candidate, True
            break
    return Samples(signed, headers["x-provmark-manifest-id"], stripped.getvalue(), forged, carries, photo_paths[1].read_bytes())


@pytest.fixture(scope="session")
def concept_marked(service: Service, photo_paths: list[Path]) -> bytes:
    """A photo marked with the service registry's concept "red-fox" (JPEG)."""
    import provmark

    marked = provmark.mark_image(photo_paths[2].read_bytes(), service.registry, "red-fox")
    buf = io.BytesIO()
    marked.save(buf, format="JPEG", quality=92)
    return buf.getvalue()
