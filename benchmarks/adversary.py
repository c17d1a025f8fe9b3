"""What an attacker holding provmark's public code and shipped weights (and no key) can compute.

Used by :mod:`benchmarks.security`. Nothing here reads ``watermark.key`` or a registry: where
the public model asks for a key or for the carriers derived from one (a keyed watermark core),
the attacker passes a key of their own (:data:`GUESSED_KEY`), the best a key-less attacker can do.

- :class:`WhiteBox`: the public model's raw per-bit scores of an image, and the model's own
  residual path to write chosen raw bits into any image (copy), or to subtract what it reads
  (removal, complement);
- :func:`denoise_residual`: the black-box estimate of a mark, image minus a denoised copy, at the
  decoder's internal scale or at full size;
- :func:`band_pass`, :func:`add_pattern`: the collusion estimate, a grid-scale high-pass
  averaged over many marked images, and adding it to another image at a PSNR budget.
"""

from __future__ import annotations

import inspect
import io
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from provmark.models import load_model
from provmark.models.embedding import upsample_residual
from provmark.watermark.pixels import add_to_planes, internal_image
from provmark.watermark.planes import merge_image, split_image

#: The key a key-less attacker uses where a public function asks for one.
GUESSED_KEY = bytes(range(100, 132))


class WhiteBox:
    """The shipped model, used as an attacker would: read raw bit scores, write raw bits."""

    def __init__(self, model: str = "default") -> None:
        self.net = load_model(model)
        self.size = self.net.config.size

    def _call(self, fn: Callable[..., Any], *args: object, **kwargs: object) -> Any:
        """Call a model method, giving it :data:`GUESSED_KEY` or its carriers where it asks for a key."""
        params = inspect.signature(fn).parameters
        if "key" in params:
            kwargs["key"] = GUESSED_KEY
        if "carriers" in params:
            kwargs["carriers"] = self.net.carriers(GUESSED_KEY)
        return fn(*args, **kwargs)

    def scores(self, image: Image.Image) -> np.ndarray:
        """The model's own raw bit scores (one per raw bit, > 0 reads 1) of ``image``, with its alignment search."""
        planes = split_image(image)
        with torch.inference_mode():
            small = internal_image(planes, self.size)
            logits = self._call(self.net.decode_logits, small, aspect=planes.color.shape[1] / planes.color.shape[0])
        return logits[0].double().numpy()

    def residual(self, image: Image.Image, bits: np.ndarray) -> np.ndarray:
        """The model's residual (float, HxWxC in 8-bit levels, unit strength) carrying raw ``bits`` in ``image``."""
        planes = split_image(image)
        height, width = planes.color.shape[:2]
        tensor = torch.from_numpy(np.asarray(bits, dtype=np.float32)).unsqueeze(0)
        with torch.inference_mode():
            small = internal_image(planes, self.size)
            res = self._call(self.net.residual, small, tensor)
            full = upsample_residual(res, height, width)[0]
        out = full.permute(1, 2, 0).numpy().astype(np.float64) * 255.0
        return np.repeat(out, 3, axis=2) if out.shape[2] == 1 else out

    def write(self, image: Image.Image, bits: np.ndarray, gain: float) -> Image.Image:
        """``image`` with raw ``bits`` written by the model's own residual path (dithered like an embed)."""
        planes = split_image(image)
        height, width = planes.color.shape[:2]
        tensor = torch.from_numpy(np.asarray(bits, dtype=np.float32)).unsqueeze(0)
        with torch.inference_mode():
            small = internal_image(planes, self.size)
            full = upsample_residual(self._call(self.net.residual, small, tensor), height, width)
        return merge_image(planes, add_to_planes(planes, full * gain))

    def remove(self, image: Image.Image, psnr_floor: float | None = None, steps: int = 7) -> tuple[Image.Image, float]:
        """Subtract the residual of the bits the model reads, scaled until the signed mean of the
        read scores is zero (or, with ``psnr_floor``, as far as that PSNR allows); returns the
        image and the scale used."""
        z0 = self.scores(image)
        pattern = self.residual(image, (z0 > 0).astype(np.float32))
        base = np.asarray(image.convert("RGB"), dtype=np.float64)

        def attacked(scale: float) -> Image.Image:
            return Image.fromarray(np.clip(np.rint(base - scale * pattern), 0, 255).astype(np.uint8))

        low, high = 0.0, 1.0
        if psnr_floor is None:  # grow until the read signs are cancelled, then bisect
            while float(np.mean(self.scores(attacked(high)) * np.sign(z0))) > 0 and high < 16:
                low, high = high, high * 2
            for _ in range(steps):
                mid = (low + high) / 2
                low, high = (mid, high) if float(np.mean(self.scores(attacked(mid)) * np.sign(z0))) > 0 else (low, mid)
        else:
            while psnr(base, attacked(high)) > psnr_floor and high < 64:
                low, high = high, high * 2
            for _ in range(steps + 3):
                mid = (low + high) / 2
                low, high = (mid, high) if psnr(base, attacked(mid)) > psnr_floor else (low, mid)
        scale = low if psnr_floor is not None else high
        return attacked(scale), scale


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """An image file as RGB."""
    with Image.open(path) as image:
        return image.convert("RGB")


