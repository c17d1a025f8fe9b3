"""Planes to and from the watermark model: the squash-resized model input, and the dithered residual.

Mode handling (which planes are marked, what comes back) is in :mod:`provmark.watermark.planes`.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from provmark.models.embedding import LUMA_WEIGHTS, to_internal
from provmark.watermark.planes import Planes

#: Reading an 8-bit image, integer resizing goes down to this many times the internal size.
PRESCALE = 4

_BAYER = (torch.tensor([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=torch.float32) + 0.5) / 16


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """Share a (possibly read-only, as PIL gives) array with torch; callers never write to it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(array))


def reduced(planes: Planes, limit: int) -> Planes:
    """``planes`` with 8-bit colour larger than ``limit`` brought down to it in integer
    arithmetic (as :func:`internal_image` does), to render several internal sizes from once."""
    height, width = planes.color.shape[:2]
    if planes.max_value != 255 or max(height, width) <= limit:
        return planes
    data = _as_tensor(planes.color)
    full = (data.unsqueeze(-1) if planes.gray else data).permute(2, 0, 1).unsqueeze(0)
    small = F.interpolate(full, size=(min(height, limit), min(width, limit)), mode="bilinear", antialias=True)
    color = small[0].permute(1, 2, 0).numpy()
    return replace(planes, color=color[..., 0] if planes.gray else color, alpha=None)


def internal_image(planes: Planes, size: int) -> torch.Tensor:
    """The colour planes squash-resized to the model's ``[1,3,size,size]`` input in [0,1].

    Same filter as ``to_internal`` on the full image in [0,1] (resizing is linear, so the
    scaling to [0,1] is done on the small image; gray is resized once and repeated to RGB).
    8-bit planes larger than ``PRESCALE`` times ``size`` are first brought down to that in
    integer arithmetic (torch's fast uint8 path; the rounding there is averaged away by the
    final float resize), which makes large images about 10x cheaper to read.
    """
    data = _as_tensor(planes.color)
    data = data.unsqueeze(-1) if planes.gray else data
    full = data.permute(2, 0, 1).unsqueeze(0)
    height, width = full.shape[-2:]
    limit = PRESCALE * size
    if planes.max_value == 255 and max(height, width) > limit:
        full = F.interpolate(full, size=(min(height, limit), min(width, limit)), mode="bilinear", antialias=True)
    small = to_internal(full.float(), size).div_(planes.max_value)
    return small.expand(-1, 3, -1, -1) if planes.gray else small


def _dither_thresholds(height: int, width: int) -> torch.Tensor:
    """The 4x4 Bayer ordered-dither thresholds, in (0,1), tiled over ``height`` x ``width``."""
    tile = _BAYER.repeat(height // 4 + 1, width // 4 + 1)
    return tile[:height, :width]


def add_to_planes(planes: Planes, residual: torch.Tensor) -> np.ndarray:
    """Add a full-resolution ``[1,C,H,W]`` residual (in [0,1] units) to the planes, quantised by
    ordered dithering, and clamp.

    Plain rounding would erase every residual value under half a level (most of the mark on
    flat areas); a Bayer threshold keeps the residual's local mean, which is what the decoder
    reads after downscaling, at a cost of about 0.15 dB PSNR.
    """
    res = residual[0]
    if planes.gray and res.shape[0] == 3:
        res = (res * res.new_tensor(LUMA_WEIGHTS).view(3, 1, 1)).sum(0, keepdim=True)
    work = torch.int16 if planes.max_value == 255 else torch.int32
    step = torch.floor(res * planes.max_value + _dither_thresholds(*res.shape[-2:])).to(work)
    out = _as_tensor(planes.color).to(work)
    if planes.gray:
        out += step[0]
    elif step.shape[0] == 1:
        out += step[0].unsqueeze(-1)
    else:
        out += step.permute(1, 2, 0)
    return out.clamp_(0, planes.max_value).numpy().astype(planes.color.dtype)
