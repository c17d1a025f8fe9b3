"""Synchronisation: find the tile lattice of a mark after crops, borders, mirroring and rotation.

The sync tile repeats every ``tile`` cells, so a marked image's whitened map is periodic along
two lattice vectors, whatever part of the frame survived. Their images in the attacked map
(any anisotropic scale, rotation and shear) show as peaks of its autocorrelation at multiples
of the vectors. The autocorrelation is computed from the spectrum flattened by its local mean
(the host's smooth spectrum divides out, the mark's comb of narrow lines stays) with the
lowest frequencies dropped. Each lattice vector is the lag with the largest sum over its
first three multiples; the lattice is the pair of such vectors whose 24 nearest lattice
points sum the most, refined to an eighth of a cell. The lattice gives the linear part
of the alignment (up to a mirror, tried both ways); the translation is then a cyclic shift of
the folded tile, found for all shifts at once by FFT correlation with the sync tile (by the
absolute z-score; the payload's signs are never looked at). Bands (one axis stretched, two periods or
fewer along it) are tried as fixed stretches (:func:`band_thetas`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Lattice periods searched, in units of the unattacked tile (0.8 = 10% border, 2 = half-width crop).
PERIOD_RANGE = (0.75, 2.1)
#: Largest |minor/major| component of a lattice vector (rotations to 15 degrees of wide images).
MAX_SLANT = 0.55
#: Stretches of one axis searched for bands (a crop keeping 48% to 95% of one side).
BAND_STRETCH = (1.05, 2.1)
#: Candidates kept per lattice vector, and lattices (pairs of them) tried.
TOP = 24
PAIRS = 3
_FLATTEN = 7
_LOW_CUT = 0.03
_HARMONICS = 3


def flattened_autocorrelation(w: torch.Tensor) -> torch.Tensor:
    """Autocorrelation ``[2g,2g]`` (lag 0 = 1, circular indices) of a map ``[g,g]`` whose
    zero-padded spectrum is divided by its local mean, lowest frequencies removed."""
    g = w.shape[-1]
    power = torch.fft.fft2(w - w.mean(), s=(2 * g, 2 * g)).abs().pow(2)
    pad = _FLATTEN // 2
    smooth = F.avg_pool2d(F.pad(power[None, None], (pad, pad, pad, pad), mode="circular"), _FLATTEN, stride=1)[0, 0]
    flat = power / smooth.clamp_min(1e-12)
    freq = torch.fft.fftfreq(2 * g).abs()
    flat[(freq.view(-1, 1) < _LOW_CUT) & (freq.view(1, -1) < _LOW_CUT)] = 0.0
    r = torch.fft.ifft2(flat).real
    return r / r[0, 0].clamp_min(1e-12)


def _sample(r: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``r`` at lags ``(x, y)`` (any shape; bilinear, circular indices), 0 beyond half its size."""
    n = r.shape[-1]
    inside = (x.abs() < n / 2) & (y.abs() < n / 2)
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long() % n, y0.long() % n
    x1, y1 = (x0 + 1) % n, (y0 + 1) % n
    value = (r[y0, x0] * (1 - fx) * (1 - fy) + r[y0, x1] * fx * (1 - fy)
             + r[y1, x0] * (1 - fx) * fy + r[y1, x1] * fx * fy)
    return torch.where(inside, value, torch.zeros_like(value))


def _axis_candidates(r: torch.Tensor, tile: int, axis: int) -> torch.Tensor:
    """The ``TOP`` lags ``[TOP,2]`` (dx, dy) near ``axis`` (0: x, 1: y) with the largest sum of
    ``r`` over their first harmonics, at least 1.5 cells apart."""
    lo, hi = round(PERIOD_RANGE[0] * tile), round(PERIOD_RANGE[1] * tile)
    major = torch.arange(lo, hi + 1, dtype=torch.float32)
    span = round(MAX_SLANT * hi)
    minor = torch.arange(-span, span + 1, dtype=torch.float32)
    a, b = torch.meshgrid(major, minor, indexing="ij")
    keep = b.abs() <= MAX_SLANT * a
    lags = torch.stack([a[keep], b[keep]], dim=1) if axis == 0 else torch.stack([b[keep], a[keep]], dim=1)
    harmonics = torch.arange(1, _HARMONICS + 1, dtype=torch.float32).view(1, -1)
    score = _sample(r, lags[:, :1] * harmonics, lags[:, 1:] * harmonics).sum(dim=1)
    found: list[list[float]] = []
    for index in score.topk(min(8 * TOP, len(score))).indices.tolist():
        v = lags[index].tolist()
        if all(max(abs(v[0] - u[0]), abs(v[1] - u[1])) > 1.5 for u in found):
            found.append(v)
        if len(found) == TOP:
            break
    return torch.tensor(found)


