"""Keyed carriers: the patterns of the watermark, derived from the secret key.

Nothing learned or shipped says what a mark looks like. Each raw bit's carrier is a
pseudo-random ``grid`` x ``grid`` pattern that covers the whole frame once (no period, so no
average over the frame estimates it), and one more keyed ``tile`` x ``tile`` pattern, the sync
tile, repeats ``grid / tile`` times per side: it carries no bit and only tells the decoder the
mark's geometry (the lattice and the shift, :mod:`provmark.models.sync`). All are drawn from a
SHAKE-256 stream seeded with HMAC-SHA256(key, label), shaped in the Fourier domain to the
model's radial power profile (a public, key-free description of which spatial frequencies
survive the decoder's whitening and common attacks) and scaled to unit RMS; the carriers are
orthonormalised against each other and against the tiled sync pattern (no cross-talk).

Without the key the carriers are unknown random patterns: the raw bits cannot be read, written
or cancelled. Derivation is numpy float64 from a hash stream (no framework RNG), so a mark made
on one machine or library version decodes on another.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

_LABEL = b"provmark watermark v3 carriers"
_SYNC_LABEL = b"provmark watermark v3 sync"


@dataclass(frozen=True)
class KeyedPatterns:
    """The patterns of one key: ``payload`` ``[L,g,g]`` (orthogonal, unit RMS, one per raw bit)
    and the ``sync`` tile ``[T,T]`` (unit RMS), repeated over the grid."""

    payload: torch.Tensor
    sync: torch.Tensor

    def __len__(self) -> int:
        return len(self.payload)


def radial_profile(patterns: torch.Tensor, bins: int) -> torch.Tensor:
    """Mean power of ``patterns`` ``[L,g,g]`` in ``bins`` rings of spatial frequency (0 to the
    corner, cycles per cell scaled to [0, 1]), normalised to a maximum of 1."""
    power = torch.fft.fft2(patterns).abs().pow(2).mean(0)
    ring = _rings(patterns.shape[-1], bins)
    total = torch.zeros(bins, dtype=power.dtype).index_add_(0, ring.flatten(), power.flatten())
    profile = total / torch.bincount(ring.flatten(), minlength=bins).clamp_min(1)
    return profile / profile.max()


def _rings(size: int, bins: int) -> torch.Tensor:
    """Ring index ``[size,size]`` of each FFT bin of a ``size`` x ``size`` map."""
    fy = torch.fft.fftfreq(size, dtype=torch.float64).view(-1, 1)
    fx = torch.fft.fftfreq(size, dtype=torch.float64).view(1, -1)
    radius = (fx**2 + fy**2).sqrt() / math.sqrt(0.5)
    return (radius * bins).long().clamp(max=bins - 1)


def keyed_patterns(key: bytes, count: int, grid: int, tile: int, profile: torch.Tensor) -> KeyedPatterns:
    """The ``count`` carriers and the sync tile of ``key`` (float32; see :class:`KeyedPatterns`)."""
    return _patterns(bytes(key), count, grid, tile, tuple(float(v) for v in profile))


@lru_cache(maxsize=32)
def _patterns(key: bytes, count: int, grid: int, tile: int, profile: tuple[float, ...]) -> KeyedPatterns:
    if count > grid * grid - 2:
        raise ValueError(f"{count} carriers do not fit in a {grid}x{grid} grid")
    sync = _shaped(hmac.new(key, _SYNC_LABEL + f" {tile}".encode(), hashlib.sha256).digest(), 1, tile, profile)[0]
    sync /= np.sqrt((sync**2).mean())
    seed = hmac.new(key, _LABEL + f" {count}x{grid}".encode(), hashlib.sha256).digest()
    tiled = np.tile(sync, (grid // tile, grid // tile)).reshape(1, -1)
    shaped = np.concatenate([tiled, _shaped(seed, count, grid, profile).reshape(count, -1)])
    q, r = np.linalg.qr(shaped.T)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # unique factorisation: the same carriers on any LAPACK
    payload = torch.from_numpy((q[:, 1:].T.reshape(count, grid, grid) * grid).astype(np.float32))
    return KeyedPatterns(payload=payload, sync=torch.from_numpy(sync.astype(np.float32)))


def _shaped(seed: bytes, count: int, size: int, profile: tuple[float, ...]) -> np.ndarray:
    """``count`` zero-mean Gaussian ``size`` x ``size`` patterns of ``seed`` with the radial
    power ``profile``."""
    noise = _gaussian(seed, count * size * size).reshape(count, size, size)
    amplitude = np.sqrt(np.asarray(profile, dtype=np.float64))[_rings(size, len(profile)).numpy()]
    shaped = np.fft.irfft2(np.fft.rfft2(noise) * amplitude[:, : size // 2 + 1], s=(size, size))
    return shaped - shaped.mean(axis=(1, 2), keepdims=True)


def _gaussian(seed: bytes, n: int) -> np.ndarray:
    """``n`` standard normal draws (Box-Muller) from a SHAKE-256 stream of ``seed``."""
    half = (n + 1) // 2
    words = np.frombuffer(hashlib.shake_256(seed).digest(8 * half), dtype=">u4").astype(np.float64)
    u = (words.reshape(2, half) + 0.5) / 2.0**32
    radius = np.sqrt(-2.0 * np.log(u[0]))
    return np.concatenate([radius * np.cos(2 * np.pi * u[1]), radius * np.sin(2 * np.pi * u[1])])[:n]
