"""Keyed scrambling of the 128 raw watermark bits.

Two secrets are derived from the watermark key with HMAC-SHA256 under fixed labels:

- a keystream of 128 bits XORed onto the codeword, so that without the key the embedded bits
  look uniformly random and a forger cannot write a valid codeword;
- a permutation of the 128 bit positions (Fisher-Yates driven by a SHAKE-256 stream), so that
  spatially or channel-wise correlated decoding errors are spread over the codeword;
- for ``variant`` v > 0, one more keyed mask HMAC(key, label || v) XORed onto the keystream:
  the same payload then gives unrelated raw words in different images (concept marks use it
  against collusion: averaging images of several variants mixes their words).

Derivation is pure Python and stable across numpy versions.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from provmark.errors import WatermarkError
from provmark.watermark.codec import CODE_BITS

#: Shortest key accepted (keys written by ``provmark keys init`` have 32 bytes).
MIN_KEY_BYTES = 16

_LABEL_XOR = b"provmark watermark v1 keystream"
_LABEL_PERM = b"provmark watermark v1 permutation"
_LABEL_VARIANT = b"provmark watermark v1 variant "


@dataclass(frozen=True)
class Scrambler:
    """Key-derived XOR mask and permutation; ``position[i]`` is where codeword bit ``i`` is embedded."""

    mask: np.ndarray
    position: np.ndarray

    def scramble(self, bits: np.ndarray) -> np.ndarray:
        """Map codeword bits (0/1, length 128) to the raw bits the model embeds."""
        raw = np.empty(CODE_BITS, dtype=np.uint8)
        raw[self.position] = np.asarray(bits, dtype=np.uint8) ^ self.mask
        return raw

    def descramble_logits(self, logits: np.ndarray) -> np.ndarray:
        """Map the model's raw logits (> 0 means 1) to codeword logits."""
        sign = 1.0 - 2.0 * self.mask.astype(np.float64)
        return np.asarray(logits, dtype=np.float64)[self.position] * sign


def scrambler_for(key: bytes, variant: int = 0) -> Scrambler:
    """Return the scrambler derived from ``key`` and ``variant`` (0: the plain keystream; cached)."""
    if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
        raise WatermarkError(f"a watermark key has at least {MIN_KEY_BYTES} bytes (use 'provmark keys init')")
    if not 0 <= variant < 1 << 32:
        raise WatermarkError(f"a watermark variant is a number in 0..2^32-1, got {variant}")
    base = _derive(bytes(key))
    if variant == 0:
        return base
    return _vary(bytes(key), variant)


@lru_cache(maxsize=4096)
def _vary(key: bytes, variant: int) -> Scrambler:
    stream = hmac.new(key, _LABEL_VARIANT + variant.to_bytes(4, "big"), hashlib.sha256).digest()
    base = _derive(key)
    mask = base.mask ^ np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:CODE_BITS]
    mask.setflags(write=False)
    return Scrambler(mask=mask, position=base.position)


@lru_cache(maxsize=64)
def _derive(key: bytes) -> Scrambler:
    stream = hmac.new(key, _LABEL_XOR, hashlib.sha256).digest()
    mask = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:CODE_BITS]
    seed = hmac.new(key, _LABEL_PERM, hashlib.sha256).digest()
    position = np.array(_keyed_permutation(seed, CODE_BITS), dtype=np.int64)
    mask.setflags(write=False)
    position.setflags(write=False)
    return Scrambler(mask=mask, position=position)


def _keyed_permutation(seed: bytes, n: int) -> list[int]:
    """Fisher-Yates shuffle of ``range(n)`` with unbiased draws from a SHAKE-256 stream."""
    stream = hashlib.shake_256(seed).digest(8 * n * 4)
    cursor = 0
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        bound = i + 1
        limit = (1 << 16) - (1 << 16) % bound  # reject draws that would bias the modulo
        while True:
            draw = int.from_bytes(stream[cursor : cursor + 2], "big")
            cursor += 2
            if draw < limit:
                break
        j = draw % bound
        order[i], order[j] = order[j], order[i]
    return order