_I, _J = torch.meshgrid(torch.arange(-2.0, 3.0), torch.arange(-2.0, 3.0), indexing="ij")
_KEEP = (_I != 0) | (_J != 0)
_STEPS = torch.tensor([(i / 8, j / 8) for i in range(-4, 5) for j in range(-4, 5)])


def _lattice_scores(r: torch.Tensor, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
    """Sum of ``r`` over the lattice points ``i v1 + j v2`` (``|i|, |j| <= 2``, not both 0) of
    each pair of lattice vectors ``v1, v2`` ``[P,2]``: ``[P]``."""
    i, j = _I[_KEEP].view(1, -1, 1), _J[_KEEP].view(1, -1, 1)
    points = i * v1.unsqueeze(1) + j * v2.unsqueeze(1)
    return _sample(r, points[..., 0], points[..., 1]).sum(dim=1)


def lattice_thetas(w: torch.Tensor, tile: int) -> torch.Tensor:
    """Candidate alignments ``[K,2,3]`` (translation 0) whose linear part maps the unattacked
    tile lattice onto the ``PAIRS`` lattices that best explain the autocorrelation of the
    whitened map ``[g,g]`` (each refined to an eighth of a cell) and onto the unmoved lattice
    (pure shifts), each also mirrored."""
    r = flattened_autocorrelation(w)
    unmoved = (torch.tensor([float(tile), 0.0]), torch.tensor([0.0, float(tile)]))
    # The unmoved vectors compete too: a band cropped across the full width keeps the x period.
    first = torch.cat([_axis_candidates(r, tile, 0), unmoved[0][None]])
    second = torch.cat([_axis_candidates(r, tile, 1), unmoved[1][None]])
    v1 = first.repeat_interleave(len(second), dim=0)
    v2 = second.repeat(len(first), 1)
    order = _lattice_scores(r, v1, v2).argsort(descending=True)[:PAIRS]
    lattices = []
    for a, b in zip(v1[order], v2[order]):
        for _ in range(2):  # alternate sub-cell refinement of each vector
            a = a + _STEPS[_lattice_scores(r, a + _STEPS, b.expand(len(_STEPS), 2)).argmax()]
            b = b + _STEPS[_lattice_scores(r, a.expand(len(_STEPS), 2), b + _STEPS).argmax()]
        lattices.append((a, b))
    lattices.append(unmoved)
    thetas = []
    for a, b in lattices:
        linear = torch.stack([a, b], dim=1) / tile
        for mirror in (1.0, -1.0):
            m = linear * torch.tensor([[mirror, 1.0]])
            thetas.append(torch.cat([m, torch.zeros(2, 1)], dim=1))
    return torch.stack(thetas)


def band_thetas(tile: int) -> torch.Tensor:
    """Alignments ``[K,2,3]`` (translation 0) that stretch one axis alone by ``BAND_STRETCH``
    factors: crops keeping the full width or height and changing the aspect ratio, whose
    lattice the autocorrelation often misses (two periods or fewer along the stretched axis)."""
    lo, hi = BAND_STRETCH
    stretches = torch.exp(torch.arange(math.log(lo), math.log(hi), 2.0 / (3.0 * tile)))
    eye = torch.eye(2, 3)
    thetas = []
    for axis in (0, 1):
        for s in stretches.tolist():
            theta = eye.clone()
            theta[axis, axis] = s
            thetas.append(theta)
    return torch.stack(thetas)


def best_shift(folded: torch.Tensor, norms: torch.Tensor, pattern: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For folded maps ``[K,T,T]`` (map norms ``[K]``), the cyclic shift where the map reads
    ``pattern`` ``[T,T]`` with the largest absolute z-score: (that ``|z|`` ``[K]``, shift
    ``[K,2]`` as (x, y) in cells within [-T/2, T/2))."""
    t = pattern.shape[-1]
    spectrum = torch.fft.rfft2(folded) * torch.fft.rfft2(pattern).conj()
    c = torch.fft.irfft2(spectrum, s=(t, t)) / norms.view(-1, 1, 1)  # [K,T,T]: sum_x f(x+s) p(x)
    z, where = c.abs().flatten(1).max(dim=1)
    shift = torch.stack([where % t, where // t], dim=1)
    return z, torch.where(shift >= t // 2, shift - t, shift).float()
