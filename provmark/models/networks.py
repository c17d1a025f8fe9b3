"""The watermark networks: a message-driven encoder and a small strided-conv decoder."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from provmark.models.config import ModelConfig
from provmark.models.masking import normalise_rms, texture_mask


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Up(nn.Module):
    """Bilinear x2 upsampling followed by a conv block."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _block(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


class Encoder(nn.Module):
    """Bits -> spatial pattern (Linear to a low-res grid, upsampling convs), conditioned on the image.

    The image branch joins at a quarter of the internal resolution; the output is the raw
    (unmasked, unnormalised) pattern ``[B,C,S,S]``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        grid, mc, width = config.message_grid, config.message_channels, config.encoder_width
        self.grid, self.message_channels = grid, mc
        self.message = nn.Linear(config.num_bits, mc * grid * grid)
        quarter = config.size // 4
        steps = int(math.log2(quarter // grid))
        ups, cin = [], mc
        for _ in range(steps):
            ups.append(_Up(cin, width))
            cin = width
        self.message_up = nn.Sequential(*ups)
        self.image_branch = nn.Sequential(_block(3, width // 2), _block(width // 2, width // 2))
        self.merge = nn.Sequential(_block(cin + width // 2, width), _block(width, width))
        self.head = nn.Sequential(
            _Up(width, width // 2),
            _Up(width // 2, width // 4),
            nn.Conv2d(width // 4, config.residual_channels, 3, padding=1),
        )
        self.quarter = quarter

    def forward(self, images_s: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        signs = bits * 2.0 - 1.0
        m = self.message(signs).view(-1, self.message_channels, self.grid, self.grid)
        m = self.message_up(m)
        small = F.interpolate(images_s, size=(self.quarter, self.quarter), mode="area")
        x = self.merge(torch.cat([m, self.image_branch(small * 2.0 - 1.0)], dim=1))
        return self.head(x)


class Decoder(nn.Module):
    """Image ``[B,3,S,S]`` -> bit logits ``[B,L]``: strided convs down to 8x8, then a linear head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width = config.decoder_width
        layers = [_block(3, width // 2)]
        cin, res = width // 2, config.size
        while res > 8:
            cout = min(cin * 2, 4 * width)
            layers += [_block(cin, cout, stride=2), _block(cout, cout)] if res <= 64 else [_block(cin, cout, stride=2)]
            cin, res = cout, res // 2
        layers.append(nn.Conv2d(cin, width * 2, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * 2 * 8 * 8, config.num_bits)

    def forward(self, images_s: torch.Tensor) -> torch.Tensor:
        x = self.features(images_s * 2.0 - 1.0)
        return self.head(x.flatten(1))


class WatermarkModel(nn.Module):
    """Encoder + decoder pair with the fixed texture mask and RMS normalisation of the contract."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def residual(self, images_s: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """Residual ``[B,C,S,S]`` at unit strength (fixed RMS, texture-masked) for images in [0,1]."""
        pattern = self.encoder(images_s, bits)
        mask = texture_mask(images_s, self.config.mask_floor, self.config.mask_ceiling)
        return normalise_rms(pattern * mask, self.config.target_rms)

    def decode_logits(self, images_s: torch.Tensor) -> torch.Tensor:
        """Bit logits ``[B,L]`` (> 0 means bit 1) of images ``[B,3,S,S]`` in [0,1]."""
        return self.decoder(images_s)

    def forward(self, images_s: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """Marked images at the internal resolution (unit strength, clamped), for quick checks."""
        return (images_s + self.residual(images_s, bits)).clamp(0.0, 1.0)
