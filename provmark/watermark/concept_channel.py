"""Concept channel: a learnable training-data mark, a fixed keyed pattern per concept code.

The neural watermark is image-adaptive and faint (~43 dB); a small generator trained on
marked images does not reproduce it. The concept channel is made to be learned: every image
of a concept gets the *same* additive pattern, so a class-conditional generator learns it as
part of the class. The pattern lives on a ``grid x grid x 3`` cell grid stretched over the
image (nearest neighbour, so any size works and area downsampling to the grid recovers it):
the 128 raw bits of the concept's payload (BCH-coded and key-scrambled as for the neural
mark, :func:`provmark.watermark.decision.raw_bits`) are spread over the cells by a keyed
permutation, each cell times a keyed +-1 chip, at ``+-amplitude`` 8-bit levels.

Reading correlates the high-passed grid image with the chips: 128 raw logits (usable with
:func:`provmark.watermark.decision.detect`) and, for a registry's known codes, a z-score per
code. *Bound*: if the pixels do not depend on the key, the keyed chips are independent
uniform signs, so by Hoeffding ``P(z >= t) <= exp(-t^2 / 2)`` for each code; the p-value of
the best code is that times the number of codes tried.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from provmark.errors import WatermarkError
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.codec import CODE_BITS
from provmark.watermark.decision import raw_bits

#: Default cells per side: 32 x 32 x 3 = 3072 cells, 24 per raw bit.
DEFAULT_GRID = 32

# Modes with more than 8 bits per sample: the +-amplitude levels would be meaningless there.
_HIGH_DEPTH = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


@dataclass(frozen=True)
class ChannelLayout:
    """Keyed spreading of the 128 raw bits over the cells: bit index and chip per cell."""

    grid: int
    bit_of_cell: np.ndarray  # (grid, grid, 3) int
    chip: np.ndarray  # (grid, grid, 3) float +-1


@dataclass
class ChannelMatch:
    """The registered code an image's concept channel matches best."""

    index: int | None  # position in the codes given, None if none passes the threshold
    z: list[float]  # z-score per code
    p_value: float  # best code's bound times the number of codes
    logits: np.ndarray  # 128 raw logits (embedding order)


def channel_layout(key: bytes, grid: int = DEFAULT_GRID) -> ChannelLayout:
    """The keyed layout of the concept channel for ``key`` on a ``grid`` x ``grid`` cell grid."""
    cells = grid * grid * 3
    if cells < CODE_BITS:
        raise WatermarkError(f"a concept channel grid needs at least {CODE_BITS} cells, {grid}x{grid}x3 has {cells}")
    seed = hmac.new(key, b"provmark/concept-channel/" + str(grid).encode(), hashlib.sha256).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
    bit_of_cell = rng.permutation(np.arange(cells) % CODE_BITS).reshape(grid, grid, 3)
    chip = rng.choice(np.array([-1.0, 1.0]), size=(grid, grid, 3))
    return ChannelLayout(grid, bit_of_cell, chip)


def channel_pattern(payload: bytes, key: bytes, grid: int = DEFAULT_GRID) -> np.ndarray:
    """The +-1 cell pattern (grid, grid, 3) carrying ``payload`` under ``key``."""
    layout = channel_layout(key, grid)
    signs = 2.0 * raw_bits(payload, key).astype(np.float64) - 1.0
    return signs[layout.bit_of_cell] * layout.chip


