"""Keyed carriers: the per-bit patterns of the watermark, derived from the secret key.

Nothing learned or shipped says what a mark looks like: each raw bit's carrier is a
pseudo-random ``tile`` x ``tile`` pattern drawn from a SHAKE-256 stream seeded with
HMAC-SHA256(key, label), shaped in the Fourier domain to the model's radial power profile (a
public, key-free description of which spatial frequencies survive the decoder's whitening and
common attacks), orthonormalised (no cross-talk between carriers) and scaled to unit RMS.
The carriers repeat over the model's grid (``grid / tile`` times per side), which is what lets
the decoder find them again after a crop anywhere in the frame.

Without the key the carriers are unknown random patterns: the raw bits cannot be read, written
or cancelled. Derivation is numpy float64 from a hash stream (no framework RNG), so a mark made
on one machine or library version decodes on another.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from functools import lru_cache

import numpy as np
import torch

_LABEL = b"provmark watermark v2 carriers"


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


def keyed_tiles(key: bytes, count: int, tile: int, profile: torch.Tensor) -> torch.Tensor:
    """The ``count`` carriers ``[count, tile, tile]`` (float32, orthogonal, unit RMS) of ``key``."""
    return _tiles(bytes(key), count, tile, tuple(float(v) for v in profile))


@lru_cache(maxsize=32)
def _tiles(key: bytes, count: int, tile: int, profile: tuple[float, ...]) -> torch.Tensor:
    if count > tile * tile - 1:
        raise ValueError(f"{count} carriers do not fit in a {tile}x{tile} tile")
    seed = hmac.new(key, _LABEL + f" {count}x{tile}".encode(), hashlib.sha256).digest()
    noise = _gaussian(seed, count * tile * tile).reshape(count, tile, tile)
    amplitude = np.sqrt(np.asarray(profile, dtype=np.float64))[_rings(tile, len(profile)).numpy()]
    shaped = np.fft.ifft2(np.fft.fft2(noise) * amplitude).real
    shaped -= shaped.mean(axis=(1, 2), keepdims=True)
    q, r = np.linalg.qr(shaped.reshape(count, -1).T)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # unique factorisation: the same carriers on any LAPACK
    carriers = q.T.reshape(count, tile, tile) * tile  # unit RMS
    out = torch.from_numpy(carriers.astype(np.float32))
    out.requires_grad_(False)
    return out


def _gaussian(seed: bytes, n: int) -> np.ndarray:
    """``n`` standard normal draws (Box-Muller) from a SHAKE-256 stream of ``seed``."""
    half = (n + 1) // 2
    words = np.frombuffer(hashlib.shake_256(seed).digest(8 * half), dtype=">u4").astype(np.float64)
    u = (words.reshape(2, half) + 0.5) / 2.0**32
    radius = np.sqrt(-2.0 * np.log(u[0]))
    return np.concatenate([radius * np.cos(2 * np.pi * u[1]), radius * np.sin(2 * np.pi * u[1])])[:n]
