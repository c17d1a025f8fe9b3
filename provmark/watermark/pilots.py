"""Pilot bits: keyed raw bits of known value that tell a mark from its negative.

The 128 codeword bits alone are malleable: negating the residual flips every raw bit, and the
complement of a BCH(127,64)+parity codeword is another valid codeword. 16 more carriers carry
pilot bits whose values are derived from the key (HMAC-SHA256 under their own label). A reading
counts only when its pilots agree with those values in sum, ``sum(pilot_sign * logit) > 0``,
so a negated mark (pilots read inverted) is rejected, and whoever lacks the key cannot tell
pilots from payload bits to flip one without the other.

Under "no mark of this key" the pilot carriers are independent of the codeword carriers, so
the test is independent of the codeword bits: keeping or dropping a reading on it leaves the
bound of :mod:`provmark.watermark.calibration` intact (it can only remove false positives).
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from provmark.watermark.codec import CODE_BITS
from provmark.watermark.scramble import scrambler_for

#: Pilot bits carried after the 128 codeword bits.
PILOT_BITS = 16
#: Carriers a model needs: codeword bits plus pilots.
CARRIED_BITS = CODE_BITS + PILOT_BITS

_LABEL = b"provmark watermark v2 pilots"


def pilot_bits(key: bytes) -> np.ndarray:
    """The ``PILOT_BITS`` pilot values (uint8 0/1) of ``key``."""
    scrambler_for(key)  # validates the key
    stream = hmac.new(bytes(key), _LABEL, hashlib.sha256).digest()
    return np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:PILOT_BITS]


def carried_bits(raw: np.ndarray, key: bytes) -> np.ndarray:
    """The ``CARRIED_BITS`` bits a model embeds: the 128 raw codeword bits, then the pilots."""
    return np.concatenate([np.asarray(raw, dtype=np.uint8), pilot_bits(key)])


def polarity(views: np.ndarray, key: bytes) -> np.ndarray:
    """Per view ``[V]``: the pilot logits' agreement with the key's pilot values (> 0: upright)."""
    views = np.atleast_2d(np.asarray(views, dtype=np.float64))
    signs = 2.0 * pilot_bits(key).astype(np.float64) - 1.0
    return views[:, CODE_BITS:CARRIED_BITS] @ signs


def upright_views(views: np.ndarray, key: bytes) -> np.ndarray:
    """The 128 codeword logits ``[V',128]`` of the views ``[V,144]`` whose pilots read upright."""
    views = np.atleast_2d(np.asarray(views, dtype=np.float64))
    return views[polarity(views, key) > 0, :CODE_BITS]
