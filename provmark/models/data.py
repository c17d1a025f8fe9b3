"""Training photos: listing with the shared hold-out rule, preloading, random same-size crops."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from provmark.errors import InputImageError, ModelError
from provmark.io import load_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Shared with the benchmark: after sorting file names, every index % HOLDOUT_EVERY == 0 is held out.
HOLDOUT_EVERY = 5


@dataclass
class PhotoSplit:
    """Photo paths split into training, validation (monitoring only) and held-out sets."""

    train: list[Path]
    validation: list[Path]
    held_out: list[Path]


def list_photos(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise ModelError(f"{root}: training data folder not found")
    return sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def split_photos(paths: list[Path], validation_count: int) -> PhotoSplit:
    """Hold out sorted index % 5 == 0; take ``validation_count`` evenly spaced others for validation.

    Validation photos are excluded from training when at least four times as many remain;
    with fewer photos (tiny test sets) validation reuses training photos.
    """
    paths = sorted(paths, key=lambda p: p.name)
    held_out = [p for i, p in enumerate(paths) if i % HOLDOUT_EVERY == 0]
    pool = [p for i, p in enumerate(paths) if i % HOLDOUT_EVERY != 0]
    if not pool:
        raise ModelError("not enough training photos: need at least 2 after the hold-out rule")
    count = min(validation_count, len(pool))
    step = len(pool) / max(count, 1)
    validation = [pool[int(i * step)] for i in range(count)]
    if len(pool) - count >= 4 * count:
        train = [p for p in pool if p not in validation]
    else:
        train = pool
    return PhotoSplit(train=train, validation=validation, held_out=held_out)


def load_rgb(paths: list[Path]) -> list[torch.Tensor]:
    """Decode photos into ``uint8 [3,H,W]`` tensors (kept in memory)."""
    images = []
    for path in paths:
        try:
            image = load_image(path).image.convert("RGB")
        except InputImageError as exc:
            raise ModelError(f"training data: {exc}") from exc
        images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous())
    return images


def to_float(image: torch.Tensor) -> torch.Tensor:
    """``uint8 [3,H,W]`` -> ``float [1,3,H,W]`` in [0,1]."""
    return image.unsqueeze(0).float() / 255.0


class CropSampler:
    """Batches of random crops that share one random size per batch (so they stack).

    Half of the crops are taken at native resolution when the photo is large enough; the others
    are random regions of the photo resized to the batch size (scale augmentation).
    """

    def __init__(self, images: list[torch.Tensor], min_side: int, max_side: int, generator: torch.Generator) -> None:
        if not images:
            raise ModelError("no training photos")
        self.images, self.min_side, self.max_side, self.gen = images, min_side, max_side, generator

    def _int(self, low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (), generator=self.gen))

    def _one(self, image: torch.Tensor, h: int, w: int) -> torch.Tensor:
        _, ih, iw = image.shape
        if ih >= h and iw >= w and torch.rand((), generator=self.gen) < 0.5:
            top, left = self._int(0, ih - h), self._int(0, iw - w)
            crop = to_float(image[:, top : top + h, left : left + w])
        else:
            frac = 0.4 + 0.6 * torch.rand((), generator=self.gen).item()
            scale = min(ih / h, iw / w) * frac
            ch, cw = max(8, min(ih, round(h * scale))), max(8, min(iw, round(w * scale)))
            top, left = self._int(0, ih - ch), self._int(0, iw - cw)
            region = to_float(image[:, top : top + ch, left : left + cw])
            crop = F.interpolate(region, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        if torch.rand((), generator=self.gen) < 0.5:
            crop = crop.flip(-1)
        return crop

    def sample(self, batch_size: int) -> torch.Tensor:
        """A ``[batch_size,3,h,w]`` batch with random ``h, w`` in ``[min_side, max_side]``."""
        h, w = self._int(self.min_side, self.max_side), self._int(self.min_side, self.max_side)
        picks = torch.randint(len(self.images), (batch_size,), generator=self.gen).tolist()
        return torch.cat([self._one(self.images[i], h, w) for i in picks])
