"""Local manifest store: every manifest provmark signed, keyed by its watermark payload.

A stripped image (metadata removed, pixels kept) still carries the watermark; its payload
finds the manifest here (the C2PA "durable content credentials" idea). One file per manifest,
``<payload hex>.c2pa``, written atomically, so several signers can share a folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from provmark.errors import OutputError, VerificationError
from provmark.io.atomic import write_bytes_atomic

STORE_DIR = "manifests"


class ManifestStore:
    """A folder of manifest stores named by watermark payload."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def beside_keys(cls, keys_dir: str | os.PathLike[str]) -> ManifestStore:
        """The store kept in a keys folder (``KEYS/manifests``)."""
        return cls(Path(keys_dir) / STORE_DIR)

    def _path(self, payload: bytes) -> Path:
        return self.root / f"{payload.hex()}.c2pa"

    def new_payload(self, size: int = 8) -> bytes:
        """A random payload not used by any manifest in the store."""
        while True:
            payload = secrets.token_bytes(size)
            if not self._path(payload).exists():
                return payload

    def put(self, payload: bytes, manifest_store: bytes) -> Path:
        """Keep ``manifest_store`` under ``payload``; returns the file written."""
        path = self._path(payload)
        try:
            write_bytes_atomic(path, manifest_store)
        except OutputError as exc:
            raise OutputError(f"manifest store: {exc}") from None
        return path

    def get(self, payload: bytes) -> bytes | None:
        """The manifest store kept under ``payload``, or None."""
        path = self._path(payload)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise VerificationError(f"{path}: cannot read manifest store: {exc.strerror or exc}") from None
