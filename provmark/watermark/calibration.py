"""False-positive bounds for watermark detection.

Null hypothesis: the image does not carry a mark made with this key (unmarked image, or a
mark made with another key). Under it the descrambled bits are uniform and independent of
their confidences, because the keyed XOR mask is unknown to whatever produced the pixels.
The code has ``2**64`` codewords of ``n = 128`` bits.

*Hard bound.* The chance that a uniform 128-bit word lies within Hamming distance ``d`` of
some codeword is at most ``2**64 * sum_{i<=d} C(128, i) / 2**128``.

*Soft bound.* Given the confidences ``w_i = |logit_i|``, the chance that some codeword
disagrees with the hard decisions only on bits whose confidences sum to at most ``s`` is at
most ``2**64 * #{E : sum_{i in E} w_i <= s} / 2**128`` (the subsets are counted exactly by
dynamic programming on confidences rounded down, which can only over-count).

Both bounds hold whatever decoder (plain or Chase) picked the codeword, since they bound the
existence of any codeword that close. The reported ``p_value`` is ``2 * min(hard, soft)``
(Bonferroni over the two statistics), and a mark is detected when it is at most
:data:`DEFAULT_P_THRESHOLD`.
"""

from __future__ import annotations

import math

import numpy as np

from provmark.watermark.codec import CODE_BITS, PAYLOAD_BITS

DEFAULT_P_THRESHOLD = 1e-6
#: Resolution of the confidence rounding in the soft bound.
_SOFT_LEVELS = 1024


def hamming_ball(distance: int, n: int = CODE_BITS) -> int:
    """Number of n-bit words within Hamming distance ``distance`` of a given word."""
    return sum(math.comb(n, i) for i in range(distance + 1))


def hard_bound(distance: int, n: int = CODE_BITS) -> float:
    """Chance that a uniform n-bit word is within ``distance`` of one of ``2**64`` codewords."""
    return min(1.0, math.ldexp(hamming_ball(distance, n), PAYLOAD_BITS - n))


def soft_bound(confidences: np.ndarray, disagreement: float) -> float:
    """Chance that some codeword disagrees only on bits of total confidence <= ``disagreement``."""
    w = np.asarray(confidences, dtype=np.float64)
    return min(1.0, math.ldexp(count_light_subsets(w, disagreement), PAYLOAD_BITS - w.size))


def count_light_subsets(weights: np.ndarray, budget: float) -> float:
    """Upper bound on the number of subsets of ``weights`` (all >= 0) whose sum is <= ``budget``.

    Weights are rounded down to multiples of ``budget / 1024`` (a subset within budget stays
    within it after rounding down) and the rounded subsets are counted exactly.
    """
    w = np.asarray(weights, dtype=np.float64)
    if budget <= 0:
        return 2.0 ** int(np.count_nonzero(w <= 0))
    units = np.floor(w / (budget / _SOFT_LEVELS)).astype(np.int64)
    counts = np.zeros(_SOFT_LEVELS + 1)
    counts[0] = 1.0
    for u in units:
        if u == 0:
            counts *= 2.0
        elif u <= _SOFT_LEVELS:
            counts[u:] += counts[:-u].copy()
    return float(counts.sum())


def p_value(logits: np.ndarray, codeword: np.ndarray) -> tuple[float, int]:
    """Return ``(p_value, distance)`` of ``codeword`` against 128 descrambled logits."""
    logits = np.asarray(logits, dtype=np.float64)
    wrong = (logits > 0).astype(np.uint8) != np.asarray(codeword, dtype=np.uint8)
    distance = int(wrong.sum())
    confidences = np.abs(logits)
    soft = soft_bound(confidences, float(confidences[wrong].sum()))
    return min(1.0, 2.0 * min(hard_bound(distance), soft)), distance


def max_hard_distance(threshold: float = DEFAULT_P_THRESHOLD) -> int:
    """Largest number of bit errors a detection can have on the hard bound alone."""
    d = -1
    while 2.0 * hard_bound(d + 1) <= threshold:
        d += 1
    return d
