"""Payload error-correcting code: 64-bit payload -> extended BCH(127,64,t=10) -> 128 bits.

The codeword is the 64 payload bits followed by the 63 BCH parity bits (generator degree 63,
GF(2^7), Linux-kernel BCH via ``bchlib``), then one overall parity bit that makes the 128-bit
word even. Decoding is hard-decision BCH, extended by Chase-II soft decoding: the least
reliable bits are flipped in every combination and each trial is decoded; every distinct
codeword found is returned so the caller can keep the most significant one.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import bchlib
import numpy as np

from provmark.errors import WatermarkError

PAYLOAD_BYTES = 8
PAYLOAD_BITS = 8 * PAYLOAD_BYTES
BCH_N = 127
BCH_T = 10
CODE_BITS = BCH_N + 1
#: Least reliable positions flipped by Chase decoding (2**CHASE_BITS trials).
CHASE_BITS = 8

_BCH = bchlib.BCH(BCH_T, m=7)
_ECC_BYTES = _BCH.ecc_bytes
assert _BCH.n == BCH_N and _BCH.ecc_bits == BCH_N - PAYLOAD_BITS, "unexpected bchlib parameters"


@dataclass(frozen=True)
class Candidate:
    """A codeword found near the received word."""

    payload: bytes
    bits: np.ndarray  # the 128 codeword bits


def encode_payload(payload: bytes) -> np.ndarray:
    """Return the 128 codeword bits (uint8 0/1) carrying an 8-byte ``payload``."""
    if not isinstance(payload, (bytes, bytearray)) or len(payload) != PAYLOAD_BYTES:
        size = len(payload) if isinstance(payload, (bytes, bytearray)) else type(payload).__name__
        raise WatermarkError(f"a watermark payload has {PAYLOAD_BYTES} bytes (16 hex digits), got {size}")
    ecc = _BCH.encode(bytes(payload))
    bits = np.unpackbits(np.frombuffer(bytes(payload) + ecc, dtype=np.uint8))[:BCH_N]
    return np.append(bits, bits.sum() & 1).astype(np.uint8)


def decode_candidates(logits: np.ndarray, chase_bits: int = CHASE_BITS) -> list[Candidate]:
    """Return the distinct codewords found from 128 codeword logits (> 0 means bit 1).

    Plain BCH decoding of the hard decisions comes first; then each pattern of flips on the
    ``chase_bits`` least reliable of the first 127 positions is tried. The trial words are made
    and packed for all patterns at once; only the BCH decoder runs per trial.
    """
    logits = np.asarray(logits, dtype=np.float64)
    hard = (logits[:BCH_N] > 0).astype(np.uint8)
    weakest = np.argsort(np.abs(logits[:BCH_N]), kind="stable")[:chase_bits]
    trials = np.zeros((1 << len(weakest), _PACKED_BITS), dtype=np.uint8)
    trials[:, :BCH_N] = hard
    trials[:, weakest] ^= _flip_patterns(len(weakest))
    packed = np.packbits(trials, axis=1)
    found: dict[bytes, Candidate] = {}
    for row in packed:
        payload = _bch_decode(row)
        if payload is not None and payload not in found:
            found[payload] = Candidate(payload=payload, bits=encode_payload(payload))
    return list(found.values())


_PACKED_BITS = 8 * (PAYLOAD_BYTES + _ECC_BYTES)


@functools.lru_cache(maxsize=4)
def _flip_patterns(count: int) -> np.ndarray:
    """Every subset of ``count`` positions as rows of 0/1 flips ``[2**count, count]``, by size
    (no flip first), then in :func:`itertools.combinations` order."""
    rows = [np.isin(np.arange(count), flips) for r in range(count + 1) for flips in itertools.combinations(range(count), r)]
    out = np.array(rows, dtype=np.uint8).reshape(len(rows), count)
    out.setflags(write=False)
    return out


def _bch_decode(packed: np.ndarray) -> bytes | None:
    """Hard-decision BCH decoding of 127 bits packed (zero-padded) into payload and ECC bytes;
    the payload, or None past ``t`` errors."""
    data = bytearray(packed[:PAYLOAD_BYTES].tobytes())
    ecc = bytearray(packed[PAYLOAD_BYTES:].tobytes())
    if _BCH.decode(data, ecc) < 0:
        return None
    _BCH.correct(data, ecc)
    return bytes(data)
