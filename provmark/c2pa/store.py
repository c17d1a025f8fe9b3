"""Local manifest store: every manifest provmark signed, keyed by its watermark payload.

A stripped image (metadata removed, pixels kept) still carries the watermark; its payload
finds the manifest here (the C2PA "durable content credentials" idea). One file per manifest,
``<payload hex>.c2pa``, written atomically, so several signers can share a folder, and beside
it ``<payload hex>.json`` with the fingerprint of the signed pixels (see
:mod:`provmark.c2pa.fingerprint`), so a verifier can tell a copy of the signed image from a
copied watermark. Entries written before fingerprints existed have no ``.json``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from provmark.c2pa.fingerprint import Fingerprint
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

    def put(self, payload: bytes, manifest_store: bytes, fingerprint: Fingerprint | None = None) -> Path:
        """Keep ``manifest_store`` (and the signed pixels' ``fingerprint``) under ``payload``.

        The fingerprint is written first, so a manifest is never found without it.
        Returns the manifest file written.
        """
        path = self._path(payload)
        try:
            if fingerprint is not None:
                entry = {"fingerprint": fingerprint.to_dict()}
                write_bytes_atomic(path.with_suffix(".json"), json.dumps(entry).encode("utf-8"))
            write_bytes_atomic(path, manifest_store)
        except OutputError as exc:
            raise OutputError(f"manifest store: {exc}") from None
        return path

    def ids(self) -> list[bytes]:
        """Payloads of every manifest in the store (sorted)."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.glob("*.c2pa"):
            try:
                out.append(bytes.fromhex(path.stem))
            except ValueError:
                continue
        return sorted(out)

    def fingerprint(self, payload: bytes) -> Fingerprint | None:
        """The fingerprint kept with the manifest under ``payload`` (None for entries without one)."""
        path = self._path(payload).with_suffix(".json")
        try:
            entry = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise VerificationError(f"{path}: cannot read the content fingerprint: {exc}") from None
        data = entry.get("fingerprint") if isinstance(entry, dict) else None
        return Fingerprint.from_dict(data) if isinstance(data, dict) else None

    def get(self, payload: bytes) -> bytes | None:
        """The manifest store kept under ``payload``, or None."""
        path = self._path(payload)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise VerificationError(f"{path}: cannot read manifest store: {exc.strerror or exc}") from None
