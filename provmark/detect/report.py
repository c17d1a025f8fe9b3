"""Verification report: what an image says about itself, and whether that claim holds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from provmark.c2pa.reader import ManifestSummary
from provmark.metadata.exif import ExifDisclosure
from provmark.metadata.xmp import XmpDisclosure

INTACT, TAMPERED, UNVERIFIABLE, UNSIGNED = "intact", "tampered", "unverifiable", "unsigned"
#: Whether an image still shows what was signed, for a manifest recovered through the watermark.
CONTENT_MATCH, CONTENT_DIFFERS, CONTENT_UNCHECKED = "match", "differs", "unchecked"


@dataclass
class WatermarkReport:
    """Result of decoding the invisible watermark with the verifier's key."""

    detected: bool
    payload: str | None = None
    p_value: float | None = None
    manifest_recovered: bool = False
    #: Whether the payload equals the manifest's c2pa.soft-binding value (None: nothing to compare).
    matches_manifest: bool | None = None
    #: Why the image could not be checked for a watermark (e.g. too small), if it could not.
    error: str | None = None
    #: For a manifest recovered from the store: match, differs (possible copied watermark) or
    #: unchecked (the store entry has no fingerprint); None when nothing was recovered.
    content: str | None = None
    #: Hamming distance (of 64 bits) between the image and the signed pixels' fingerprint, and the
    #: largest distance that still counts as a match; None with a "match" proven by the embedded
    #: manifest's hard binding (these are the signed bytes: no fingerprint search is needed).
    content_distance: int | None = None
    content_threshold: int | None = None


@dataclass
class VerificationReport:
    """Everything ``provmark verify`` found out about one image.

    ``ai_generated`` is True, False or None (unknown); ``evidence`` says why.
    ``integrity`` is intact, tampered, unverifiable or unsigned; ``verified`` is True only for an intact
    manifest from a trusted signer.
    """

    path: str
    format: str
    integrity: str
    ai_generated: bool | None
    evidence: list[str] = field(default_factory=list)
    c2pa: ManifestSummary | None = None
    xmp: XmpDisclosure | None = None
    exif: ExifDisclosure | None = None
    watermark: WatermarkReport | None = None
    #: Why the pixels could not be (fully) checked: not decodable here, or decoded after a repair.
    image_error: str | None = None

    @property
    def verified(self) -> bool:
        """True when the image carries an intact manifest signed by a trusted signer."""
        return self.integrity == INTACT and self.c2pa is not None and self.c2pa.state == "Trusted"

    @property
    def ai_label(self) -> str:
        """``ai_generated`` as true / false / unknown."""
        return "unknown" if self.ai_generated is None else str(self.ai_generated).lower()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``ai_generated`` is true, false or "unknown")."""
        c2pa: dict[str, Any] = {"present": self.c2pa is not None}
        if self.c2pa is not None:
            c2pa.update(dataclasses.asdict(self.c2pa))
        return {
            "path": self.path,
            "format": self.format,
            "ai_generated": self.ai_generated if self.ai_generated is not None else "unknown",
            "integrity": self.integrity,
            "verified": self.verified,
            "evidence": self.evidence,
            "c2pa": c2pa,
            "metadata": {
                "xmp": dataclasses.asdict(self.xmp) if self.xmp else None,
                "exif": dataclasses.asdict(self.exif) if self.exif else None,
            },
            "watermark": dataclasses.asdict(self.watermark) if self.watermark else None,
            "image_error": self.image_error,
        }
