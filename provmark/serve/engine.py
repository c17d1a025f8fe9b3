"""What the service does, without HTTP: verify uploads, sign for pipelines, look up the store.

Keys, trust anchors, watermark key and model are loaded once, at start-up.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from provmark.c2pa.fingerprint import HASH_BITS
from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.c2pa.reader import manifest_thumbnail
from provmark.c2pa.store import ManifestStore
from provmark.detect.report import VerificationReport
from provmark.detect.verify import Verifier, verify_loaded
from provmark.errors import KeyMaterialError
from provmark.io.images import load_image
from provmark.keys import load_keys
from provmark.signing.signer import Signer
from provmark.watermark.codec import PAYLOAD_BYTES
from provmark.watermark.marking import decode_watermark

#: Manifest ids are the watermark payloads, in hex.
MANIFEST_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Match:
    """One soft-binding match: the manifest id and, when the content was compared, a 0-100 score."""

    manifest_id: str
    similarity: int | None = None


class Engine:
    """Verification (and optionally signing) with one keys folder and its manifest store.

    Built on the front door: a :class:`~provmark.Verifier` and, for signing, a :class:`~provmark.Signer`.

    >>> engine = Engine("keys")  # doctest: +SKIP
    >>> engine.verify(open("photo.jpg", "rb").read(), "photo.jpg", 40_000_000).ai_generated  # doctest: +SKIP
    """

    def __init__(self, keys_dir: str | os.PathLike[str], *, password: str | None = None, signing: bool = False) -> None:
        keys = load_keys(keys_dir)
        if keys.watermark_key is None:
            raise KeyMaterialError(f"{keys_dir}: no watermark.key: the service needs a keys folder from 'provmark keys init'")
        self.keys_dir = Path(keys_dir)
        self.watermark_key: bytes = keys.watermark_key
        self.store: ManifestStore = keys.store
        self.verifier = Verifier(keys)
        self.signer = Signer(keys, password=password) if signing else None

    def warm_up(self) -> None:
        """Load the watermark model now rather than in the first request."""
        decode_watermark(Image.new("RGB", (256, 256), (128, 128, 128)), self.watermark_key)

    def verify(self, data: bytes, name: str, max_pixels: int) -> VerificationReport:
        """Verify uploaded file bytes, as ``provmark verify`` verifies a file called ``name``."""
        loaded = load_image(data, max_pixels=max_pixels)
        loaded.path = Path(name)
        return verify_loaded(loaded, data, self.verifier.options)

    def matches_by_binding(self, alg: str, value: str) -> list[Match]:
        """Manifests whose soft binding is ``value`` (base64 of the watermark payload)."""
        payload = decode_binding(alg, value)
        return [Match(payload.hex())] if self.store.get(payload) is not None else []

    def matches_by_content(self, data: bytes, max_pixels: int) -> list[Match]:
        """Manifests found through the watermark read from an uploaded image."""
        loaded = load_image(data, max_pixels=max_pixels)
        result = decode_watermark(loaded.image, self.watermark_key)
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
            raise ValueError(f"manifest ids are {2 * PAYLOAD_BYTES} lowercase hex digits")
        return self.store.get(bytes.fromhex(manifest_id))

    def thumbnail(self, manifest_id: str) -> tuple[bytes, str] | None:
        """What was signed under ``manifest_id``: the manifest's thumbnail, else a gray preview
        of the content fingerprint (PNG), else None."""
        store = self.manifest(manifest_id)
        if store is None:
            return None
        found = manifest_thumbnail(store)
        if found is not None:
            return found
        fingerprint = self.store.fingerprint(bytes.fromhex(manifest_id))
        if fingerprint is None:
            return None
        buf = io.BytesIO()
        fingerprint.preview().save(buf, format="PNG")
        return buf.getvalue(), "image/png"

    def sign(self, data: bytes, max_pixels: int, *, prompt: str | None = None, model: str | None = None,
             title: str | None = None) -> tuple[bytes, str, str | None]:  # fmt: skip
        """Signed file bytes, their MIME type and the watermark payload (hex) = manifest id."""
        if self.signer is None:
            raise KeyMaterialError("signing is off")
        load_image(data, max_pixels=max_pixels)  # the same limits as verify, before any work
        signed = self.signer.sign_image(data, prompt=prompt, model=model, title=title or "image")
        return signed.data, signed.mime, signed.watermark_payload.hex() if signed.watermark_payload else None


def decode_binding(alg: str, value: str) -> bytes:
    """The payload of a soft-binding value (base64), for our algorithm only."""
    if alg != SOFT_BINDING_ALG:
        raise ValueError(f"unsupported soft-binding algorithm {alg!r} (supported: {SOFT_BINDING_ALG})")
    try:
        payload = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("value is not base64") from None
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"a {SOFT_BINDING_ALG} value is {PAYLOAD_BYTES} bytes, got {len(payload)}")
    return payload
