"""Concept codes: the 64-bit watermark payload of each concept of a registry.

A payload is ``index (24 bits) || tag (40 bits)``, where the tag is a keyed hash of the
index under the registry's secret. The watermark turns every distinct payload into a
BCH(127,64) codeword scrambled by the key, so the raw codes of any two concepts differ in
at least 21 bits (the code's minimum distance): up to 10 bit errors are corrected and never
turn one concept into another. A decoded payload whose tag does not match (another registry,
an unmarked image) maps to no concept: chance 2^-40 per decode.
"""

from __future__ import annotations

import hashlib
import hmac

from provmark.errors import RegistryError

INDEX_BITS = 24
TAG_BITS = 64 - INDEX_BITS
#: Most concepts one registry can hold (16,777,216).
MAX_CONCEPTS = 1 << INDEX_BITS
SECRET_BYTES = 32
#: Keyed variants per concept in new registries: each marked image gets one at random, so that
#: averaging the images of a concept mixes unrelated raw words (collusion resistance); reading
#: tries them all (the false-attribution bound counts every variant's code).
DEFAULT_VARIANTS = 128
#: Most variants a registry may use (reading cost and the bound grow with the count).
MAX_VARIANTS = 256

_INDEX_BYTES = INDEX_BITS // 8
_TAG_BYTES = TAG_BITS // 8


def watermark_key(secret: bytes) -> bytes:
    """The watermark key of a registry (derived from its secret, never the secret itself)."""
    return hmac.new(secret, b"provmark/concepts/watermark-key", hashlib.sha256).digest()


def _tag(secret: bytes, index: int) -> bytes:
    msg = b"provmark/concepts/tag" + index.to_bytes(4, "big")
    return hmac.new(secret, msg, hashlib.sha256).digest()[:_TAG_BYTES]


def concept_payload(secret: bytes, index: int) -> bytes:
    """The 8-byte watermark payload of concept number ``index`` of the registry with ``secret``."""
    if not 0 <= index < MAX_CONCEPTS:
        raise RegistryError(f"concept index {index} out of range (a registry holds at most {MAX_CONCEPTS})")
    return index.to_bytes(_INDEX_BYTES, "big") + _tag(secret, index)


def concept_index(secret: bytes, payload: bytes | None) -> int | None:
    """The concept index a decoded ``payload`` carries, or None if it is not one of this registry's."""
    if payload is None or len(payload) != _INDEX_BYTES + _TAG_BYTES:
        return None
    index = int.from_bytes(payload[:_INDEX_BYTES], "big")
    if hmac.compare_digest(payload[_INDEX_BYTES:], _tag(secret, index)):
        return index
    return None