def embed_channel(
    image: Image.Image, payload: bytes, key: bytes, amplitude: float, grid: int = DEFAULT_GRID
) -> Image.Image:
    """Return a copy of ``image`` with the concept channel of ``payload`` added at +-``amplitude`` levels.

    The channel is colour, so the copy is RGB, or RGBA with the alpha plane unchanged when
    ``image`` has one (RGBA, LA, PA, transparent palette); gray, palette and CMYK images come
    back as RGB. 16-bit and float images are refused.
    """
    if not amplitude > 0:
        raise WatermarkError(f"concept channel amplitude must be positive, got {amplitude}")
    if image.mode in _HIGH_DEPTH:
        raise WatermarkError(f"{image.mode} images (16-bit or float) cannot carry the concept channel (8-bit only)")
    width, height = image.size
    if width < grid or height < grid:
        raise WatermarkError(f"image {width}x{height} is smaller than the concept channel grid ({grid} px)")
    alpha = _alpha(image)
    pattern = channel_pattern(payload, key, grid)
    rows = np.arange(height) * grid // height
    cols = np.arange(width) * grid // width
    full = pattern[rows][:, cols]
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64) + amplitude * full
    out = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    return out


def _alpha(image: Image.Image) -> Image.Image | None:
    """The alpha plane of ``image`` (L), or None when it has none."""
    if image.mode in ("RGBA", "LA", "PA"):
        return image.getchannel("A")
    if image.mode == "P" and "transparency" in image.info:
        return image.convert("RGBA").getchannel("A")
    return None


def grid_image(image: Image.Image, grid: int = DEFAULT_GRID) -> np.ndarray:
    """``image`` area-averaged onto the cell grid, float (grid, grid, 3) in 8-bit levels."""
    small = image.convert("RGB")
    if small.size != (grid, grid):
        small = small.resize((grid, grid), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64)


def high_pass(cells: np.ndarray) -> np.ndarray:
    """Each cell minus the mean of its 3x3 neighbourhood (edges replicated), per colour."""
    padded = np.pad(cells, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = cells.shape[:2]
    blur = sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    return cells - blur


def channel_logits(image: Image.Image, key: bytes, grid: int = DEFAULT_GRID) -> np.ndarray:
    """128 raw bit logits read from the concept channel (> 0 means bit 1), unit-free."""
    layout = channel_layout(key, grid)
    signal = high_pass(grid_image(image, grid)) * layout.chip
    sums = np.bincount(layout.bit_of_cell.ravel(), weights=signal.ravel(), minlength=CODE_BITS)
    return sums / (np.linalg.norm(signal) / math.sqrt(CODE_BITS) + 1e-9)


def match_codes(
    image: Image.Image,
    key: bytes,
    payloads: Sequence[bytes],
    grid: int = DEFAULT_GRID,
    threshold: float = DEFAULT_P_THRESHOLD,
) -> ChannelMatch:
    """Which of ``payloads`` (a registry's concept codes) the image's concept channel carries."""
    if not payloads:
        raise WatermarkError("no concept codes to match")
    return match_code_bits(image, key, np.array([raw_bits(p, key) for p in payloads]), grid, threshold)


def match_code_bits(
    image: Image.Image,
    key: bytes,
    codes: np.ndarray,
    grid: int = DEFAULT_GRID,
    threshold: float = DEFAULT_P_THRESHOLD,
) -> ChannelMatch:
    """:func:`match_codes` for codes given as their raw bits (rows of 128 0/1, e.g. ``CodeBook.codes``)."""
    signs = 2.0 * np.asarray(codes, dtype=np.float64).reshape(-1, CODE_BITS) - 1.0
    if not len(signs):
        raise WatermarkError("no concept codes to match")
    layout = channel_layout(key, grid)
    signal = high_pass(grid_image(image, grid)) * layout.chip
    norm = float(np.linalg.norm(signal)) + 1e-9
    sums = np.bincount(layout.bit_of_cell.ravel(), weights=signal.ravel(), minlength=CODE_BITS)
    z = [float(v) for v in signs @ sums / norm]
    best = int(np.argmax(z))
    bound = math.exp(-z[best] ** 2 / 2.0) if z[best] > 0 else 1.0
    p = min(1.0, bound * len(z))
    logits = sums / (norm / math.sqrt(CODE_BITS))
    return ChannelMatch(best if p <= threshold else None, z, p, logits)
