"""Analytic content-adaptive mask and fixed-RMS normalisation of residuals.

The residual is strongest where the luma has local texture and weakest on flat areas (sky,
walls), and every residual is scaled to the same RMS so PSNR is fixed by construction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from provmark.models.embedding import luma


def texture_mask(images_s: torch.Tensor, floor: float, ceiling: float) -> torch.Tensor:
    """Per-pixel gain ``[B,1,S,S]`` from local luma texture, relative to each image's mean texture.

    Texture is the locally averaged absolute difference between the luma and its 3x3 mean;
    the gain is that texture over its image mean, clipped to ``[floor, ceiling]``.
    """
    y = luma(images_s)
    detail = (y - F.avg_pool2d(y, 3, stride=1, padding=1, count_include_pad=False)).abs()
    texture = F.avg_pool2d(detail, 7, stride=1, padding=3, count_include_pad=False)
    relative = texture / texture.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-4)
    return relative.clamp(floor, ceiling)


def normalise_rms(residual: torch.Tensor, target_rms: float) -> torch.Tensor:
    """Scale each residual in the batch to RMS ``target_rms``."""
    rms = residual.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-12).sqrt()
    return residual * (target_rms / rms)
