"""What the service does, without HTTP: verify uploads, sign for pipelines, look up the store.

Torch is imported by the worker processes only (see :mod:`provmark.serve.pool`).
Keys, trust anchors, watermark key, model and registry are loaded once per worker process,
at start-up; manifest store entries, which never change once written, are cached as read.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from provmark.c2pa.fingerprint import HASH_BITS
from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.c2pa.reader import manifest_thumbnail
from provmark.concepts.registry import Registry
from provmark.detect.verify import Verifier, verify_loaded
from provmark.errors import KeyMaterialError
from provmark.io.images import MAX_PIXELS, load_image
from provmark.keys import load_keys
from provmark.serve.jumbf import active_manifest_store
from provmark.serve.store import CACHED_ENTRIES, CachedStore, Recent
from provmark.signing.signer import Signer
from provmark.watermark.codec import PAYLOAD_BYTES

#: Manifest ids are the watermark payloads, in hex.
MANIFEST_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Match:
    """One soft-binding match: the manifest id and, when the content was compared, a 0-100 score."""

    manifest_id: str
    similarity: int | None = None


class Engine:
    """Verification (and optionally signing) with one keys folder, its manifest store and
    optionally a concept registry; what one service worker holds (see :func:`start_engine`).

    Built on the front door: a :class:`~provmark.Verifier` and, for signing, a :class:`~provmark.Signer`.

    >>> engine = Engine("keys")  # doctest: +SKIP
    >>> engine.report(open("photo.jpg", "rb").read(), "photo.jpg")["ai_generated"]  # doctest: +SKIP
    True
    """

    def __init__(self, keys_dir: str | os.PathLike[str], *, password: str | None = None, signing: bool = False,
                 registry: str | os.PathLike[str] | None = None, max_pixels: int = MAX_PIXELS) -> None:  # fmt: skip
        keys = load_keys(keys_dir)
        if keys.watermark_key is None:
            raise KeyMaterialError(f"{keys_dir}: no watermark.key: the service needs a keys folder from 'provmark keys init'")
        self.keys_dir = Path(keys_dir)
        self.max_pixels = max_pixels
        self.watermark_key: bytes = keys.watermark_key
        self.store = CachedStore(keys.store.root)
        self.verifier = Verifier(keys)
        self.verifier.options.store = self.store
        self.verifier.options.recovered = Recent(CACHED_ENTRIES)
        self.signer = Signer(keys, password=password) if signing else None
        self.registry = Registry.open(registry) if registry is not None else None

    def warm_up(self) -> None:
        """Load the watermark model now rather than in the first request."""
        from provmark.watermark.marking import decode_watermark

        decode_watermark(Image.new("RGB", (256, 256), (128, 128, 128)), self.watermark_key)

    def report(self, data: bytes, name: str) -> dict[str, Any]:
        """The ``provmark verify --json`` report of uploaded file bytes called ``name``, with the
        registry's concepts under ``attribution`` when the service has a registry."""
        loaded = load_image(data, max_pixels=self.max_pixels)
        loaded.path = Path(name)
        out = verify_loaded(loaded, data, self.verifier.options).to_dict()
        if self.registry is not None:
            from provmark.detect.attribution import attribution_json

            out["attribution"] = attribution_json(loaded.image, self.registry)
        return out

    def matches_by_binding(self, alg: str, value: str) -> list[Match]:
        """Manifests whose soft binding is ``value`` (base64 of the watermark payload)."""
        payload = decode_binding(alg, value)
        return [Match(payload.hex())] if self.store.get(payload) is not None else []

    def matches_by_content(self, data: bytes, hint: bytes | None = None) -> list[Match]:
        """Manifests found through the watermark read from an uploaded image, then the one a
        ``hint`` payload names (a binding the client read itself), each scored by the content
        fingerprint where one is stored."""
        from provmark.watermark.marking import decode_watermark

        loaded = load_image(data, max_pixels=self.max_pixels)
        result = decode_watermark(loaded.image, self.watermark_key)
        found = [result.payload] if result.detected and result.payload is not None else []
        if hint is not None and hint not in found:
            found.append(hint)
        matches = []
        for payload in found:
            if self.store.get(payload) is None:
                continue
            fingerprint = self.store.fingerprint(payload)
            similarity = None if fingerprint is None else round(100 * (1 - fingerprint.distance(loaded.image) / HASH_BITS))
            matches.append(Match(payload.hex(), similarity))
        return matches

    def manifest(self, manifest_id: str, active_only: bool = False) -> bytes | None:
        """The manifest store (application/c2pa) kept under ``manifest_id``, or with ``active_only``
        a store holding its active manifest alone."""
        if not MANIFEST_ID.match(manifest_id):
            raise ValueError(f"manifest ids are {2 * PAYLOAD_BYTES} lowercase hex digits")
        store = self.store.get(bytes.fromhex(manifest_id))
        return active_manifest_store(store) if store is not None and active_only else store

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

    def sign(self, data: bytes, *, prompt: str | None = None, model: str | None = None,
             title: str | None = None) -> tuple[bytes, str, str | None]:  # fmt: skip
        """Signed file bytes, their MIME type and the watermark payload (hex) = manifest id."""
        if self.signer is None:
            raise KeyMaterialError("signing is off")
        load_image(data, max_pixels=self.max_pixels)  # the same limits as verify, before any work
        signed = self.signer.sign_image(data, prompt=prompt, model=model, title=title or "image")
        return signed.data, signed.mime, signed.watermark_payload.hex() if signed.watermark_payload else None


def start_engine(keys_dir: str | os.PathLike[str], **options: Any) -> Engine:
    """An :class:`Engine` for one worker process: torch on one thread, the model loaded."""
    from provmark.models.threads import use_one_thread

    use_one_thread()
    engine = Engine(keys_dir, **options)
    engine.warm_up()
    return engine


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