def psnr(a: np.ndarray | Image.Image, b: np.ndarray | Image.Image) -> float:
    """PSNR in dB of two 8-bit RGB images (arrays or PIL)."""
    x = np.asarray(a.convert("RGB") if isinstance(a, Image.Image) else a, dtype=np.float64)
    y = np.asarray(b.convert("RGB") if isinstance(b, Image.Image) else b, dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


DENOISERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "median3": lambda im: im.filter(ImageFilter.MedianFilter(3)),
    "gauss1": lambda im: im.filter(ImageFilter.GaussianBlur(1.0)),
    "mode5": lambda im: im.filter(ImageFilter.ModeFilter(5)),  # edge-keeping, like a bilateral filter
}


def denoise_residual(image: Image.Image, denoiser: str, size: int | None) -> np.ndarray:
    """Black-box mark estimate: ``image`` minus its denoised copy (float HxWx3 levels), computed on
    ``image`` squash-resized to ``size`` x ``size`` (the decoder's scale) or at full size (None)."""
    rgb = image.convert("RGB")
    work = rgb if size is None else rgb.resize((size, size), Image.Resampling.BOX)
    return np.asarray(work, dtype=np.float64) - np.asarray(DENOISERS[denoiser](work), dtype=np.float64)


def band_pass(image: Image.Image, scale: int, gray: bool) -> np.ndarray:
    """``image`` area-resized to ``scale`` x ``scale`` minus its 3x3 local mean (the decoder's
    grid-scale whitening), float (scale, scale, 1 or 3) in 8-bit levels."""
    small = np.asarray(image.convert("RGB").resize((scale, scale), Image.Resampling.BOX), dtype=np.float64)
    if gray:
        small = (small @ np.array([0.299, 0.587, 0.114]))[..., None]
    padded = np.pad(small, ((1, 1), (1, 1), (0, 0)), mode="edge")
    blur = sum(padded[i : i + scale, j : j + scale] for i in range(3) for j in range(3)) / 9.0
    return small - blur


def tile_average(pattern: np.ndarray, periods: int) -> np.ndarray:
    """A float HxWxC ``pattern`` averaged over its ``periods`` x ``periods`` tiles and tiled back:
    the attacker's estimate of any part of a mark that repeats with the public tile period."""
    h, w = pattern.shape[0] // periods * periods, pattern.shape[1] // periods * periods
    tiles = pattern[:h, :w].reshape(periods, h // periods, periods, w // periods, -1)
    return np.tile(tiles.mean(axis=(0, 2)), (periods, periods, 1))


def add_pattern(image: Image.Image, pattern: np.ndarray, gain: float, nearest: bool = False) -> Image.Image:
    """``image`` plus ``gain`` times ``pattern`` (any HxWx1/3 float), resized to the image (bilinear,
    or nearest for cell patterns), rounded and clipped."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    full = resize_pattern(pattern, image.size, nearest)
    return Image.fromarray(np.clip(np.rint(rgb + gain * full), 0, 255).astype(np.uint8))


def resize_pattern(pattern: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """A float HxWxC pattern resized to ``size`` (width, height), as HxWx3."""
    width, height = size
    if nearest:
        rows, cols = np.arange(height) * pattern.shape[0] // height, np.arange(width) * pattern.shape[1] // width
        out = pattern[rows][:, cols]
    else:
        t = torch.from_numpy(np.ascontiguousarray(pattern.transpose(2, 0, 1)))[None]
        out = upsample_residual(t, height, width)[0].numpy().transpose(1, 2, 0)
    return np.repeat(out, 3, axis=2) if out.shape[2] == 1 else out


def gain_for_psnr(pattern_full: np.ndarray, target_db: float) -> float:
    """The gain that gives ``pattern_full`` (already at the image's size) an RMS of ``target_db`` PSNR."""
    rms = float(np.sqrt(np.mean(pattern_full**2))) + 1e-12
    return 255.0 / 10 ** (target_db / 20) / rms


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """A real JPEG round trip."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")
