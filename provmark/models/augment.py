"""Image attacks on ``[1,3,H,W]`` tensors in [0,1]: differentiable ops, real codecs with a
straight-through gradient, the fixed evaluation suite and the random training sampler.

Kornia's differentiable JPEG is not used: on CPU it costs more than the rest of a training
step, and the tied pattern model learns codec robustness from real codecs with a
straight-through gradient just as well."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Attack = Callable[[torch.Tensor], torch.Tensor]


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels in the forward pass; identity gradient."""
    return x + (torch.round(x.clamp(0, 1) * 255.0) / 255.0 - x).detach()


def _to_pil(x: torch.Tensor) -> Image.Image:
    array = (x[0].detach().clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array)


def _from_pil(image: Image.Image, like: torch.Tensor) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).to(like.dtype)


def codec(x: torch.Tensor, fmt: str, quality: int) -> torch.Tensor:
    """Encode and decode with PIL (``JPEG`` or ``WEBP``); the gradient passes straight through."""
    buffer = io.BytesIO()
    _to_pil(x).save(buffer, format=fmt, quality=int(quality))
    decoded = _from_pil(Image.open(io.BytesIO(buffer.getvalue())), x)
    return x + (decoded - x).detach()


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Rescale by ``scale`` (antialiased when shrinking)."""
    h, w = x.shape[-2:]
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)


def resize_long_side(x: torch.Tensor, long_side: int) -> torch.Tensor:
    """Rescale so the long side is ``long_side`` pixels."""
    return resize(x, long_side / max(x.shape[-2:]))


def crop(x: torch.Tensor, area: float, cy: float = 0.5, cx: float = 0.5) -> torch.Tensor:
    """Keep a window with ``area`` of the pixels and the same aspect, placed at relative (cy, cx)."""
    h, w = x.shape[-2:]
    side = math.sqrt(area)
    ch, cw = max(8, round(h * side)), max(8, round(w * side))
    top, left = round((h - ch) * cy), round((w - cw) * cx)
    return x[..., top : top + ch, left : left + cw]


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    k = 2 * math.ceil(3 * sigma) + 1
    return kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma))


def noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``sigma``."""
    return (x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)).clamp(0, 1)


def brightness(x: torch.Tensor, factor: float, offset: float = 0.0) -> torch.Tensor:
    """Scale pixel values by ``factor`` and add ``offset``."""
    return (x * factor + offset).clamp(0, 1)


def contrast(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale contrast around the image's mean luma by ``factor``."""
    mean = kornia.color.rgb_to_grayscale(x).mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * factor + mean).clamp(0, 1)


def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate about the centre by ``degrees`` (bilinear, black corners, same size)."""
    return kornia.geometry.transform.rotate(x, x.new_tensor([float(degrees)]), align_corners=False)


def evaluation_attacks(seed: int = 0) -> dict[str, Attack]:
    """The fixed attack suite of the benchmark targets (plus 50% crop and 5 degrees, no target)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "clean": lambda x: x,
        "jpeg90": lambda x: codec(x, "JPEG", 90),
        "jpeg75": lambda x: codec(x, "JPEG", 75),
        "jpeg50": lambda x: codec(x, "JPEG", 50),
        "webp80": lambda x: codec(x, "WEBP", 80),
        "resize0.5": lambda x: resize(x, 0.5),
        "resize512": lambda x: resize_long_side(x, 512),
        "crop80": lambda x: crop(x, 0.8),
        "blur1": lambda x: blur(x, 1.0),
        "noise0.02": lambda x: noise(x, 0.02, gen),
        "bright+": lambda x: brightness(x, 1.25),
        "bright-": lambda x: brightness(x, 0.75),
        "contrast+": lambda x: contrast(x, 1.25),
        "contrast-": lambda x: contrast(x, 0.75),
        "rot2": lambda x: rotate(x, 2.0),
        "resize0.5+jpeg75": lambda x: codec(resize(x, 0.5), "JPEG", 75),
        "crop50": lambda x: crop(x, 0.5),
        "rot5": lambda x: rotate(x, 5.0),
    }


class TrainingAttacks:
    """Random attack chains for training, drawn from one generator; ``severity`` in [0,1] scales them.

    A chain is an optional geometric or colour attack followed by an optional codec, so that
    combinations such as resize + JPEG are seen during training. Crops and rotations stay within
    the residual misalignment the decoder's alignment search leaves (under 1% zoom, 0.3 degree).
    """

    GEOMETRIC = ("resize", "crop", "rotate", "blur", "noise", "brightness", "contrast")
    CODECS = ("jpeg", "webp")

    def __init__(self, generator: torch.Generator) -> None:
        self.gen = generator

    def _u(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=self.gen).item()

    def _pick(self, names: tuple[str, ...]) -> str:
        return names[int(torch.randint(len(names), (), generator=self.gen))]

    def geometric(self, x: torch.Tensor, name: str, s: float) -> torch.Tensor:
        """Apply the named geometric or colour attack at severity ``s``."""
        if name == "resize":
            return resize(x, self._u(1.0 - 0.65 * s, 1.0))
        if name == "crop":
            return crop(x, self._u(1.0 - 0.015 * s, 1.0), self._u(0.45, 0.55), self._u(0.45, 0.55))
        if name == "rotate":
            return rotate(x, self._u(-0.3 * s, 0.3 * s))
        if name == "blur":
            return blur(x, self._u(0.3, 0.3 + 1.2 * s))
        if name == "noise":
            return noise(x, self._u(0.0, 0.035 * s), self.gen)
        if name == "brightness":
            return brightness(x, self._u(1 - 0.35 * s, 1 + 0.35 * s), self._u(-0.08 * s, 0.08 * s))
        return contrast(x, self._u(1 - 0.4 * s, 1 + 0.4 * s))

    def codec(self, x: torch.Tensor, name: str, s: float) -> torch.Tensor:
        """Apply the named codec at severity ``s`` (lower quality as ``s`` grows)."""
        quality = round(self._u(95 - 55 * s, 98))
        if name == "jpeg":
            return codec(x, "JPEG", quality)
        return codec(x, "WEBP", min(quality, 95))

    def __call__(self, x: torch.Tensor, severity: float, probability: float) -> tuple[torch.Tensor, str]:
        """Attack ``x`` with probability ``probability`` per stage; return the result and the chain's name."""
        names = []
        if self._u(0, 1) < probability:
            name = self._pick(self.GEOMETRIC)
            x, names = self.geometric(x, name, severity), [name]
        if self._u(0, 1) < probability:
            name = self._pick(self.CODECS)
            x = self.codec(x, name, severity)
            names.append(name)
        return x, "+".join(names) or "none"
