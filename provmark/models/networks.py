"""The watermark networks: keyed per-bit carriers shared by encoder and decoder.

Each bit owns a carrier derived from the secret key (:mod:`provmark.models.carriers`) that
covers the whole coarse grid once; a keyed sync tile, repeated over the grid, carries
``sync_energy`` of the mark's energy and no bit. The encoder adds the carriers with signs from
the bits plus the tiled sync, upsamples, masks by texture and fixes the RMS. The decoder whitens
the image (fixed grid-scale high-pass plus a learned conv correction) and correlates the
whitened map with the same carriers, first as it is, then, if that reads weakly, under the
alignments of :mod:`provmark.models.search` (the sync tile finds crops, borders, mirrors and
bands; zooms and rotations about the centre are tried too). The shipped weights hold only the
whitener, a logit scale and the carriers' radial power profile: without the key they say
nothing about what a mark looks like.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from provmark.models.carriers import KeyedPatterns, keyed_patterns
from provmark.models.config import ModelConfig
from provmark.models.embedding import luma
from provmark.models.masking import normalise_rms, texture_mask
from provmark.models.search import search_weak

#: Weight of the sync tile's squared z-score against the payload's squared z-scores when
#: alignments are compared: one coherent pattern with a quarter of the payload's energy tells a
#: true alignment from a chance one far better than 144 readings of unknown sign.
SYNC_WEIGHT = 16.0

def rotation_theta(degrees: float, aspect: float, zoom: float = 1.0) -> list[list[float]]:
    """Affine sampling matrix (2x3, normalised coordinates) of a rotation by ``degrees`` about the
    centre, then a ``zoom`` magnification, of an image of width/height ``aspect`` that was
    squash-resized to a square: the same pixels-space rotation is unequal shears there."""
    c, s = math.cos(math.radians(degrees)) * zoom, math.sin(math.radians(degrees)) * zoom
    return [[c, -s / aspect, 0.0], [s * aspect, c, 0.0]]


def alignment_thetas(config: ModelConfig, aspect: float = 1.0) -> torch.Tensor:
    """Affine sampling matrices ``[K,2,3]`` mapping pattern coordinates to image coordinates:
    the identity first, then every zoom, then every rotation in ``config.angles`` for an image of
    width/height ``aspect`` (or, for configs without angles, every shear pair)."""
    identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    zooms = [[[z, 0.0, 0.0], [0.0, z, 0.0]] for z in config.zooms]
    if config.angles:
        turns = [rotation_theta(a, aspect) for a in config.angles]
    else:
        turns = [[[1.0, a, 0.0], [b, 1.0, 0.0]] for a in config.shears for b in config.shears]
    thetas = [identity] + [t for t in zooms + turns if t != identity]
    return torch.tensor(thetas)


@functools.lru_cache(maxsize=2)
def search_grid(config: ModelConfig, aspect: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The configured alignments ``[K,2,3]`` for ``aspect`` and their sampling grids
    ``[K,g,g,2]`` (cached: every weak image of that shape searches them)."""
    thetas = alignment_thetas(config, aspect)
    return thetas, F.affine_grid(thetas, [len(thetas), 1, config.grid, config.grid], align_corners=False)


def affine_grid(thetas: torch.Tensor, g: int) -> torch.Tensor:
    """``F.affine_grid(thetas, [K,1,g,g], align_corners=False)`` ``[K,g,g,2]`` by broadcasting:
    about twice as fast for the hundreds of alignments a search warps."""
    cells = (torch.arange(g, dtype=thetas.dtype) * 2.0 + 1.0) / g - 1.0
    x, y = cells.view(1, 1, -1), cells.view(1, -1, 1)
    t = thetas.reshape(-1, 6, 1, 1)
    return torch.stack([t[:, 0] * x + t[:, 1] * y + t[:, 2], t[:, 3] * x + t[:, 4] * y + t[:, 5]], dim=-1)


