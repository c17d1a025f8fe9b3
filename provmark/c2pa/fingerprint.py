"""Content fingerprint kept with each stored manifest: does an image still show what was signed?

A watermark found in an image says *which* manifest it carries, not that the image is the one
that was signed: a mark can be copied onto another picture. The manifest store therefore also
keeps a fingerprint of the signed pixels: a 64 x 64 grayscale thumbnail of the whole frame
(4 KB) and the signed size. A query image, less any flat frame or padding along its edges, is
compared by a DCT perceptual hash (64 bits of the lowest frequencies of a 32 x 32 grayscale
view, each above or below their median) against the hashes of windows of the stored
thumbnail, of the query's aspect ratio, plain and mirrored: a coarse grid (the whole frame,
and crops of 0.9, 0.8 and 0.7 per side at 9 positions) whose best few are refined by hill
climbing on the correlation of the coefficients (down to 0.68 per side, 46% of the area);
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
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

#: Name of this fingerprint algorithm (stored with each entry).
FINGERPRINT_ALG = "io.provmark.window-phash.1"
#: Side of the stored grayscale thumbnail, in pixels.
THUMB_SIDE = 64
#: Side of the grayscale view the hash is computed from.
HASH_SIDE = 32
#: Number of hash bits (lowest DCT frequencies, DC excluded).
HASH_BITS = 64
#: Largest Hamming distance (of 64 bits) at which an image still shows the signed content.
#: Chosen from benchmarks/fingerprint.py on 130 photos (see README, "Content-bound soft binding").
MATCH_DISTANCE = 6
#: Coarse window sizes, as a fraction of the largest window of the query's aspect ratio (per side).
SCALES = (1.0, 0.9, 0.8, 0.7)
#: Coarse window positions along each axis, as a fraction of the free range.
POSITIONS = (0.0, 0.5, 1.0)
#: Smallest window scale reached by refinement (0.7 per side keeps 49% of the area).
MIN_SCALE = 0.68
#: Coarse windows refined by hill climbing, and its steps (of scale and of position).
REFINED = 3
REFINE_STEPS = (0.04, 0.02, 0.01)  # fractions of the frame
#: DCT rows and columns that hold the hash frequencies.
LOW_ROWS = 12
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
        first. A coarse grid of windows (:data:`SCALES` x :data:`POSITIONS`, plain and mirrored)
        is refined around its best few by hill climbing on the correlation of the DCT coefficients.
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
        search = _Search(np.asarray(_thumbnail(gray), dtype=np.float64), (stored, stored[:, ::-1]), _frame(ratio))
        starts = [(search.score(thumb, window), thumb, window) for thumb in (0, 1) for window in _grid(search.frame)]
        starts.sort(key=lambda item: -item[0])
        for score, thumb, window in starts[:REFINED]:
            for step in REFINE_STEPS:
                improved = True
                while improved:
                    improved = False
                    for move in _moves(search.frame, window, step):
                        value = search.score(thumb, move)
                        if value > score:
                            score, window, improved = value, move, True
        return search.best

    def preview(self, width: int = 256) -> Image.Image:
        """The stored thumbnail at the signed aspect ratio: a coarse gray view of what was signed."""
        height = max(1, round(width * self.height / self.width))
        return Image.frombytes("L", (THUMB_SIDE, THUMB_SIDE), self.thumbnail).resize((width, height), Image.Resampling.BICUBIC)

    def compare(self, image: Image.Image, threshold: int = MATCH_DISTANCE) -> ContentCheck:
        """Whether ``image`` still shows the signed content, with the distance."""
        d = self.distance(image)
        return ContentCheck(matches=d <= threshold, distance=d, threshold=threshold)


def _frame(ratio: float) -> tuple[float, float]:
    """Largest window (width, height as fractions of the signed frame) with the query's shape."""
    ratio = min(max(ratio, 0.25), 4.0)
    return (1.0, 1.0 / ratio) if ratio >= 1 else (ratio, 1.0)


def _grid(frame: tuple[float, float]) -> list[tuple[float, float, float]]:
    """Coarse windows (scale, left, top), left and top as fractions of the signed frame."""
    out = []
    for scale in SCALES:
        w, h = frame[0] * scale, frame[1] * scale
        lefts = sorted({p * (1 - w) for p in POSITIONS})
        tops = sorted({p * (1 - h) for p in POSITIONS})
        out += [(scale, left, top) for left in lefts for top in tops]
    return out


