"""A small class-conditional UNet for epsilon prediction (own code, ~1M parameters at width 32)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UNetConfig:
    """Shape of the network: ``widths`` per level (each level halves the resolution)."""

    classes: int
    widths: tuple[int, ...] = (32, 64, 96)
    blocks: int = 1
    channels: int = 3


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, (batch, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with group norm, conditioned by a per-channel shift."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.cond = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.cond(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """Encoder-decoder with skip connections; the class embedding is added to the time embedding."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        base = config.widths[0]
        emb = 4 * base
        self.time = nn.Sequential(nn.Linear(base, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Embedding(config.classes, emb)
        self.inp = nn.Conv2d(config.channels, base, 3, padding=1)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        skips, ch = [], base
        for level, width in enumerate(config.widths):
            for _ in range(config.blocks):
                self.down.append(ResBlock(ch, width, emb))
                ch = width
                skips.append(ch)
            if level < len(config.widths) - 1:
                self.pool.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = ResBlock(ch, ch, emb)
        self.up = nn.ModuleList()
        self.unpool = nn.ModuleList()
        for level, width in reversed(list(enumerate(config.widths))):
            for _ in range(config.blocks):
                self.up.append(ResBlock(ch + skips.pop(), width, emb))
                ch = width
            if level > 0:
                self.unpool.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, config.channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Predicted noise for noisy images ``x`` at timesteps ``t`` of classes ``labels``."""
        emb = self.time(timestep_embedding(t, self.config.widths[0])) + self.label(labels)
        h = self.inp(x)
        skips = []
        blocks = iter(self.down)
        for level in range(len(self.config.widths)):
            for _ in range(self.config.blocks):
                h = next(blocks)(h, emb)
                skips.append(h)
            if level < len(self.pool):
                h = self.pool[level](h)
        h = self.mid(h, emb)
        blocks = iter(self.up)
        for level in range(len(self.config.widths)):
            for _ in range(self.config.blocks):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb)
            if level < len(self.unpool):
                h = self.unpool[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)
