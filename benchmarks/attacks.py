"""Image attacks for robustness benchmarks: real codecs (PIL JPEG/WebP), geometry and photometry.

Every attack is a function ``(image, rng) -> image`` on RGB PIL images; :data:`ATTACKS` lists
the standard set in order. Importable by any benchmark: ``from benchmarks.attacks import ATTACKS``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

AttackFn = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclass(frozen=True)
class Attack:
    """A named image transformation."""

    name: str
    apply: AttackFn


def codec(image: Image.Image, fmt: str, quality: int) -> Image.Image:
    """Encode and decode ``image`` with a real lossy codec."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt, quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


def rescale(image: Image.Image, factor: float) -> Image.Image:
    """Resize by ``factor`` (Lanczos, antialiased)."""
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def long_side(image: Image.Image, pixels: int) -> Image.Image:
    """Resize so the long side is ``pixels`` (Lanczos)."""
    return rescale(image, pixels / max(image.size))


def centre_crop(image: Image.Image, area: float) -> Image.Image:
    """Keep the centre part holding ``area`` of the pixels (same aspect ratio)."""
    side = math.sqrt(area)
    w, h = round(image.width * side), round(image.height * side)
    left, top = (image.width - w) // 2, (image.height - h) // 2
    return image.crop((left, top, left + w, top + h))


def gaussian_noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    """Add white Gaussian noise of ``sigma`` (0-255 units), rounded and clipped."""
    data = np.asarray(image.convert("RGB")).astype(np.float32)
    noisy = data + rng.normal(0.0, sigma, data.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))


def crop_box(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """Keep the box given in fractions of the width and height."""
    w, h = image.size
    return image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))


def add_border(image: Image.Image, fraction: float) -> Image.Image:
    """Pad every side with black, ``fraction`` of the width (left, right) and height (top, bottom)."""
    w, h = image.size
    bw, bh = round(fraction * w), round(fraction * h)
    out = Image.new("RGB", (w + 2 * bw, h + 2 * bh))
    out.paste(image.convert("RGB"), (bw, bh))
    return out


def downscale(image: Image.Image, factor: float, min_side: int = 128) -> Image.Image:
    """Resize by ``factor``, or less where that would bring the short side under ``min_side``."""
    return rescale(image, max(factor, min_side / min(image.size)))


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate about the centre (bicubic), same size, black corners."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)


ATTACKS: list[Attack] = [
    Attack("none", lambda im, rng: im),
    Attack("jpeg90", lambda im, rng: codec(im, "JPEG", 90)),
    Attack("jpeg75", lambda im, rng: codec(im, "JPEG", 75)),
    Attack("jpeg50", lambda im, rng: codec(im, "JPEG", 50)),
    Attack("webp80", lambda im, rng: codec(im, "WEBP", 80)),
    Attack("resize0.5", lambda im, rng: rescale(im, 0.5)),
    Attack("resize512", lambda im, rng: long_side(im, 512)),
    Attack("crop80", lambda im, rng: centre_crop(im, 0.8)),
    Attack("crop50", lambda im, rng: centre_crop(im, 0.5)),
    Attack("blur1", lambda im, rng: im.filter(ImageFilter.GaussianBlur(1.0))),
    Attack("noise5", lambda im, rng: gaussian_noise(im, 5.0, rng)),
    Attack("bright+", lambda im, rng: ImageEnhance.Brightness(im).enhance(1.25)),
    Attack("bright-", lambda im, rng: ImageEnhance.Brightness(im).enhance(0.75)),
    Attack("contrast+", lambda im, rng: ImageEnhance.Contrast(im).enhance(1.25)),
    Attack("contrast-", lambda im, rng: ImageEnhance.Contrast(im).enhance(0.75)),
    Attack("rotate2", lambda im, rng: rotate(im, 2.0)),
    Attack("rotate5", lambda im, rng: rotate(im, 5.0)),
    Attack("resize0.5+jpeg75", lambda im, rng: codec(rescale(im, 0.5), "JPEG", 75)),
    Attack("crop70-topleft", lambda im, rng: crop_box(im, 0.0, 0.0, math.sqrt(0.7), math.sqrt(0.7))),
    Attack("band55", lambda im, rng: crop_box(im, 0.0, 0.2, 1.0, 0.75)),
    Attack("border10", lambda im, rng: add_border(im, 0.1)),
    Attack("mirror", lambda im, rng: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    Attack("rotate10", lambda im, rng: rotate(im, 10.0)),
    Attack("rotate15", lambda im, rng: rotate(im, 15.0)),
    Attack("downscale0.25", lambda im, rng: downscale(im, 0.25)),
]

#: Attacks the exact-recovery target (>= 0.95) does not cover.
HARD_ATTACKS: tuple[str, ...] = ()


def attack_by_name(name: str) -> Attack:
    """Look an attack up by name."""
    for attack in ATTACKS:
        if attack.name == name:
            return attack
    raise KeyError(f"unknown attack {name!r} (known: {', '.join(a.name for a in ATTACKS)})")
