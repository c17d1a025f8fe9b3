"""The window search of the content fingerprint: how close an image's DCT hash comes to the hash
of some window of the stored thumbnail (see :mod:`provmark.c2pa.fingerprint`).

The hash is 64 bits of the lowest DCT frequencies of a 32 x 32 grayscale view, each above or
below their median. Windows of the query's aspect ratio are scored by the correlation of their
coefficients with the query's: a coarse grid (:data:`SCALES` x :data:`POSITIONS`, plain and
mirrored) whose best few are refined by hill climbing. A window's view is two small matrix
products of the thumbnail (area resampling and DCT rows in one projection, cached per span).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Side of the stored grayscale thumbnail, in pixels.
THUMB_SIDE = 64
#: Side of the grayscale view the hash is computed from.
HASH_SIDE = 32
#: Number of hash bits (lowest DCT frequencies, DC excluded).
HASH_BITS = 64
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


def window_distance(query: np.ndarray, stored: np.ndarray, ratio: float) -> int:
    """Smallest Hamming distance between the hash of ``query`` and that of a window of ``stored``.

    Both are ``THUMB_SIDE`` squared float arrays (the query's whole frame and the signed one);
    ``ratio`` is the query's aspect ratio over the signed frame's, which fixes the windows' shape.
    """
    search = _Search(query, (stored, stored[:, ::-1]), _frame(ratio))
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
