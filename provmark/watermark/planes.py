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

from dataclasses import dataclass

import numpy as np
from PIL import Image

from provmark.errors import WatermarkError

#: Shortest side, in pixels, of an image (or a concept region) that can carry a mark.
MIN_SIDE = 128

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I")


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
        return Planes(pixel_array(image), None, 255, mode)
    if mode in ("RGBA", "LA"):
        data = np.asarray(image)
        return Planes(data[..., :-1] if mode == "RGBA" else data[..., 0], data[..., -1], 255, mode)
    if mode == "CMYK":
        return Planes(np.asarray(image.convert("RGB")), None, 255, "CMYK")
    if mode in _SIXTEEN_BIT:
        data = np.asarray(image)
        return Planes(np.clip(data, 0, 65535).astype(np.uint16), None, 65535, mode, data.dtype)
    raise WatermarkError(f"image mode {mode} is not supported for watermarking (use RGB, RGBA, L, LA, 16-bit gray, P or CMYK)")


def pixel_array(image: Image.Image, rows: int = 256) -> np.ndarray:
    """``np.asarray(image)`` filled ``rows`` rows at a time: the same array, without the second
    full-size copy that ``asarray`` makes on the way (100 MB more on an 8K image)."""
    if image.height <= rows:
        return np.asarray(image)
    first = np.asarray(image.crop((0, 0, image.width, rows)))
    out = np.empty((image.height, *first.shape[1:]), first.dtype)
    out[:rows] = first
    for top in range(rows, image.height, rows):
        out[top : top + rows] = np.asarray(image.crop((0, top, image.width, min(top + rows, image.height))))
    return out


def merge_image(planes: Planes, color: np.ndarray) -> Image.Image:
    """Rebuild an image in ``planes.mode`` from marked colour planes and the untouched alpha."""
    if planes.mode in _SIXTEEN_BIT:
        return Image.fromarray(color.astype(planes.dtype))  # uint16 -> I;16, >u2 -> I;16B, int32 -> I
    if planes.alpha is not None:
        color = np.dstack([color, planes.alpha])
    image = Image.fromarray(np.ascontiguousarray(color))
    return image.convert("CMYK") if planes.mode == "CMYK" else image
