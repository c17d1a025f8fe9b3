"""Reading concept codes: maximum-likelihood match of watermark logits against a registry's codes.

Attribution only has to tell a registry's N concepts apart, not read any of 2^64 payloads, so
the read bits are compared with every concept's 128 raw code bits and the closest code wins
(least total confidence on disagreeing bits). The false-attribution bound follows the
watermark's own calibration (:mod:`provmark.watermark.calibration`) with N codewords instead
of 2^64: under "no mark of this key" the read bits are uniform, so the chance that some
concept code is this close is at most ``N * #{words this close} / 2^128`` (hard: by bit
errors; soft: by confidence of the disagreeing bits; the smaller of the two, doubled).
Distinct codes differ in >= 21 bits, so far more read errors are tolerated than the 10 the
BCH decoder corrects, at the same false-positive level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from provmark.watermark.calibration import DEFAULT_P_THRESHOLD, count_light_subsets, hamming_ball
from provmark.watermark.codec import CODE_BITS
from provmark.watermark.decision import raw_bits

if TYPE_CHECKING:  # the registry builds its codebook with this module
    from provmark.concepts.registry import Registry

__all__ = ["DEFAULT_P_THRESHOLD", "CodeBook", "CodeMatch"]


@dataclass(frozen=True)
class CodeMatch:
    """The concept code closest to a reading: its index, bit errors, and false-match bound."""

    index: int
    distance: int
    p_value: float

    @property
    def confidence(self) -> float:
        """Share of the code's raw bits read right."""
        return 1.0 - self.distance / CODE_BITS


class CodeBook:
    """The raw code bits of a set of concepts (rows) under one watermark key."""

    def __init__(self, indexes: list[int], codes: np.ndarray) -> None:
        self.indexes = indexes
        self.codes = np.asarray(codes, dtype=np.uint8).reshape(len(indexes), CODE_BITS)

    @classmethod
    def from_registry(cls, registry: Registry) -> CodeBook:
        """Codes of every concept of ``registry`` (about 20 us per concept; ``registry.codebook()`` caches it)."""
        concepts = registry.concepts()
        key = registry.watermark_key
        codes = [raw_bits(registry.payload(c), key) for c in concepts]
        return cls([c.index for c in concepts], np.array(codes).reshape(len(concepts), CODE_BITS))

    def __len__(self) -> int:
        return len(self.indexes)

    def match(self, logits: np.ndarray, tests: int = 1) -> CodeMatch | None:
        """The closest concept to raw ``logits`` (> 0 reads 1), or None for an empty book.

        ``logits`` is one reading of 128 bits or several (``[V, 128]``, e.g. decoder views);
        the best reading counts and the bound is multiplied by their number and by ``tests``,
        how many readings are searched for one answer (e.g. regions of one image).
        """
        if not self.indexes:
            return None
        views = np.asarray(logits, dtype=np.float64).reshape(-1, CODE_BITS)
        found = min((self._match_one(view) for view in views), key=lambda m: (m.p_value, m.distance))
        p_value = min(1.0, found.p_value * tests * len(views))
        return CodeMatch(found.index, found.distance, p_value)

    def _match_one(self, logits: np.ndarray) -> CodeMatch:
        weights = np.abs(logits)
        wrong = self.codes != (logits > 0)
        costs = wrong.astype(np.float64) @ weights
        best = int(np.argmin(costs))
        distance = int(wrong[best].sum())
        count = len(self.indexes)
        hard = count * hamming_ball(distance)
        soft = count * count_light_subsets(weights, float(costs[best]))
        return CodeMatch(self.indexes[best], distance, min(1.0, 2.0 * math.ldexp(min(hard, soft), -CODE_BITS)))
