"""Model configuration: everything needed to rebuild a network before loading its weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from provmark.errors import ModelError


@dataclass(frozen=True)
class ModelConfig:
    """Shape and fixed (non-learned) settings of a watermark model.

    ``size`` is the square internal resolution S, ``num_bits`` the raw bit count L,
    ``residual_channels`` 1 for a luma residual (added equally to R, G, B) or 3.
    ``target_rms`` is the residual RMS at unit strength in [0,1] pixel units (it fixes PSNR),
    ``mask_floor`` the smallest texture-mask gain (relative to the image's mean texture) and
    ``mask_ceiling`` the largest.
    """

    size: int = 256
    num_bits: int = 128
    residual_channels: int = 1
    target_rms: float = 0.0065
    mask_floor: float = 0.15
    mask_ceiling: float = 3.0
    message_grid: int = 16
    message_channels: int = 16
    encoder_width: int = 32
    decoder_width: int = 32

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from a dict, rejecting unknown keys with a one-line error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"unknown model config key(s): {', '.join(unknown)}")
        try:
            config = cls(**data)
        except TypeError as exc:
            raise ModelError(f"invalid model config: {exc}") from exc
        ratio = config.size // max(config.message_grid, 1)
        if config.size % 8 or ratio < 4 or ratio * config.message_grid != config.size or ratio & (ratio - 1):
            raise ModelError(
                f"model size {config.size} must be the message grid {config.message_grid} times a power of two >= 4"
            )
        return config

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Parse a config from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError("model config must be a JSON object")
        return cls.from_dict(data)
