"""Shared fixtures: small real photos bundled under tests/data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