class Whitener(nn.Module):
    """Image ``[B,3,S,S]`` -> whitened luma map ``[B,1,g,g]``.

    A fixed part (grid-scale luma minus its 3x3 local mean) plus a learned conv correction whose
    last layer starts at zero.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.pool = config.size // config.grid
        width, layers, cin = config.decoder_width, [], 3
        for _ in range(int(math.log2(self.pool))):
            layers += [nn.Conv2d(cin, width, 3, stride=2, padding=1), nn.GELU()]
            cin = width
        layers += [
            nn.Conv2d(width, width, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.GELU(),
            nn.Conv2d(width, 1, 1),
        ]
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, images_s: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(luma(images_s), self.pool)
        base = y - F.avg_pool2d(y, 3, stride=1, padding=1, count_include_pad=False)
        return base + self.net(images_s * 2.0 - 1.0)


class WatermarkModel(nn.Module):
    """Keyed encoder/decoder with the fixed texture mask and RMS normalisation of the contract.

    Every method that embeds or reads takes the carriers and sync tile of a key
    (:meth:`carriers`); training draws a fresh random key per batch, so the whitener works for
    any key.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.whitener = Whitener(config)
        self.logit_scale = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("spectrum", torch.ones(config.spectrum_bins))

    def whiten(self, images_s: torch.Tensor) -> torch.Tensor:
        """Whitened maps ``[B,1,g,g]`` with outliers (edges, borders, clipped areas) clamped to
        ``clamp`` times each map's mean absolute value: they are host, not mark."""
        w = self.whitener(images_s)
        limit = self.config.clamp * w.abs().mean(dim=(1, 2, 3), keepdim=True)
        return torch.maximum(torch.minimum(w, limit), -limit)

    def carriers(self, key: bytes) -> KeyedPatterns:
        """The ``num_bits`` carriers ``[L,g,g]`` and the sync tile of ``key`` (cached per key)."""
        return keyed_patterns(key, self.config.num_bits, self.config.grid, self.config.tile, self.spectrum)

    def fold(self, maps: torch.Tensor) -> torch.Tensor:
        """Sum maps ``[...,g,g]`` over their ``(g/T)^2`` tiles: ``[...,T,T]``."""
        t, r = self.config.tile, self.config.grid // self.config.tile
        return maps.reshape(*maps.shape[:-2], r, t, r, t).sum(dim=(-4, -2))

    def warp(self, w: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
        """Whitened maps ``[B,1,h,h]`` (any size) resampled on the grid under per-image
        alignments ``[B,K,2,3]``: ``[B,K,g,g]``."""
        b, k, g = w.shape[0], thetas.shape[1], self.config.grid
        grid = affine_grid(thetas.reshape(b * k, 2, 3), g)
        source = w.repeat_interleave(k, dim=0)
        return F.grid_sample(source, grid, mode="bilinear", align_corners=False).view(b, k, g, g)

    def _masked(self, images_s: torch.Tensor, coefficients: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
        """Texture-masked, RMS-normalised residual ``[B,1,S,S]`` for carrier coefficients ``[B,L]``,
        plus the tiled sync pattern with ``sync_energy`` of the energy."""
        repeats = self.config.grid // self.config.tile
        f = self.config.sync_energy
        payload = torch.einsum("bl,lhw->bhw", coefficients, carriers.payload) * (1.0 - f) ** 0.5
        gain = coefficients.pow(2).sum(dim=1).sqrt().view(-1, 1, 1) * f**0.5
        pattern = (payload + gain * carriers.sync.repeat(repeats, repeats)).unsqueeze(1)
        size = self.config.size
        pattern = F.interpolate(pattern, size=(size, size), mode="bilinear", align_corners=False)
        mask = texture_mask(images_s, self.config.mask_floor, self.config.mask_ceiling)
        return normalise_rms(pattern * mask, self.config.target_rms)

    def residual(self, images_s: torch.Tensor, bits: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
        """Residual ``[B,1,S,S]`` at unit strength (fixed RMS, texture-masked) carrying ``bits``
        ``[B,L]`` on ``carriers`` for images in [0,1].

        Closed-loop host-interference cancellation: ``cancel_steps`` times, the decoder's z-scores
        of the marked image are measured and the part not along the bit signs (the image's own
        correlation with the carriers, and cross-talk) is subtracted, a ``cancel_fraction`` at a
        time, from the carrier coefficients (the RMS stays fixed). The correction's RMS is capped
        at that of the signs, so a poorly decodable image keeps at least part of its signal.
        """
        signs = bits * 2.0 - 1.0
        coefficients = signs
        residual = self._masked(images_s, coefficients, carriers)
        for _ in range(self.config.cancel_steps):
            with torch.no_grad():
                z = self.z_scores(images_s + residual, carriers, search=False)
                signal = (z * signs).mean(dim=1, keepdim=True)
                scale = coefficients.pow(2).mean(dim=1, keepdim=True).sqrt()
                correction = (z - signal * signs) * (scale / signal.clamp_min(1e-3))
                correction = correction / correction.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1.0)
            coefficients = coefficients - self.config.cancel_fraction * correction
            residual = self._masked(images_s, coefficients, carriers)
        return residual

    def correlate(self, maps: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
        """z-scores ``[B,K,L]`` of whitened maps ``[B,K,g,g]`` against the payload carriers
        ``[L,g,g]`` (about N(0,1) per bit where nothing is embedded)."""
        norms = maps.pow(2).sum(dim=(2, 3)).add(1e-12).sqrt()
        return (maps.flatten(2) @ carriers.payload.flatten(1).T) / norms.unsqueeze(2)

    def scored(self, maps: torch.Tensor, carriers: KeyedPatterns) -> tuple[torch.Tensor, torch.Tensor]:
        """z-scores ``[B,K,L]`` of aligned maps ``[B,K,g,g]`` (:meth:`correlate`) and the score
        ``[B,K]`` that alignments are compared on: the mean squared z-score plus ``SYNC_WEIGHT``
        times the sync tile's squared z-score over L. Neither looks at the payload's signs, nor
        at the sync's: an attacker who subtracts the repeating part too strongly (the sync then
        reads negative) must not be able to push the search away from the true alignment."""
        norms = maps.pow(2).sum(dim=(2, 3)).add(1e-12).sqrt()
        z = (maps.flatten(2) @ carriers.payload.flatten(1).T) / norms.unsqueeze(2)
        zs = (self.fold(maps) * carriers.sync).sum(dim=(2, 3)) / norms
        return z, z.pow(2).mean(dim=2) + SYNC_WEIGHT * zs.pow(2) / z.shape[2]

    def z_scores(
        self,
        images_s: torch.Tensor,
        carriers: KeyedPatterns,
        search: bool = True,
        aspect: float = 1.0,
        detail: Callable[[int], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Per-bit z-scores ``[B,L]``: correlation of the whitened image with each carrier over
        the map's norm (about N(0,1) where nothing is embedded).

        The identity alignment is tried first. With ``search``, images whose mean squared
        z-score stays below ``search_threshold`` (cropped, rotated, bordered or unmarked) try
        every configured alignment and, with their translations, the alignments that the sync
        tile suggests, keep the best-scoring one (:meth:`scored`), move it by whole tiles to
        where the payload reads best and refine it (:mod:`provmark.models.search`).
        ``aspect`` is the width/height of the images before they were squash-resized (rotations
        are searched for that shape); ``detail(size)`` renders the (single) image at a larger
        internal size, read where the mark was shrunk. The choice of alignment looks only at
        the payload's squared z-scores and the sync tile, never at the payload's signs.
        """
        w = self.whiten(images_s)
        z = self.correlate(w, carriers)[:, 0]
        return self._search(w, z, carriers, aspect, detail) if search else z

    def decode_views(
        self, image_s: torch.Tensor, carriers: KeyedPatterns, aspect: float, detail: Callable[[int], torch.Tensor]
    ) -> torch.Tensor:
        """Logits ``[2,L]`` of one image ``[1,3,S,S]``: with the alignment search
        (:meth:`z_scores`), then at the identity alignment alone (the search can lock onto the
        host's own texture, and the unaligned reading then still holds the mark)."""
        w = self.whiten(image_s)
        z = self.correlate(w, carriers)[:, 0]
        return self.logit_scale * torch.cat([self._search(w, z, carriers, aspect, detail), z])

    def _search(
        self, w: torch.Tensor, z: torch.Tensor, carriers: KeyedPatterns, aspect: float,
        detail: Callable[[int], torch.Tensor] | None,
    ) -> torch.Tensor:
        """:meth:`z_scores` past the identity (:func:`provmark.models.search.search_weak`)."""
        grid = search_grid(self.config, aspect if self.config.angles else 1.0)
        return search_weak(self, w, z, carriers, aspect, detail, grid)

    def decode_logits(
        self,
        images_s: torch.Tensor,
        carriers: KeyedPatterns,
        search: bool = True,
        aspect: float = 1.0,
        detail: Callable[[int], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Bit logits ``[B,L]`` (> 0 means bit 1) of images ``[B,3,S,S]`` in [0,1] read on
        ``carriers``: scaled z-scores (see :meth:`z_scores`; ``search=False`` is for training)."""
        return self.logit_scale * self.z_scores(images_s, carriers, search, aspect, detail)
