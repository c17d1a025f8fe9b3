"""A keys folder: the C2PA signing PKI and the watermark key, created and read together.

``provmark keys init --dir KEYS`` (or :func:`init_keys`) writes ``ca.pem`` (trust anchor),
``signer.pem`` (signing chain), ``signer.key`` and ``watermark.key`` (both 0600); the manifest
store of watermarked images lives in ``KEYS/manifests``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provmark.c2pa.identity import SigningIdentity, load_identity
from provmark.c2pa.pki import new_pki
from provmark.errors import KeyMaterialError, OutputError
from provmark.io.atomic import write_bytes_atomic
from provmark.watermark import keys as watermark_keys

CA_FILE = "ca.pem"
CHAIN_FILE = "signer.pem"
KEY_FILE = "signer.key"


@dataclass(frozen=True)
class KeyPaths:
    """Where the files of a keys folder live."""

    dir: Path

    @property
    def ca(self) -> Path:
        """Trust anchor (self-signed CA certificate)."""
        return self.dir / CA_FILE

    @property
    def chain(self) -> Path:
        """Signing certificate followed by the CA, PEM."""
        return self.dir / CHAIN_FILE

    @property
    def key(self) -> Path:
        """Private signing key, PKCS#8 PEM, mode 0600."""
        return self.dir / KEY_FILE

    @property
    def watermark_key(self) -> Path:
        """Secret key for keyed watermarks."""
        return self.dir / watermark_keys.KEY_FILE


def init_keys(directory: str | os.PathLike[str], org: str = "provmark", overwrite: bool = False) -> KeyPaths:
    """Create ``ca.pem``, ``signer.pem``, ``signer.key`` and ``watermark.key`` in ``directory``.

    Refuses to replace an existing keys folder unless ``overwrite`` is true, since that would
    orphan everything signed with the old keys.
    """
    paths = KeyPaths(Path(directory))
    existing = [p for p in (paths.ca, paths.chain, paths.key, paths.watermark_key) if p.exists()]
    if existing and not overwrite:
        raise OutputError(f"{paths.dir}: already holds keys ({existing[0].name}); pass --force to replace them")
    pki = new_pki(org)
    written: list[Path] = []
    try:
        for path, data, mode in ((paths.ca, pki.ca, None), (paths.chain, pki.chain, None), (paths.key, pki.key, 0o600)):
            write_bytes_atomic(path, data, mode=mode)
            written.append(path)
        watermark_keys.write_watermark_key(paths.watermark_key, watermark_keys.new_watermark_key())
    except OutputError:
        for path in written:  # no half-made keys folder
            path.unlink(missing_ok=True)
        raise
    return paths


def identity_from_keys_dir(directory: str | os.PathLike[str], password: str | bytes | None = None) -> SigningIdentity:
    """Load ``signer.pem`` and ``signer.key`` from a folder made by ``provmark keys init``."""
    paths = KeyPaths(Path(directory))
    if not paths.dir.is_dir():
        raise KeyMaterialError(f"{paths.dir}: no such keys folder (create one with 'provmark keys init --dir {paths.dir}')")
    return load_identity(paths.chain, paths.key, password)
