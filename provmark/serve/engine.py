"""What the service does, without HTTP: verify uploads, sign for pipelines, look up the store.

Keys, trust anchors, watermark key and model are loaded once, at start-up.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provmark.c2pa.fingerprint import HASH_BITS
from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.c2pa.store import ManifestStore
from provmark.detect.report import VerificationReport
from provmark.errors import KeyMaterialError
from provmark.io.images import load_image

#: Manifest ids are the 8-byte watermark payloads, in hex.
MANIFEST_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Match:
    """One soft-binding match: the manifest id and, when the content was compared, a 0-100 score."""

    manifest_id: str
    similarity: int | None = None


class Engine:
    """Verification (and optionally signing) with one keys folder and its manifest store.

    >>> engine = Engine("keys")  # doctest: +SKIP
    >>> engine.verify(open("photo.jpg", "rb").read(), "photo.jpg").ai_generated  # doctest: +SKIP
    """

    def __init__(self, keys_dir: str | os.PathLike[str], *, password: str | None = None, signing: bool = False) -> None:
        from provmark.detect.verify import build_options

        self.keys_dir = Path(keys_dir)
        self.options = build_options(keys_dir=self.keys_dir)
        if self.options.watermark_key is None or self.options.store is None:
            raise KeyMaterialError(f"{self.keys_dir}: no watermark.key: the service needs a keys folder from 'provmark keys init'")
        self.store: ManifestStore = self.options.store
        self.signer = _Signer(self.keys_dir, password) if signing else None

    def warm_up(self) -> None:
        """Load the watermark model now rather than in the first request."""
        from PIL import Image

        from provmark.watermark import decode_watermark

        decode_watermark(Image.new("RGB", (256, 256), (128, 128, 128)), self.options.watermark_key or b"")

    def verify(self, data: bytes, name: str, max_pixels: int) -> VerificationReport:
        """Verify uploaded file bytes, as ``provmark verify`` verifies a file called ``name``."""
        from provmark.detect.verify import verify_loaded

        loaded = load_image(data, max_pixels=max_pixels)
        loaded.path = Path(name)
        return verify_loaded(loaded, data, self.options)

    def matches_by_binding(self, alg: str, value: str) -> list[Match]:
        """Manifests whose soft binding is ``value`` (base64 of the watermark payload)."""
        payload = decode_binding(alg, value)
        return [Match(payload.hex())] if self.store.get(payload) is not None else []

    def matches_by_content(self, data: bytes, max_pixels: int) -> list[Match]:
        """Manifests found through the watermark read from an uploaded image."""
        from provmark.watermark import decode_watermark

        loaded = load_image(data, max_pixels=max_pixels)
        result = decode_watermark(loaded.image, self.options.watermark_key or b"")
        if not result.detected or result.payload is None or self.store.get(result.payload) is None:
            return []
        fingerprint = self.store.fingerprint(result.payload)
        if fingerprint is None:
            return [Match(result.payload.hex())]
        distance = fingerprint.distance(loaded.image)
        return [Match(result.payload.hex(), round(100 * (1 - distance / HASH_BITS)))]

    def manifest(self, manifest_id: str) -> bytes | None:
        """The manifest store (application/c2pa) kept under ``manifest_id``."""
        if not MANIFEST_ID.match(manifest_id):
            raise ValueError(f"manifest ids are {2 * 8} lowercase hex digits")
        return self.store.get(bytes.fromhex(manifest_id))

    def sign(self, data: bytes, max_pixels: int, **disclosure: Any) -> tuple[bytes, str, str | None]:
        """Signed file bytes, their MIME type and the watermark payload (hex)."""
        if self.signer is None:
            raise KeyMaterialError("signing is off")
        load_image(data, max_pixels=max_pixels)  # the same limits as verify, before any work
        return self.signer.sign(data, **disclosure)


def decode_binding(alg: str, value: str) -> bytes:
    """The payload of a soft-binding value (base64), for our algorithm only."""
    if alg != SOFT_BINDING_ALG:
        raise ValueError(f"unsupported soft-binding algorithm {alg!r} (supported: {SOFT_BINDING_ALG})")
    try:
        payload = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("value is not base64") from None
    if len(payload) != 8:
        raise ValueError(f"a {SOFT_BINDING_ALG} value is 8 bytes, got {len(payload)}")
    return payload


class _Signer:
    """Signing identity, watermark key and store, loaded once."""

    def __init__(self, keys_dir: Path, password: str | None) -> None:
        from provmark.c2pa.files import watermarking_from_files
        from provmark.c2pa.identity import identity_from_keys_dir

        self.identity = identity_from_keys_dir(keys_dir, password)
        self.watermark = watermarking_from_files(keys_dir)

    def sign(self, data: bytes, *, prompt: str | None = None, model: str | None = None, title: str | None = None,
             source_type: str = "trainedAlgorithmicMedia") -> tuple[bytes, str, str | None]:  # fmt: skip
        from provmark.c2pa.options import Disclosure, SignOptions
        from provmark.c2pa.pipeline import sign_image

        fields = {"generator": model} if model else {}
        disclosure = Disclosure(**fields, prompt=prompt, title=title, source_type=source_type)
        signed = sign_image(data, self.identity, SignOptions(disclosure), title=title or "image", watermark=self.watermark)
        payload = signed.watermark_payload.hex() if signed.watermark_payload else None
        return signed.data, signed.mime, payload
