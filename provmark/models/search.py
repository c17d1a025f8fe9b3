"""The alignment search: read a mark back after crops, borders, mirroring, rotations and zooms.

Run by :meth:`provmark.models.networks.WatermarkModel.z_scores` on the images whose identity
reading is weak. Two families of alignments compete: a fixed grid of zooms and rotations about
the centre (:func:`provmark.models.networks.search_grid`), and alignments whose translation is
searched: the tile lattices of the autocorrelation (:func:`provmark.models.sync.lattice_thetas`),
zooms, and one-axis stretches for bands (:func:`provmark.models.sync.band_thetas`), each at four
half-cell phases, with every whole-cell shift of the sync tile tried at once
(:func:`provmark.models.sync.best_shift`). Alignments are compared on
:meth:`~provmark.models.networks.WatermarkModel.scored` (payload energy plus the sync tile's
squared reading); the winner is moved by whole tiles to where the payload reads best (the sync
tile repeats, the payload does not) and refined by hill climbing. No choice looks at the signs
of the payload's z-scores, so the false-positive bound of the decision layer still holds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from provmark.models.carriers import KeyedPatterns
from provmark.models.config import ModelConfig
from provmark.models.sync import band_thetas, best_shift, lattice_thetas

if TYPE_CHECKING:
    from provmark.models.networks import WatermarkModel

#: Whole-tile moves tried once an alignment is found (the sync tile repeats; the payload does not).
_TILE_OFFSETS = torch.tensor([(i, j) for i in range(-2, 3) for j in range(-2, 3)], dtype=torch.float32)
#: Half-cell phases (x, y) tried by the shift search, which moves whole cells.
_HALF_CELLS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
#: Alignments where the sync tile reads best compared on the full score.
_SHIFT_TOP = 4


@functools.lru_cache(maxsize=4)
def _shifted_thetas(config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed alignments whose translation is searched: off-centre crops keeping the aspect
    ratio (every other magnification above 1) and bands (:func:`band_thetas`)."""
    zooms = [z for z in config.zooms if z > 1.0][::2]
    return torch.tensor([[[z, 0.0, 0.0], [0.0, z, 0.0]] for z in zooms]).reshape(-1, 2, 3), band_thetas(config.tile)


