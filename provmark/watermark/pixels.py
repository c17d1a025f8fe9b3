"""Image modes in and out of the watermark: split a PIL image into planes and put it back.

The mark lives in the colour (or gray) planes; alpha is never touched. Mode handling:

- ``RGB``, ``RGBA``: marked in RGB, alpha kept; ``L``, ``LA``: marked in the gray plane (the
  luma of the residual), returned as ``L``/``LA``;
- ``I;16``/``I;16L``/``I;16B``/``I`` (16-bit gray): the residual is added at 16-bit precision,
  returned in the same mode (``I`` values are taken as 0-65535; ``I;16L`` comes back as
  its equivalent ``I;16``);
- ``P``/``PA`` (palette): converted to ``RGB``/``RGBA`` and returned so, because re-quantising
  to a palette would erase the mark (GIF output quantises again: do not expect a mark there);
- ``CMYK``: converted to RGB with PIL's formula, marked, converted back with PIL's formula
  (K is rebuilt as 0: ink separation is not kept);
- ``1`` (bilevel) and other modes are refused with a :class:`WatermarkError`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from provmark.errors import WatermarkError
from provmark.models.embedding import LUMA_WEIGHTS, to_internal

#: Shortest side, in pixels, of an image that can carry a mark.
MIN_SIDE = 128

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I")

#: Reading an 8-bit image, integer resizing goes down to this many times the internal size.
PRESCALE = 4

_BAYER = (torch.tensor([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=torch.float32) + 0.5) / 16


@dataclass
class Planes:
    """The markable planes of an image: ``color`` is HxWx3 (RGB) or HxW (gray), integer."""

    color: np.ndarray
    alpha: np.ndarray | None
    max_value: int
    mode: str  # the mode the marked image is returned in
    dtype: np.dtype = np.dtype(np.uint8)  # the dtype the returned image is built from

    @property
    def gray(self) -> bool:
        """True when the colour plane is a single gray channel."""
        return self.color.ndim == 2


def split_image(image: Image.Image) -> Planes:
    """Split ``image`` into markable planes, refusing modes and sizes that cannot carry a mark."""
    if min(image.size) < MIN_SIDE:
        raise WatermarkError(
            f"image is {image.width}x{image.height}: too small for a watermark (shortest side must be >= {MIN_SIDE} px)"
        )
    mode = image.mode
    if mode == "1":
        raise WatermarkError("bilevel (1-bit) images cannot carry an invisible watermark; convert to L or RGB first")
    if mode == "P":
        mode, image = ("RGBA", image.convert("RGBA")) if "transparency" in image.info else ("RGB", image.convert("RGB"))
    elif mode == "PA":
        mode, image = "RGBA", image.convert("RGBA")
    if mode in ("RGB", "L"):
        return Planes(np.asarray(image), None, 255, mode)
    if mode in ("RGBA", "LA"):
        data = np.asarray(image)
        return Planes(data[..., :-1] if mode == "RGBA" else data[..., 0], data[..., -1], 255, mode)
    if mode == "CMYK":
        return Planes(np.asarray(image.convert("RGB")), None, 255, "CMYK")
    if mode in _SIXTEEN_BIT:
        data = np.asarray(image)
        return Planes(np.clip(data, 0, 65535).astype(np.uint16), None, 65535, mode, data.dtype)
    raise WatermarkError(f"image mode {mode} is not supported for watermarking (use RGB, RGBA, L, LA, 16-bit gray, P or CMYK)")


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """Share a (possibly read-only, as PIL gives) array with torch; callers never write to it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(array))


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


def merge_image(planes: Planes, color: np.ndarray) -> Image.Image:
    """Rebuild an image in ``planes.mode`` from marked colour planes and the untouched alpha."""
    if planes.mode in _SIXTEEN_BIT:
        return Image.fromarray(color.astype(planes.dtype))  # uint16 -> I;16, >u2 -> I;16B, int32 -> I
    if planes.alpha is not None:
        color = np.dstack([color, planes.alpha])
    image = Image.fromarray(np.ascontiguousarray(color))
    return image.convert("CMYK") if planes.mode == "CMYK" else image
