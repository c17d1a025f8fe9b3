"""Pure tensor functions shared by training and the watermark layer, so both match exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: ITU-R BT.601 luma weights.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

#: Internal resolution of the shipped models (``ModelConfig.size``).
DEFAULT_SIZE = 256


def to_internal(images: torch.Tensor, size: int = DEFAULT_SIZE) -> torch.Tensor:
    """Squash-resize ``[B,3,H,W]`` images in [0,1] to ``[B,3,size,size]`` with antialiasing.

    The aspect ratio is not kept: every image maps onto the whole internal square.
    """
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def upsample_residual(residual_s: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear-resize a ``[B,C,S,S]`` residual to ``[B,C,height,width]``."""
    if residual_s.shape[-2:] == (height, width):
        return residual_s
    return F.interpolate(residual_s, size=(height, width), mode="bilinear", align_corners=False)


def add_residual(images: torch.Tensor, residual_s: torch.Tensor, strength: float) -> torch.Tensor:
    """Upsample ``residual_s`` to the images' size, scale by ``strength``, add and clamp to [0,1].

    A one-channel residual is added equally to R, G and B.
    """
    height, width = images.shape[-2:]
    residual = upsample_residual(residual_s, height, width)
    return (images + strength * residual).clamp(0.0, 1.0)


def luma(images: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``[B,1,H,W]`` of ``[B,3,H,W]`` RGB images."""
    weights = images.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)
