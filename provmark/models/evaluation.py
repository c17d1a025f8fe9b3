"""Measure a model through the deployment pipeline: PSNR and bit accuracy per attack."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import torch

from provmark.models.augment import Attack, quantise
from provmark.models.embedding import add_residual, to_internal
from provmark.models.networks import WatermarkModel

#: Raw bit errors a BCH(127,64) code with t=10 corrects (used as a decodability proxy).
CORRECTABLE_ERRORS = 10


@dataclass
class AttackScore:
    """Mean bit accuracy under one attack and the share of images within the correctable error count."""

    bit_accuracy: float
    decodable: float


@dataclass
class Evaluation:
    """PSNR (mean over images, 8-bit, full resolution) and per-attack scores."""

    psnr: float
    scores: dict[str, AttackScore] = field(default_factory=dict)

    def mean_accuracy(self) -> float:
        """Bit accuracy averaged over all attacks."""
        return sum(s.bit_accuracy for s in self.scores.values()) / max(len(self.scores), 1)

    def summary(self) -> str:
        """One line: PSNR and bit accuracy per attack."""
        parts = [f"psnr={self.psnr:.2f}"] + [f"{k}={v.bit_accuracy:.3f}" for k, v in self.scores.items()]
        return " ".join(parts)


def evaluation_key(seed: int) -> bytes:
    """The fixed watermark key evaluations mark with (one per seed; any key works alike)."""
    return hashlib.sha256(f"provmark evaluation key {seed}".encode()).digest()


def mark(
    model: WatermarkModel, image: torch.Tensor, bits: torch.Tensor, carriers: torch.Tensor, strength: float = 1.0
) -> torch.Tensor:
    """Embed ``bits [1,L]`` on ``carriers`` into a full-size ``[1,3,H,W]`` image and round to 8 bits."""
    residual = model.residual(to_internal(image, model.config.size), bits, carriers)
    return quantise(add_residual(image, residual, strength))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between two images in [0,1]."""
    mse = (a - b).pow(2).mean().item()
    return 100.0 if mse == 0 else 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def evaluate(
    model: WatermarkModel,
    images: list[torch.Tensor],
    attacks: dict[str, Attack],
    seed: int = 0,
    strength: float = 1.0,
    search: bool = True,
) -> Evaluation:
    """Mark each ``[1,3,H,W]`` image with random bits (from ``seed``) under the evaluation key of
    ``seed``, attack and decode (``search=False``: without the decoder's alignment search, i.e.
    only what training learns)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    carriers = model.carriers(evaluation_key(seed))
    bits = torch.randint(0, 2, (len(images), model.config.num_bits), generator=gen).float()
    marked = [mark(model, img, bits[i : i + 1], carriers, strength) for i, img in enumerate(images)]
    result = Evaluation(psnr=sum(psnr(m, img) for m, img in zip(marked, images)) / len(images))
    for name, attack in attacks.items():
        attacked = [to_internal(attack(m), model.config.size) for m in marked]
        logits = model.decode_logits(torch.cat(attacked), carriers, search=search)
        errors = ((logits > 0).float() != bits).float().sum(dim=1)
        result.scores[name] = AttackScore(
            bit_accuracy=1.0 - errors.mean().item() / model.config.num_bits,
            decodable=(errors <= CORRECTABLE_ERRORS).float().mean().item(),
        )
    model.train(was_training)
    return result
