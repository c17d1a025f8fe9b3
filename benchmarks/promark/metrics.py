"""Scores of one generator's samples: attribution, bit accuracy, similarity baseline, quality."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F


@dataclass
class Attribution:
    """Top-1 attribution of samples whose true concept is known; ``None`` predicted means nothing found."""

    accuracy: float  # right / all samples
    attributed: float  # share attributed to any concept
    wrong: float  # share attributed to a wrong concept
    per_concept: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)  # rows true, columns predicted + "none" last


def attribution(truth: Sequence[int], predicted: Sequence[int | None], names: Sequence[str]) -> Attribution:
    """Accuracy, per-concept accuracy and confusion matrix (last column: nothing attributed)."""
    n = len(names)
    matrix = np.zeros((n, n + 1), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        matrix[t, n if p is None else p] += 1
    total = max(1, len(truth))
    right = int(np.trace(matrix[:, :n]))
    found = int(matrix[:, :n].sum())
    per = {names[i]: float(matrix[i, i] / max(1, matrix[i].sum())) for i in range(n)}
    return Attribution(right / total, found / total, (found - right) / total, per, matrix.tolist())


def bit_accuracy(logits: np.ndarray, bits: np.ndarray) -> float:
    """Mean share of raw bits whose logit sign matches the expected bit, rows of (samples, 128)."""
    return float(((np.asarray(logits) > 0) == (np.asarray(bits) > 0)).mean())


def nearest_concept(samples: torch.Tensor, train: torch.Tensor, train_labels: torch.Tensor, chunk: int = 256) -> list[int]:
    """Similarity baseline: the concept of each sample's nearest training image (pixel L2)."""
    flat = train.flatten(1)
    norms = (flat**2).sum(1)
    out: list[int] = []
    for part in samples.flatten(1).split(chunk):
        dist = norms[None, :] - 2 * part @ flat.T
        out += train_labels[dist.argmin(1)].tolist()
    return out


class RandomFeatures(torch.nn.Module):
    """A fixed, untrained conv feature extractor (seeded): the same space for every model compared."""

    def __init__(self, seed: int = 1234, width: int = 48) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        shapes = [(width, 3), (2 * width, width), (2 * width, 2 * width)]
        self.weights = [torch.randn(o, i, 3, 3, generator=gen) / (3 * i**0.5) for o, i in shapes]

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, features): pooled statistics of three conv levels."""
        feats = []
        h = x
        for w in self.weights:
            h = F.avg_pool2d(F.relu(F.conv2d(h, w, padding=1)), 2)
            feats.append(h.mean((2, 3)))
        return torch.cat(feats, 1)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``a`` and ``b``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(ca)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    trace_sqrt = np.sqrt(np.clip(inner, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * trace_sqrt)


def quality(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Random-feature Fréchet distance of samples to the unmarked reference images (lower is better)."""
    net = RandomFeatures()
    return frechet_distance(net(samples).double().numpy(), net(reference).double().numpy())


def patches(images: torch.Tensor, size: int, count: int, seed: int) -> np.ndarray:
    """``count`` random ``size`` x ``size`` pixel patches (seeded) of (N, 3, H, W) images, as rows."""
    gen = torch.Generator().manual_seed(seed)
    n, _, h, w = images.shape
    which = torch.randint(0, n, (count,), generator=gen)
    top = torch.randint(0, h - size + 1, (count,), generator=gen)
    left = torch.randint(0, w - size + 1, (count,), generator=gen)
    rows = torch.arange(size)
    y = (top[:, None] + rows[None, :])[:, :, None].expand(-1, -1, size)
    x = (left[:, None] + rows[None, :])[:, None, :].expand(-1, size, -1)
    picked = images[which[:, None, None], :, y, x]  # (count, size, size, 3)
    return picked.reshape(count, -1).double().numpy()


def patch_quality(samples: torch.Tensor, reference: torch.Tensor, size: int = 4, count: int = 20000) -> float:
    """Pixel-level figure: Fréchet distance between 4x4 RGB patch distributions of samples and the
    unmarked reference (lower is better). Unlike pooled features it sees a fine additive pattern."""
    return frechet_distance(patches(samples, size, count, 1), patches(reference, size, count, 2))
