"""A keys folder: the C2PA signing PKI and the watermark key, created and read together.

``provmark keys init --dir KEYS`` (or :func:`init_keys`) writes ``ca.pem`` (trust anchor),
``signer.pem`` (signing chain), ``signer.key`` and ``watermark.key`` (both 0600); the manifest
store of watermarked images lives in ``KEYS/manifests``. :func:`load_keys` reads a folder once::

    keys = provmark.load_keys("keys")          # watermark key, trust anchor, manifest store
    identity = keys.identity()                 # the signing key (pass password= if encrypted)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from provmark.c2pa.identity import SigningIdentity, load_identity
from provmark.c2pa.pki import new_pki
from provmark.c2pa.store import ManifestStore
from provmark.errors import KeyMaterialError, OutputError
from provmark.io.atomic import write_bytes_atomic
from provmark.watermark import keyfile

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
        return self.dir / keyfile.KEY_FILE


def init_keys(directory: str | os.PathLike[str], org: str = "provmark", overwrite: bool = False) -> KeyPaths:
    """Create ``ca.pem``, ``signer.pem``, ``signer.key`` and ``watermark.key`` in ``directory``.

    Refuses to replace an existing keys folder unless ``overwrite`` is true, since that would
    orphan everything signed with the old keys.

    >>> paths = init_keys("keys", org="Example Org")  # doctest: +SKIP
    >>> paths.ca, paths.watermark_key  # doctest: +SKIP
    (PosixPath('keys/ca.pem'), PosixPath('keys/watermark.key'))
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
        keyfile.write_watermark_key(paths.watermark_key, keyfile.new_watermark_key())
    except OutputError:
        for path in written:  # no half-made keys folder
            path.unlink(missing_ok=True)
        raise
    return paths


def _existing(directory: str | os.PathLike[str]) -> KeyPaths:
    paths = KeyPaths(Path(directory))
    if not paths.dir.is_dir():
        raise KeyMaterialError(f"{paths.dir}: no such keys folder (create one with 'provmark keys init --dir {paths.dir}')")
    return paths


@dataclass(frozen=True)
class Keys:
    """A keys folder, read: its watermark key (None if it has none), trust anchor and manifest store.

    The signing key is read by :meth:`identity`, so a folder whose key is encrypted can still be
    used to verify without its password.
    """

    paths: KeyPaths
    watermark_key: bytes | None = field(repr=False)
    trust_pems: tuple[str, ...]
    store: ManifestStore

    def identity(self, password: str | bytes | None = None) -> SigningIdentity:
        """The signing identity (``signer.pem`` and ``signer.key``)."""
        return load_identity(self.paths.chain, self.paths.key, password)


def load_keys(directory: str | os.PathLike[str]) -> Keys:
    """Read a keys folder made by :func:`init_keys` (``provmark keys init``).

    >>> keys = load_keys("keys")  # doctest: +SKIP
    >>> keys.watermark_key is not None  # doctest: +SKIP
    True
    """
    paths = _existing(directory)
    mark = keyfile.read_watermark_key(paths.watermark_key) if paths.watermark_key.exists() else None
    trust = (read_trust_anchor(paths.ca),) if paths.ca.exists() else ()
    return Keys(paths, mark, trust, ManifestStore.beside_keys(paths.dir))


def load_watermark_key(source: bytes | Keys | str | os.PathLike[str]) -> bytes:
    """A watermark key given as its bytes, a loaded :class:`Keys`, a keys folder or a key file.

    >>> key = load_watermark_key("keys")  # or "keys/watermark.key"  # doctest: +SKIP
    >>> len(key)  # doctest: +SKIP
    32
    """
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    keys = source if isinstance(source, Keys) else load_keys(source) if Path(source).is_dir() else None
    if keys is None:
        return keyfile.read_watermark_key(source)
    if keys.watermark_key is None:
        raise KeyMaterialError(f"{keys.paths.dir}: no {keyfile.KEY_FILE} in this keys folder")
    return keys.watermark_key


def read_trust_anchor(path: str | os.PathLike[str]) -> str:
    """The PEM text of a trusted CA certificate file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyMaterialError(f"{path}: no such trust anchor file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyMaterialError(f"{path}: cannot read trust anchor: {exc}") from None
    try:
        x509.load_pem_x509_certificates(text.encode("ascii"))
    except ValueError:
        raise KeyMaterialError(f"{path}: not a PEM certificate") from None
    return text