def search_weak(
    net: WatermarkModel, w: torch.Tensor, z: torch.Tensor, carriers: KeyedPatterns, aspect: float,
    detail: Callable[[int], torch.Tensor] | None, grid: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """:meth:`WatermarkModel.z_scores` past the identity: ``z`` ``[B,L]`` with the weak rows searched
    (``grid``: the centred alignments and their sampling grids for the image's aspect ratio)."""
    weak = torch.nonzero(z.pow(2).mean(dim=1) < net.config.search_threshold).flatten()
    if len(weak):
        z = z.clone()
        for index in weak.tolist():
            coarse = w[index : index + 1]
            fine = net.whiten(detail(net.config.fine_size)) if detail is not None and len(w) == 1 else None
            shifted = torch.cat([lattice_thetas(coarse[0, 0], net.config.tile), *_shifted_thetas(net.config)])
            found = max(_best(net, coarse, fine, grid[0], carriers, samplers=grid[1]),
                        _best(net, coarse, fine, shifted, carriers),
                        key=lambda result: float(result[0]))
            theta = _place(net, found[3], found[1], carriers)
            z[index] = _refine(net, found[3], theta[None], carriers)[0]
    return z


def _best(
    net: WatermarkModel,
    coarse: torch.Tensor,
    fine: torch.Tensor | None,
    thetas: torch.Tensor,
    carriers: KeyedPatterns,
    samplers: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best of alignments ``thetas`` ``[K,2,3]`` for one image whitened at the internal
    size (``coarse`` ``[1,1,g,g]``) and, if given, at ``fine_size`` (``fine``, read for the
    alignments that shrink the mark below ``fine_below``, where it is still resolved):
    (score, theta ``[2,3]``, z-scores ``[L]``, the whitened map read). Given their ``samplers``
    (sampling grids), the alignments are read as they are; otherwise each one's translation is
    searched too: four half-cell phases, then every whole-cell cyclic shift of the folded sync
    tile at once (:func:`best_shift`), the ``_SHIFT_TOP`` best compared on the full score."""
    g = net.config.grid
    shrunk = torch.linalg.svdvals(thetas[:, :, :2]).min(dim=1).values < net.config.fine_below
    best = (torch.tensor(-math.inf), thetas[0], torch.zeros(len(carriers)), coarse)
    for source, keep in ((coarse, ~shrunk), (fine, shrunk)):
        chosen = thetas[keep]
        if source is None or not len(chosen):
            continue
        if samplers is None:
            phases = torch.tensor([[[0.0, 0.0, x / g], [0.0, 0.0, y / g]] for x, y in _HALF_CELLS])
            chosen = (chosen.unsqueeze(0) + phases.unsqueeze(1)).flatten(0, 1)
            maps = net.warp(source, chosen.unsqueeze(0))[0]
            norms = maps.pow(2).sum(dim=(1, 2)).add(1e-12).sqrt()
            sync_z, shift = best_shift(net.fold(maps), norms, carriers.sync)
            top = sync_z.topk(min(_SHIFT_TOP, len(sync_z))).indices
            placed = chosen[top].clone()
            placed[:, :, 2] += torch.einsum("kij,kj->ki", placed[:, :, :2], shift[top] * 2.0 / g)
            zs, scores = net.scored(net.warp(source, placed.unsqueeze(0)), carriers)
            k = int(scores[0].argmax())
            theta, z, score = placed[k], zs[0, k], scores[0, k]
        else:
            maps = F.grid_sample(source.expand(len(chosen), -1, -1, -1), samplers[keep], align_corners=False)
            zs, scores = net.scored(maps.transpose(0, 1), carriers)
            k = int(scores[0].argmax())
            theta, z, score = chosen[k], zs[0, k], scores[0, k]
        if score > best[0]:
            best = (score, theta, z, source)
    return best


def _place(net: WatermarkModel, w: torch.Tensor, theta: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
    """The alignment ``theta`` ``[2,3]`` of one map ``[1,1,g,g]`` moved by the whole number of
    tiles (up to 2 each way) whose payload reads with the largest mean squared z-score: the
    sync tile repeats, so it cannot tell these apart; the payload covers the frame once."""
    offsets = net.config.tile * _TILE_OFFSETS * (2.0 / net.config.grid)
    placed = theta.expand(len(offsets), 2, 3).clone()
    placed[:, :, 2] += offsets @ theta[:, :2].T
    z = net.correlate(net.warp(w, placed.unsqueeze(0)), carriers)[0]
    return placed[int(z.pow(2).mean(dim=1).argmax())]


def _refine(net: WatermarkModel, w: torch.Tensor, theta: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
    """Hill-climb the best alignments ``theta`` ``[B,2,3]`` on all six affine terms (on
    :meth:`WatermarkModel.scored`), ``refine_steps`` rounds of halving step, keeping any
    improvement: the z-scores ``[B,L]`` there."""
    b = w.shape[0]
    moves = torch.zeros(12, 2, 3, dtype=theta.dtype)
    for i in range(6):
        moves[2 * i, i // 3, i % 3], moves[2 * i + 1, i // 3, i % 3] = 1.0, -1.0
    z, energy = net.scored(net.warp(w, theta.unsqueeze(1)), carriers)
    z, energy = z[:, 0], energy[:, 0]
    step = net.config.refine_step
    for _ in range(net.config.refine_steps):
        candidates = theta.unsqueeze(1) + step * moves.unsqueeze(0)
        cz, scores = net.scored(net.warp(w, candidates), carriers)
        best_energy, best = scores.max(dim=1)
        better = best_energy > energy
        rows = torch.arange(b)
        theta = torch.where(better.view(b, 1, 1), candidates[rows, best], theta)
        z = torch.where(better.view(b, 1), cz[rows, best], z)
        energy = torch.maximum(energy, best_energy)
        step /= 2
    return z
