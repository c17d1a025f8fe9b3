"""How to sign: the signing switches of ``provmark sign`` and the watermark to embed first."""

from __future__ import annotations

from dataclasses import dataclass, field

from provmark.c2pa.store import ManifestStore
from provmark.errors import SigningError
from provmark.metadata.disclosure import Disclosure


@dataclass(frozen=True)
class SignOptions:
    """How to sign: disclosure plus the signing switches of ``provmark sign``."""

    disclosure: Disclosure = Disclosure()
    thumbnail: bool = False
    sidecar: bool = False
    label: str | None = None
    tsa_url: str | None = None

    def __post_init__(self) -> None:
        if self.sidecar and self.label:
            raise SigningError("--label changes the pixels, --sidecar keeps the image untouched: pick one")
        if self.tsa_url and not self.tsa_url.startswith(("http://", "https://")):
            raise SigningError(f"time-stamp authority URL must start with http:// or https://, got {self.tsa_url!r}")


@dataclass(frozen=True)
class Watermarking:
    """Embed an invisible watermark before signing: key, strength, and the store that keeps
    each signed manifest under its watermark payload (so stripped copies can find it)."""

    key: bytes = field(repr=False)
    store: ManifestStore | None = None
    strength: float = 1.0
