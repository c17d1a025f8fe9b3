"""Closed-loop strength: give each image the smallest strength that its mark needs to survive.

With a fixed residual RMS, images whose own texture correlates strongly with the carriers
(host interference) decode with a thin margin, while others have margin to spare. Before
adding the residual, the embedder simulates a geometric attack the decoder must undo (by
default one view: a centre crop keeping 80% of the area, rotated by 2 degrees, applied at the
internal resolution, where the decoder reads), reads the bit z-scores at the known alignment,
and predicts the raw bit error rate at any strength from two readings (the z-scores are close
to affine in the strength). The chosen strength is the smallest one, within bounds, whose
predicted error rate under every simulated view is at most the target. Tuned on training
photos only: with one combined view, targets 2-4% all kept 34 of them decodable under 8
attacks; 3% gives a mean PSNR of about 43 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from provmark.models.carriers import KeyedPatterns
from provmark.models.networks import WatermarkModel, rotation_theta


@dataclass(frozen=True)
class StrengthPolicy:
    """Bounds and target of the closed-loop strength (relative to the model's unit strength).

    ``views`` are (zoom, degrees) pairs simulated on the internal image; ``target_ber`` is the
    predicted raw bit error rate every view must reach (the BCH code corrects 10 of 127).
    """

    minimum: float = 1.0
    maximum: float = 2.0
    target_ber: float = 0.03
    views: tuple[tuple[float, float], ...] = ((1.118, 2.0),)


DEFAULT_POLICY = StrengthPolicy()


def _view_thetas(views: tuple[tuple[float, float], ...], aspect: float) -> torch.Tensor:
    """Sampling matrices ``[V,2,3]`` that map the attacked image's coordinates back to the
    original's for a centre crop of magnification ``zoom`` and a rotation by ``degrees`` of an
    image of width/height ``aspect`` (squash-resized to the internal square)."""
    return torch.tensor([rotation_theta(degrees, aspect, 1.0 / zoom) for zoom, degrees in views])


def _attacked_z(net: WatermarkModel, images_s: torch.Tensor, thetas: torch.Tensor, carriers: KeyedPatterns) -> torch.Tensor:
    """z-scores ``[V,L]`` of one internal image ``[1,3,S,S]`` under each simulated view, read at
    the alignment that undoes it (no search: the decoder's best case)."""
    views = len(thetas)
    grid = F.affine_grid(thetas, [views, 3, *images_s.shape[-2:]], align_corners=False)
    attacked = F.grid_sample(images_s.expand(views, -1, -1, -1), grid, mode="bilinear", align_corners=False)
    whitened = torch.cat([net.whiten(view) for view in attacked.split(1)])  # one by one: cache-friendly, ~3x faster
    inverse = torch.linalg.inv(torch.cat([thetas, thetas.new_tensor([[[0.0, 0.0, 1.0]]]).expand(views, 1, 3)], 1))
    back = F.affine_grid(inverse[:, :2], list(whitened.shape), align_corners=False)
    aligned = F.grid_sample(whitened, back, mode="bilinear", align_corners=False)
    return net.correlate(aligned.transpose(0, 1), carriers)[0]


def predicted_ber(net: WatermarkModel, host_s: torch.Tensor, marked_s: torch.Tensor, bits: torch.Tensor,
                  carriers: KeyedPatterns, strengths: torch.Tensor, aspect: float,
                  policy: StrengthPolicy = DEFAULT_POLICY) -> torch.Tensor:
    """Predicted raw bit error rate ``[len(strengths), V]`` at each strength, under each view of
    ``policy``, of an image whose internal view ``[1,3,S,S]`` is ``host_s`` unmarked and
    ``marked_s`` marked at unit strength with ``bits`` on ``carriers`` (full resolution, then
    downscaled as the decoder does)."""
    thetas = _view_thetas(policy.views, aspect)
    signs = (bits * 2.0 - 1.0).view(1, 1, -1)
    host = _attacked_z(net, host_s, thetas, carriers) * signs[0]
    marked = _attacked_z(net, marked_s, thetas, carriers) * signs[0]
    margin = host.unsqueeze(0) + strengths.view(-1, 1, 1) * (marked - host).unsqueeze(0)
    mean, spread = margin.mean(dim=2), margin.std(dim=2).clamp_min(1e-6)
    return 0.5 * torch.erfc(mean / spread / math.sqrt(2.0))


def choose_strength(net: WatermarkModel, host_s: torch.Tensor, marked_s: torch.Tensor, bits: torch.Tensor,
                    carriers: KeyedPatterns, aspect: float, policy: StrengthPolicy = DEFAULT_POLICY) -> float:
    """The smallest strength in ``[policy.minimum, policy.maximum]`` (steps of 0.05) whose
    predicted error rate is at most ``policy.target_ber`` under every view; the maximum when none is."""
    steps = round((policy.maximum - policy.minimum) / 0.05)
    strengths = torch.linspace(policy.minimum, policy.maximum, steps + 1)
    worst = predicted_ber(net, host_s, marked_s, bits, carriers, strengths, aspect, policy).max(dim=1).values
    good = torch.nonzero(worst <= policy.target_ber).flatten()
    return float(strengths[good[0]]) if len(good) else policy.maximum
