"""The secret watermark key: 32 random bytes, stored as hex in a 0600 file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from provmark.errors import KeyMaterialError
from provmark.io.atomic import write_bytes_atomic

KEY_BYTES = 32
#: Name of the watermark key file in a keys folder.
KEY_FILE = "watermark.key"


def new_watermark_key() -> bytes:
    """Return a fresh random watermark key."""
    return secrets.token_bytes(KEY_BYTES)


def write_watermark_key(path: str | os.PathLike[str], key: bytes) -> None:
    """Write ``key`` as hex to ``path`` with mode 0600, atomically."""
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"a watermark key has {KEY_BYTES} bytes, got {len(key)}")
    write_bytes_atomic(path, key.hex().encode("ascii") + b"\n", mode=0o600)


def read_watermark_key(path: str | os.PathLike[str]) -> bytes:
    """Read a watermark key file written by :func:`write_watermark_key`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyMaterialError(f"{p}: no such watermark key file (create one with 'provmark keys init')") from None
    except UnicodeDecodeError:
        # The message must not quote the file's bytes: they may be key material.
        raise KeyMaterialError(f"{p}: not a watermark key (binary data; expected {2 * KEY_BYTES} hex digits)") from None
    except OSError as exc:
        raise KeyMaterialError(f"{p}: cannot read watermark key: {exc.strerror or exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyMaterialError(f"{p}: not a watermark key (expected {2 * KEY_BYTES} hex digits)") from None
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{p}: not a watermark key (expected {2 * KEY_BYTES} hex digits, got {len(text)})")
    return key
