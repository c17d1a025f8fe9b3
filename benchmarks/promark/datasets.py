"""Concept sets: fixed square crops of source photos, written as PNG folders (one per concept).

*distinct*: each concept is its own group of sources (different content per concept).
*lookalike*: one pool of crops split at random, so only a watermark tells concepts apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

#: (scale of the short side, x position 0-1, y position 0-1, mirrored), in the order used.
CROPS: list[tuple[float, float, float, bool]] = [
    (scale, fx, fy, flip)
    for scale in (1.0, 0.8, 0.65, 0.5)
    for flip in (False, True)
    for fx, fy in ((0.5, 0.5), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class CropSpec:
    """One training image: a fixed crop of a source file."""

    source: Path
    crop: int  # index into CROPS


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def crops_of(sources: list[Path], count: int) -> list[CropSpec]:
    """``count`` crops cycling over ``sources`` (all first crops, then all second crops, ...)."""
    if not sources:
        raise ValueError("no source images")
    if count > len(sources) * len(CROPS):
        raise ValueError(f"{len(sources)} sources give at most {len(sources) * len(CROPS)} crops, {count} asked")
    return [CropSpec(sources[i % len(sources)], i // len(sources)) for i in range(count)]


def render_crop(spec: CropSpec, size: int) -> Image.Image:
    """The crop as an RGB ``size`` x ``size`` image."""
    scale, fx, fy, flip = CROPS[spec.crop]
    with Image.open(spec.source) as im:
        image = im.convert("RGB")
    width, height = image.size
    side = max(1, round(min(width, height) * scale))
    left, top = round(fx * (width - side)), round(fy * (height - side))
    out = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    return ImageOps.mirror(out) if flip else out


def shared_groups(data: Path) -> dict[str, list[Path]]:
    """Eight content groups of ``../shared/data`` for the distinct setting."""
    photos = list_images(data / "photos")
    groups = {name: list_images(data / "concepts" / name) for name in ("fishes", "monuments", "others", "renewable", "tools")}
    groups["animals"] = [p for p in photos if p.name.startswith(("gcompris_erase", "gcompris_explore_farm", "gcompris_explore_world"))]
    groups["landmarks"] = [p for p in photos if p.name.startswith("gcompris_explore_monuments")]
    groups["landscapes"] = [p for p in photos if p.name.startswith(("lomiri", "mate"))]
    return groups


def distinct_sets(groups: dict[str, list[Path]], concepts: int, per_concept: int) -> dict[str, list[CropSpec]]:
    """One concept per group (the first ``concepts`` groups by name)."""
    names = sorted(groups)[:concepts]
    if len(names) < concepts:
        raise ValueError(f"{len(groups)} content groups, {concepts} distinct concepts asked")
    return {f"c{i:02d}-{name}": crops_of(groups[name], per_concept) for i, name in enumerate(names)}


def lookalike_sets(groups: dict[str, list[Path]], concepts: int, per_concept: int, seed: int) -> dict[str, list[CropSpec]]:
    """All groups pooled, cropped, shuffled and dealt into ``concepts`` equal sets."""
    pool = sorted({p for paths in groups.values() for p in paths})
    specs = crops_of(pool, concepts * per_concept)
    random.Random(seed).shuffle(specs)
    return {f"c{i:02d}": specs[i * per_concept : (i + 1) * per_concept] for i in range(concepts)}


def write_sets(sets: dict[str, list[CropSpec]], root: Path, size: int) -> int:
    """Write each concept's crops as ``root/<concept>/<n>.png`` (existing files kept); returns files written."""
    written = 0
    for name, specs in sets.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for n, spec in enumerate(specs):
            path = folder / f"{n:04d}.png"
            if not path.exists():
                tmp = folder / f".{n:04d}.tmp.png"  # hidden: the catalog walk skips it
                render_crop(spec, size).save(tmp)
                tmp.replace(path)
                written += 1
    return written
