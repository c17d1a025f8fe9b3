"""Invisible watermark: keyed 64-bit payloads, embedded and decoded at any resolution.

``embed_watermark(image, payload, key)`` and ``decode_watermark(image, key)`` are the public
entry points; ``DecodeResult.p_value`` is a calibrated false-positive bound.
"""

from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.codec import PAYLOAD_BYTES
from provmark.watermark.detection import DecodeResult
from provmark.watermark.marking import decode_watermark, embed_watermark, embed_watermark_with_strength

__all__ = ["DEFAULT_P_THRESHOLD", "PAYLOAD_BYTES", "DecodeResult", "decode_watermark", "embed_watermark", "embed_watermark_with_strength"]
