"""From raw bit logits to a calibrated decision: descramble, decode, bound the false positives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provmark.errors import WatermarkError
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD, p_value
from provmark.watermark.codec import CODE_BITS, decode_candidates, encode_payload
from provmark.watermark.scramble import scrambler_for


@dataclass
class DecodeResult:
    """What a watermark decoder read from one image.

    ``p_value`` bounds the chance that an image without this key's mark decodes this well
    (see :mod:`provmark.watermark.calibration`); ``detected`` is ``p_value <= threshold``.
    ``bit_confidence`` is, per raw bit in embedding order, the decoder's confidence in its
    hard decision (0.5-1); ``errors_corrected`` is the number of bits that differ from the
    decoded codeword (None when nothing was decoded). ``payload`` is None unless detected.
    """

    detected: bool
    payload: bytes | None
    p_value: float
    bit_confidence: list[float]
    errors_corrected: int | None

    @property
    def bit_confidence_mean(self) -> float:
        """Mean of :attr:`bit_confidence`."""
        return float(np.mean(self.bit_confidence)) if self.bit_confidence else 0.0


def raw_bits(payload: bytes, key: bytes, variant: int = 0) -> np.ndarray:
    """The 128 raw bits (uint8 0/1, embedding order) that carry ``payload`` under ``key`` (and ``variant``)."""
    return scrambler_for(key, variant).scramble(encode_payload(payload))


def detect(raw_logits: np.ndarray, key: bytes, threshold: float = DEFAULT_P_THRESHOLD) -> DecodeResult:
    """Decide from the model's raw logits whether they carry a mark made with ``key``.

    ``raw_logits`` is ``[128]`` or ``[V,128]``: V decoder views of the same image (e.g. with and
    without the model's alignment search; V may be 0). The best view wins and its p-value is
    multiplied by V (Bonferroni), so the bound holds whichever view is chosen.
    """
    views = np.asarray(raw_logits, dtype=np.float64)
    views = views.reshape(0, CODE_BITS) if views.size == 0 else np.atleast_2d(views)
    if views.ndim != 2 or views.shape[1] != CODE_BITS:
        raise WatermarkError(f"a watermark decoder gives {CODE_BITS} logits per view, got shape {views.shape}")
    scrambler = scrambler_for(key)
    best: tuple[float, int, bytes, int] | None = None
    for index, raw in enumerate(views):
        logits = scrambler.descramble_logits(raw)
        for candidate in decode_candidates(logits):
            p, distance = p_value(logits, candidate.bits)
            if best is None or p < best[0]:
                best = (p, distance, candidate.payload, index)
    chosen = views[best[3]] if best else (views[0] if len(views) else np.zeros(CODE_BITS))
    confidence = (1.0 / (1.0 + np.exp(-np.abs(chosen)))).tolist()
    if best is None:
        return DecodeResult(False, None, 1.0, confidence, None)
    p = min(1.0, best[0] * len(views))
    detected = p <= threshold
    return DecodeResult(detected, best[2] if detected else None, p, confidence, best[1])
