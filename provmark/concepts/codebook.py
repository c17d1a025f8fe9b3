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

A registry with M keyed variants (:data:`provmark.concepts.codes.DEFAULT_VARIANTS`) marks each
image with one of M raw words per concept; reading matches all ``M x N`` words, so the bound
counts ``M x N`` codewords (the p-value is multiplied by M).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from provmark.watermark.calibration import DEFAULT_P_THRESHOLD, count_light_subsets, hamming_ball
from provmark.watermark.codec import CODE_BITS
from provmark.watermark.decision import raw_bits
from provmark.watermark.training_mark import FEATURES, code_signs

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
    """The raw code bits of a set of concepts under one watermark key, and of their variants.

    ``codes`` is ``[N, 128]``: each concept's variant-0 word (what the concept channel carries).
    ``variant_masks`` is ``[M, 128]``, row 0 all zeros: variant v of every concept's word is that
    word XOR row v (the keyed variant mask, in raw-bit order), so M variants cost M x 128 bits,
    not M x N x 128. ``training`` is ``[N, 96]``: each concept's training-mark signs
    (:func:`provmark.watermark.training_mark.code_signs`; zeros when not given).
    """

    def __init__(
        self, indexes: list[int], codes: np.ndarray, variant_masks: np.ndarray | None = None,
        training: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.indexes = indexes
        self.codes = np.asarray(codes, dtype=np.uint8).reshape(len(indexes), CODE_BITS)
        masks = np.zeros((1, CODE_BITS), np.uint8) if variant_masks is None else np.asarray(variant_masks, np.uint8)
        self.masks = masks.reshape(-1, CODE_BITS)
        self.variants = len(self.masks)
        self._signs = self.codes.astype(np.float32) * 2.0 - 1.0
        self._flips = 1.0 - 2.0 * self.masks.astype(np.float32)  # [M, 128]: -1 where variant v flips a bit
        signs = np.zeros((len(indexes), FEATURES), np.int8) if training is None else np.asarray(training, np.int8)
        self.training = signs.reshape(len(indexes), FEATURES)  # int8: 96 B per concept sent to cluster workers

    @classmethod
    def from_registry(cls, registry: Registry) -> CodeBook:
        """Codes of every concept of ``registry``, its variant masks and training signs (70 us per
        concept measured on a loaded 2-core machine; ``registry.codebook()`` caches it)."""
        concepts = registry.concepts()
        key = registry.watermark_key
        payloads = [registry.payload(c) for c in concepts]
        codes = np.array([raw_bits(payload, key) for payload in payloads], dtype=np.uint8)
        probe = bytes(8)  # a variant's mask is the same for every payload
        masks = [raw_bits(probe, key, v) ^ raw_bits(probe, key) for v in range(registry.variants)]
        training = np.array([code_signs(payload, key) for payload in payloads])
        return cls([c.index for c in concepts], codes.reshape(len(concepts), CODE_BITS), np.array(masks), training)

    def __len__(self) -> int:
        return len(self.indexes)

    def match(self, logits: np.ndarray, tests: int = 1) -> CodeMatch | None:
        """The closest concept to raw ``logits`` (> 0 reads 1), or None for an empty book.

        ``logits`` is one reading of 128 bits or several (``[V, 128]``, e.g. decoder views);
        the best reading counts and the bound is multiplied by their number and by ``tests``,
        how many readings are searched for one answer (e.g. regions of one image). No reading
        (``[0, 128]``, e.g. every view's pilots inverted) matches nothing: None.
        """
        views = np.asarray(logits, dtype=np.float64).reshape(-1, CODE_BITS)
        if not self.indexes or not len(views):
            return None
        found = min((self._match_one(view) for view in views), key=lambda m: (m.p_value, m.distance))
        p_value = min(1.0, found.p_value * tests * len(views))
        return CodeMatch(found.index, found.distance, p_value)

    def _match_one(self, logits: np.ndarray) -> CodeMatch:
        weights = np.abs(logits)
        agreement = self._signs @ (self._flips * logits.astype(np.float32)).T  # [N, M]
        concept, variant = np.unravel_index(int(np.argmax(agreement)), agreement.shape)  # least confidence against
        wrong = (self.codes[concept] ^ self.masks[variant]) != (logits > 0)
        distance = int(wrong.sum())
        count = agreement.size  # every variant of every concept is a codeword the reading could match
        hard = count * hamming_ball(distance)
        soft = count * count_light_subsets(weights, float(weights[wrong].sum()))
        return CodeMatch(self.indexes[concept], distance, min(1.0, 2.0 * math.ldexp(min(hard, soft), -CODE_BITS)))
