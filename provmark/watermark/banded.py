"""The model-resolution residual applied at full resolution, a band of rows at a time.

Same result as upsampling the residual to the image's size (:func:`upsample_residual`),
adding it with ordered dithering (:func:`add_to_planes`) and merging the planes
(:func:`merge_image`), without ever holding a full-size float residual or a second full-size
integer copy: an 8K image needs a few 10-20 MB bands instead of about 1 GB. The bilinear
upsampling is split in two passes (along the width once, on the model's rows; then two model
rows per output row, band by band) with the interpolation weights torch uses, so the output
matches the one-shot path.

The decoder's view of the marked image at unit strength (the closed-loop strength reads it)
is ``Mh^T @ R @ Mw``: upsampling then squash-resizing is linear, so it costs two small
matrix products instead of a full-size upsample and downsample.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageChops

from provmark.models.embedding import to_internal, upsample_residual
from provmark.watermark.pixels import _dither_thresholds, add_to_planes
from provmark.watermark.planes import Planes, merge_image

#: Rows per band (a multiple of 4, the ordered dither's period): 64 rows of 8K are 2 MB of float residual.
BAND_ROWS = 64

#: Modes whose bands are rebuilt from 8-bit planes (16-bit images take the one-shot path).
_BANDED_MODES = ("RGB", "RGBA", "L", "LA", "CMYK")


@functools.lru_cache(maxsize=64)
def _round_trip(size: int, length: int) -> torch.Tensor:
    """``[size,size]`` matrix of a 1-D bilinear upsample from ``size`` to ``length`` samples
    followed by the model's squash-resize back to ``size``: row i is basis vector i's image."""
    basis = torch.eye(size).view(1, 1, size, size)
    up = F.interpolate(basis, size=(size, length), mode="bilinear", align_corners=False)
    return to_internal(up, size)[0, 0]


def internal_view(residual_s: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``to_internal(upsample_residual(residual_s, height, width))`` without the full-size residual."""
    size = residual_s.shape[-1]
    if (height, width) == (size, size):
        return residual_s
    return _round_trip(size, height).T @ residual_s @ _round_trip(size, width)


def _row_weights(size: int, height: int, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows (lower, upper) and upper weight of output rows ``start:stop`` for a bilinear
    resize of ``size`` rows to ``height`` (align_corners=False, as torch computes them, in float32)."""
    scale = torch.tensor(size, dtype=torch.float32) / height
    rows = torch.arange(start, stop, dtype=torch.float32)
    source = (scale * (rows + 0.5) - 0.5).clamp_min(0.0)
    lower = source.to(torch.int64)
    weight = (source - lower).clamp(0.0, 1.0)
    upper = torch.where(lower < size - 1, lower + 1, lower)
    return lower, upper, weight


def _band_planes(planes: Planes, start: int, stop: int) -> Planes:
    alpha = None if planes.alpha is None else planes.alpha[start:stop]
    return Planes(planes.color[start:stop], alpha, planes.max_value, planes.mode, planes.dtype)


def _crop_planes(crop: Image.Image) -> Planes:
    """Planes of an 8-bit RGB, RGBA, L or LA band (bands may be under split_image's minimum size)."""
    data = np.asarray(crop)
    if crop.mode in ("RGB", "L"):
        return Planes(data, None, 255, crop.mode)
    return Planes(data[..., :-1] if crop.mode == "RGBA" else data[..., 0], data[..., -1], 255, crop.mode)


def _add_steps(band: Image.Image, steps: torch.Tensor) -> Image.Image | None:
    """``band`` plus integer ``steps`` ``[C,b,W]`` (one plane for every colour channel, or one each),
    clamped to 0-255, alpha untouched; None when a step is outside -128..127 (then the caller
    adds in wider integers). Saturating adds in PIL: no integer copy of the band."""
    if int(steps.min()) < -128 or int(steps.max()) > 127:
        return None
    planes = [Image.fromarray(plane.numpy(), "L") for plane in (steps + 128).to(torch.uint8)]
    colours = 1 if band.mode in ("L", "LA") else 3
    if len(planes) != colours:
        planes = planes[:1] * colours
    if band.mode in ("RGBA", "LA"):
        planes.append(Image.new("L", band.size, 128))
    offsets = planes[0] if len(planes) == 1 else Image.merge(band.mode, planes)
    return ImageChops.add(band, offsets, 1.0, -128)


def apply_residual(
    planes: Planes, residual_s: torch.Tensor, strength: float, image: Image.Image, in_place: bool = False
) -> Image.Image:
    """``image`` (split into ``planes``) with ``residual_s`` (``[1,C,S,S]``, [0,1] units) upsampled,
    times ``strength``, added at full resolution, dithered and clamped, in ``planes.mode``.

    With ``in_place`` (and ``image`` in ``planes.mode``) the bands are written into ``image``
    itself and it is returned, and ``planes`` gives up its pixel copy first (the caller must not
    use it again): no second full-size image is held while the bands are added.
    """
    height, width = planes.color.shape[:2]
    if planes.max_value != 255 or planes.mode not in _BANDED_MODES:
        return merge_image(planes, add_to_planes(planes, upsample_residual(residual_s, height, width) * strength))
    direct = image.mode == planes.mode and planes.mode != "CMYK" and not (planes.gray and residual_s.shape[1] == 3)
    if direct and in_place:  # the image holds the same pixels: drop the copy (100 MB on an 8K image)
        planes.color, planes.alpha = np.empty((0,) + planes.color.shape[1:], planes.color.dtype), None
    into = (image if in_place else image.copy()) if direct else Image.new(planes.mode, (width, height))
    size = residual_s.shape[-2]
    across = F.interpolate(residual_s, size=(size, width), mode="bilinear", align_corners=False)
    for start in range(0, height, BAND_ROWS):
        stop = min(start + BAND_ROWS, height)
        lower, upper, weight = _row_weights(size, height, start, stop)
        weight = weight.view(1, 1, -1, 1)
        rows = (across[:, :, lower] * (1.0 - weight) + across[:, :, upper] * weight) * strength
        box = (0, start, width, stop)
        marked = None
        if direct:  # the same dithered steps as add_to_planes, added by PIL
            steps = torch.floor(rows[0] * planes.max_value + _dither_thresholds(stop - start, width))
            marked = _add_steps(into.crop(box), steps)
        if marked is None:
            band = _crop_planes(into.crop(box)) if direct else _band_planes(planes, start, stop)
            marked = merge_image(band, add_to_planes(band, rows))
        into.paste(marked, box[:2])
    return into
