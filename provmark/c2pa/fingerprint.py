"""Content fingerprint kept with each stored manifest: does an image still show what was signed?

A watermark found in an image says *which* manifest it carries, not that the image is the one
that was signed: a mark can be copied onto another picture. The manifest store therefore also
keeps a fingerprint of the signed pixels: a 64 x 64 grayscale thumbnail of the whole frame
(4 KB) and the signed size. A query image, less any flat frame or padding along its edges, is
compared by a DCT perceptual hash (64 bits of the lowest frequencies of a 32 x 32 grayscale
view, each above or below their median) against the hashes of windows of the stored
thumbnail, of the query's aspect ratio, plain and mirrored: a coarse grid (the whole frame,
and crops of 0.9, 0.8 and 0.7 per side at 9 positions) whose best few are refined by hill
climbing on the correlation of the coefficients (down to 0.68 per side, 46% of the area; the
search is :mod:`provmark.c2pa.window_hash`);
without a match, again with the image turned back by up to 12 degrees. The smallest Hamming
distance seen is reported; :data:`MATCH_DISTANCE` separates legitimate copies (JPEG,
resizing, crops, borders, small rotations, metadata stripped) from other photos, as
measured by ``benchmarks/fingerprint.py``. numpy and Pillow only: 5-10 ms per comparison,
several times that for a non-match.

Example::

    fp = Fingerprint.of(signed_image)
    entry = fp.to_dict()                      # kept beside the manifest
    Fingerprint.from_dict(entry).compare(copy).matches
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from provmark.c2pa.window_hash import HASH_BITS, THUMB_SIDE, window_distance

#: Name of this fingerprint algorithm (stored with each entry).
FINGERPRINT_ALG = "io.provmark.window-phash.1"
#: Largest Hamming distance (of 64 bits) at which an image still shows the signed content.
#: Chosen from benchmarks/fingerprint.py on 130 photos (see README, "Content-bound soft binding").
MATCH_DISTANCE = 6
#: Angles (degrees) a copy may have been rotated by, tried when the upright search finds no match.
ROTATIONS = (4.0, -4.0, 8.0, -8.0, 12.0, -12.0)
#: A border line is flat (gray-level standard deviation) and at the border's level (difference of means).
BORDER_STD = 2.0
BORDER_LEVEL = 4.0


@dataclass(frozen=True)
class ContentCheck:
    """Result of comparing an image with the fingerprint of the signed pixels."""

    matches: bool
    distance: int
    threshold: int = MATCH_DISTANCE
    bits: int = HASH_BITS


@dataclass(frozen=True)
class Fingerprint:
    """Grayscale thumbnail of a signed image (``THUMB_SIDE`` squared, uint8) and its size."""

    thumbnail: bytes
    width: int
    height: int

    @classmethod
    def of(cls, image: Image.Image) -> Fingerprint:
        """The fingerprint of ``image`` (any mode; alpha is composited on white)."""
        return cls(_thumbnail(_gray(image)).tobytes(), image.width, image.height)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored beside the manifest)."""
        return {
            "alg": FINGERPRINT_ALG,
            "width": self.width,
            "height": self.height,
            "thumbnail": base64.b64encode(self.thumbnail).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint | None:
        """Read :meth:`to_dict` output; None for another algorithm or a malformed entry."""
        try:
            if data.get("alg") != FINGERPRINT_ALG:
                return None
            thumb = base64.b64decode(data["thumbnail"], validate=True)
            width, height = int(data["width"]), int(data["height"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        if len(thumb) != THUMB_SIDE * THUMB_SIDE or width <= 0 or height <= 0:
            return None
        return cls(thumb, width, height)

    def distance(self, image: Image.Image) -> int:
        """Smallest Hamming distance between ``image``'s hash and a window of the signed frame.

        Flat bands along the image's edges (a frame or padding added to a copy) are cut off
        first. A coarse grid of windows, plain and mirrored, is refined around its best few by hill
        climbing on the correlation of the DCT coefficients (:func:`~provmark.c2pa.window_hash.window_distance`).
        When that finds no match, the image is turned back by each of :data:`ROTATIONS` (its
        inner upright rectangle kept) and searched again.
        """
        stored = np.frombuffer(self.thumbnail, dtype=np.uint8).reshape(THUMB_SIDE, THUMB_SIDE).astype(np.float64)
        gray = _without_borders(_gray(image))
        best = self._search(gray, stored)
        if best > MATCH_DISTANCE:
            small = gray.reduce(max(1, max(gray.size) // 256))
            for angle in ROTATIONS:
                best = min(best, self._search(_turned_back(small, angle), stored))
                if best <= MATCH_DISTANCE:
                    break
        return best

    def _search(self, gray: Image.Image, stored: np.ndarray) -> int:
        ratio = (gray.width / max(gray.height, 1)) / (self.width / self.height)
        return window_distance(np.asarray(_thumbnail(gray), dtype=np.float64), stored, ratio)

    def preview(self, width: int = 256) -> Image.Image:
        """The stored thumbnail at the signed aspect ratio: a coarse gray view of what was signed."""
        height = max(1, round(width * self.height / self.width))
        return Image.frombytes("L", (THUMB_SIDE, THUMB_SIDE), self.thumbnail).resize((width, height), Image.Resampling.BICUBIC)

    def compare(self, image: Image.Image, threshold: int = MATCH_DISTANCE) -> ContentCheck:
        """Whether ``image`` still shows the signed content, with the distance."""
        d = self.distance(image)
        return ContentCheck(matches=d <= threshold, distance=d, threshold=threshold)


def _gray(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(base, rgba)
    return image.convert("L") if image.mode != "L" else image


def _thumbnail(gray: Image.Image) -> Image.Image:
    return gray.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX, reducing_gap=2.0)


def _turned_back(gray: Image.Image, angle: float) -> Image.Image:
    """``gray`` rotated by ``-angle`` degrees, cut to the largest centred rectangle of its shape
    that holds only picture (no corners from either rotation)."""
    turned = gray.rotate(-angle, resample=Image.Resampling.BILINEAR)
    w, h = gray.size
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    scale = min(w / (w * c + h * s), h / (w * s + h * c)) ** 2  # once for each rotation
    cw, ch = w * scale, h * scale
    return turned.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2)))


def _without_borders(gray: Image.Image) -> Image.Image:
    """``gray`` without flat bands along its edges, unless that would leave under 40% of a side."""
    small = gray.reduce(max(1, max(gray.size) // 256))
    pixels = np.asarray(small, dtype=np.float64)
    top, bottom = _flat_lines(pixels), _flat_lines(pixels[::-1])
    left, right = _flat_lines(pixels.T), _flat_lines(pixels.T[::-1])
    h, w = pixels.shape
    if not top + bottom + left + right or h - top - bottom < 0.4 * h or w - left - right < 0.4 * w:
        return gray
    sx, sy = gray.width / w, gray.height / h
    return gray.crop((round(left * sx), round(top * sy), round(gray.width - right * sx), round(gray.height - bottom * sy)))


def _flat_lines(lines: np.ndarray) -> int:
    """How many leading rows of ``lines`` are flat and at the level of the first (a frame or padding),
    plus the row where the frame blends into the picture."""
    flat = (lines.std(axis=1) <= BORDER_STD) & (np.abs(lines.mean(axis=1) - lines[0].mean()) <= BORDER_LEVEL)
    run = len(flat) if flat.all() else int(np.argmin(flat))
    return run + 1 if run else 0
