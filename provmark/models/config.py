"""Model configuration: everything needed to rebuild a network before loading its weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from provmark.errors import ModelError


@dataclass(frozen=True)
class ModelConfig:
    """Shape and fixed (non-learned) settings of a watermark model.

    ``size`` is the square internal resolution S and ``num_bits`` the raw bit count L.
    Each bit owns a keyed carrier, a ``tile`` x ``tile`` pattern repeated over a ``grid`` x
    ``grid`` lattice (``size`` must be a multiple of ``grid``, ``grid`` of ``tile``), shaped to
    a radial power profile of ``spectrum_bins`` rings (a weights buffer). The decoder clamps the
    whitened map to ``clamp`` times its mean absolute value. Alignments found from the tile
    lattice that shrink the mark below ``fine_below`` are read on the image rendered at
    ``fine_size`` instead of ``size``. ``target_rms`` is the residual RMS at unit strength in [0,1] pixel units (it fixes
    PSNR); ``mask_floor``/``mask_ceiling`` bound the texture-mask gain relative to the image's mean
    texture. ``decoder_width`` is the channel width of the decoder's whitening network. The
    decoder tries every zoom in ``zooms`` (magnifications about the centre, to undo crops, and
    below 1 borders) and
    every rotation in ``angles`` (degrees, turned into the unequal shears a squash-resize makes
    of them for the image's aspect ratio) or, when ``angles`` is empty, every pair of
    off-diagonal affine terms from ``shears``; best match wins. The search
    runs only when the identity alignment's mean squared z-score is below ``search_threshold``
    (it is about 1 where nothing is embedded). The best alignment is then refined by
    ``refine_steps`` rounds of hill climbing on its four linear terms, the first with step
    ``refine_step``, halving each round (0 rounds turns refinement off).
    ``cancel_steps`` rounds of host-interference cancellation (0 turns it off) each remove
    ``cancel_fraction`` of the measured interference.
    """

    size: int = 256
    num_bits: int = 144
    grid: int = 128
    tile: int = 32
    spectrum_bins: int = 64
    clamp: float = 3.0
    fine_size: int = 448
    fine_below: float = 0.95
    target_rms: float = 0.0075
    mask_floor: float = 0.15
    mask_ceiling: float = 3.0
    decoder_width: int = 16
    cancel_fraction: float = 0.5
    cancel_steps: int = 1
    zooms: tuple[float, ...] = (
        tuple(round(0.8 + 0.02 * i, 3) for i in range(10))
        + tuple(round(1.0 + 0.015 * i, 3) for i in range(14))
        + tuple(round(1.215 + 0.02 * i, 3) for i in range(13))
    )
    shears: tuple[float, ...] = ()
    angles: tuple[float, ...] = tuple(
        sorted({0.5 * i for i in range(-12, 13) if i} | {float(i) for i in range(-15, 16) if abs(i) > 6})
    )
    search_threshold: float = 2.0
    sync_energy: float = 0.2
    refine_steps: int = 3
    refine_step: float = 0.008

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict."""
        data = asdict(self)
        data["zooms"], data["shears"], data["angles"] = list(self.zooms), list(self.shears), list(self.angles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from a dict, rejecting unknown keys and bad shapes with a one-line error."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ModelError(f"unknown model config key(s): {', '.join(unknown)}")
        data = dict(data)
        for key in ("zooms", "shears", "angles"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        try:
            config = cls(**data)
        except TypeError as exc:
            raise ModelError(f"invalid model config: {exc}") from exc
        ratio = config.size // max(config.grid, 1)
        if ratio * config.grid != config.size or ratio < 2 or ratio & (ratio - 1):
            raise ModelError(f"model size {config.size} must be the grid {config.grid} times a power of two >= 2")
        if config.tile < 2 or config.grid % config.tile or config.num_bits >= config.tile**2:
            raise ModelError(f"model tile {config.tile} must divide the grid {config.grid} and hold {config.num_bits} carriers")
        if not 0.0 < config.sync_energy < 1.0:
            raise ModelError(f"model sync_energy {config.sync_energy} must be between 0 and 1")
        if not config.zooms or min(config.zooms) <= 0.5 or not (config.shears or config.angles):
            raise ModelError("model zooms (magnifications > 0.5) and angles or shears must be non-empty lists")
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