def _moves(frame: tuple[float, float], window: tuple[float, float, float], step: float) -> list[tuple[float, float, float]]:
    """Neighbours of ``window``: scaled about its centre, or shifted, by ``step`` (kept inside the frame)."""
    scale, left, top = window
    out = []
    for ds, dx, dy in ((-step, 0, 0), (step, 0, 0), (0, -step, 0), (0, step, 0), (0, 0, -step), (0, 0, step)):
        s = min(max(scale + ds, MIN_SCALE), 1.0)
        w, h = frame[0] * s, frame[1] * s
        cx = left + frame[0] * scale / 2 + dx
        cy = top + frame[1] * scale / 2 + dy
        move = (s, min(max(cx - w / 2, 0.0), 1 - w), min(max(cy - h / 2, 0.0), 1 - h))
        if move != window:
            out.append(move)
    return out


def _box(frame: tuple[float, float], window: tuple[float, float, float]) -> tuple[float, float, float, float]:
    scale, left, top = window
    return left, top, left + frame[0] * scale, top + frame[1] * scale


class _Search:
    """One query against one stored thumbnail (plain and mirrored): scores windows, keeps the best distance."""

    def __init__(self, query: np.ndarray, thumbs: tuple[np.ndarray, np.ndarray], frame: tuple[float, float]) -> None:
        self.thumbs, self.frame = thumbs, frame
        self._rows: dict[tuple[int, float, float], np.ndarray] = {}
        coeffs = _low(_project(0.0, 1.0) @ query @ _project(0.0, 1.0).T)
        self.bits = _bits(coeffs)
        self.query = _unit(coeffs)
        self.best = HASH_BITS

    def score(self, thumb: int, window: tuple[float, float, float]) -> float:
        """Correlation of the window's coefficients with the query's; updates :attr:`best`."""
        left, top, right, bottom = _box(self.frame, window)
        key = (thumb, round(top, 4), round(bottom, 4))
        if key not in self._rows:
            self._rows[key] = _project(key[1], key[2]) @ self.thumbs[thumb]
        coeffs = _low(self._rows[key] @ _project(round(left, 4), round(right, 4)).T)
        self.best = min(self.best, int(np.count_nonzero(_bits(coeffs) != self.bits)))
        return float(_unit(coeffs) @ self.query)


def _bits(coeffs: np.ndarray) -> np.ndarray:
    """Each coefficient above the median of all (half the bits are set)."""
    middle = np.partition(coeffs, (HASH_BITS // 2 - 1, HASH_BITS // 2))[HASH_BITS // 2 - 1 : HASH_BITS // 2 + 1]
    return coeffs > middle.sum() / 2


def _unit(coeffs: np.ndarray) -> np.ndarray:
    centred = coeffs - coeffs.sum() / coeffs.size
    return centred / max(float(np.sqrt(centred @ centred)), 1e-12)


def _low(coeffs: np.ndarray) -> np.ndarray:
    u, v = _low_frequencies()
    return coeffs[u, v]


@lru_cache(maxsize=4096)
def _project(start: float, stop: float) -> np.ndarray:
    """LOW_ROWS x THUMB_SIDE: the lowest DCT rows of [start, stop) (fractions of a side) area-resampled to HASH_SIDE."""
    return _dct_basis()[:LOW_ROWS] @ _resampler(start, stop)


def _resampler(start: float, stop: float) -> np.ndarray:
    """HASH_SIDE x THUMB_SIDE matrix averaging [start, stop) (fractions of the side) into HASH_SIDE cells."""
    edges = THUMB_SIDE * (start + (stop - start) * np.arange(HASH_SIDE + 1) / HASH_SIDE)
    pixels = np.arange(THUMB_SIDE)[None, :]
    overlap = np.clip(np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels), 0.0, None)
    return overlap / np.maximum(overlap.sum(axis=1, keepdims=True), 1e-12)


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


@lru_cache(maxsize=1)
def _dct_basis() -> np.ndarray:
    n = np.arange(HASH_SIDE)
    basis = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * HASH_SIDE))
    basis[0] /= np.sqrt(2)
    return basis


@lru_cache(maxsize=1)
def _low_frequencies() -> tuple[np.ndarray, np.ndarray]:
    pairs = sorted(((u, v) for u in range(LOW_ROWS) for v in range(LOW_ROWS) if (u, v) != (0, 0)), key=lambda p: (p[0] + p[1], p[0]))
    chosen = pairs[:HASH_BITS]
    return np.array([p[0] for p in chosen]), np.array([p[1] for p in chosen])
