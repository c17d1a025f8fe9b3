"""Invisible watermark: keyed 64-bit payloads, embedded and decoded at any resolution.

This package's coding core imports no torch: payload coding (:mod:`~provmark.watermark.codec`),
key scrambling (:mod:`~provmark.watermark.scramble`), the false-positive bounds
(:mod:`~provmark.watermark.calibration`), the decision from logits
(:mod:`~provmark.watermark.decision`), keys (:mod:`~provmark.watermark.keyfile`) and the concept
channel. The neural embedder and decoder live in :mod:`provmark.watermark.marking`
(``embed_watermark``, ``decode_watermark``), imported only by code that touches pixels.
"""

from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.codec import PAYLOAD_BYTES
from provmark.watermark.decision import DecodeResult
from provmark.watermark.keyfile import new_watermark_key, read_watermark_key, write_watermark_key

__all__ = ["DEFAULT_P_THRESHOLD", "PAYLOAD_BYTES", "DecodeResult", "new_watermark_key", "read_watermark_key", "write_watermark_key"]
