"""Collusion against concept marks: average many images of one concept, frame or strip with it.

The attacker holds N images marked with one concept (a catalog's public display or training
copies), averages their grid-scale high-pass (:func:`benchmarks.adversary.band_pass`, at the
scale the public decoder reads: the model's grid for the neural mark, the channel grid for the
concept channel), and then

- *frames*: adds the average to unmarked photos, scaled to a PSNR budget; success is
  ``attribute`` naming the concept (p <= 1e-6) in the attacked photo;
- *strips*: subtracts it from other images marked with the concept; success for the attacker is
  ``attribute`` no longer naming it;
- *frames after clustering*: knowing the number of variants M from the code, picks the N/M
  colluders whose estimates correlate best (one keyed variant leaves one pattern) and averages
  only those;
- *white-box frames*: reads each colluder's raw bits with the public model, takes the majority
  word and writes it into unmarked photos through the model's residual path (N = 1 is copying
  one image's concept mark).

Controls: the same estimate from N unmarked images, added and subtracted.

Used by :mod:`benchmarks.security`; the registry secret is used only to mark and to judge.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


from benchmarks.adversary import WhiteBox, add_pattern, band_pass, gain_for_psnr, load_rgb, psnr, resize_pattern
import provmark
from provmark.concepts.layout import CHANNEL_REGION

PROVMARK = str(Path(sys.executable).with_name("provmark"))
CONCEPTS = 16
#: The concept every colluding image is marked with.
TARGET_CONCEPT = "c03"
CHANNEL_GRID = 32


@dataclass(frozen=True)
class MarkKind:
    """How one mark is made and how the attacker estimates it."""

    name: str
    channel: float | None  # concept channel amplitude (None: the neural mark only)
    scale: int  # band-pass scale of the attacker's estimate
    gray: bool  # the mark is the same in R, G and B (neural) or coloured (channel)
    nearest: bool  # cell pattern (channel) or smooth (neural) when resized back
    budgets: tuple[float, ...]  # PSNR budgets of the attack


def colluder_sources(photos: list[Path], count: int, folder: Path) -> list[Path]:
    """``count`` distinct images (long side <= 512) made from ``photos``: each photo whole, then centre,
    corner and mirrored crops, so 256 colluders can be drawn from ~100 photos."""
    folder.mkdir(parents=True, exist_ok=True)
    views = [
        lambda im: im,
        lambda im: im.crop((im.width // 10, im.height // 10, im.width * 9 // 10, im.height * 9 // 10)),
        lambda im: ImageOps.mirror(im.crop((0, 0, im.width * 3 // 4, im.height * 3 // 4))),
        lambda im: im.crop((im.width // 4, im.height // 4, im.width, im.height)),
    ]
    out: list[Path] = []
    for view in range(len(views)):
        for photo in photos:
            if len(out) == count:
                return out
            with Image.open(photo) as im:
                image = views[view](im.convert("RGB"))
            image.thumbnail((512, 512), Image.Resampling.LANCZOS)
            path = folder / f"{len(out):03d}_{photo.stem}.png"
            image.save(path)
            out.append(path)
    if len(out) < count:
        raise SystemExit(f"only {len(out)} colluder images can be made from {len(photos)} photos, {count} asked")
    return out


def new_registry(path: Path, variants: int) -> None:
    """A registry of :data:`CONCEPTS` concepts with ``variants`` keyed variants each."""
    with provmark.Registry.create(path, variants=variants) as reg:
        reg.add([provmark.ConceptSpec(f"c{i:02d}") for i in range(CONCEPTS)])


def mark_all(sources: list[Path], registry: Path, kind: MarkKind, dst: Path) -> list[Path]:
    """Mark the images of ``sources`` (all in one folder) with :data:`TARGET_CONCEPT` (``provmark mark``)."""
    command = [PROVMARK, "mark", str(sources[0].parent), str(dst), "--registry", str(registry)]
    command += ["--concept", TARGET_CONCEPT]
    if kind.channel is not None:
        command += ["--channel", str(kind.channel), "--channel-grid", str(CHANNEL_GRID)]
    subprocess.run(command, check=True, capture_output=True)
    return [dst / p.name for p in sources]


def estimate(paths: list[Path], kind: MarkKind) -> np.ndarray:
    """The attacker's estimate: the mean grid-scale high-pass of ``paths``."""
    total = None
    for path in paths:
        with Image.open(path) as im:
            band = band_pass(im, kind.scale, kind.gray)
        total = band if total is None else total + band
    assert total is not None
    return total / len(paths)


def largest_cluster(paths: list[Path], kind: MarkKind, size: int) -> list[Path]:
    """An attacker's guess at ``size`` images sharing one keyed variant: the image whose estimate
    correlates most with its ``size - 1`` best partners, and those partners."""
    bands = np.stack([band_pass(load_rgb(p), kind.scale, kind.gray).ravel() for p in paths])
    bands -= bands.mean(axis=1, keepdims=True)
    bands /= np.linalg.norm(bands, axis=1, keepdims=True) + 1e-12
    z = bands @ bands.T
    np.fill_diagonal(z, -np.inf)
    partners = np.argsort(z, axis=1)[:, len(paths) - size + 1 :]
    best = int(np.take_along_axis(z, partners, axis=1).sum(axis=1).argmax())
    return [paths[best]] + [paths[i] for i in partners[best]]


def attacked(targets: list[Path], pattern: np.ndarray, kind: MarkKind, sign: float, budget: float,
             folder: Path) -> tuple[list[Path], float]:
    """``targets`` plus (``sign`` +1) or minus (-1) ``pattern`` at PSNR ``budget``; the files and mean PSNR."""
    folder.mkdir(parents=True, exist_ok=True)
    out, quality = [], []
    for path in targets:
        with Image.open(path) as im:
            image = im.convert("RGB")
        full = resize_pattern(pattern, image.size, kind.nearest)
        result = add_pattern(image, pattern, sign * gain_for_psnr(full, budget), kind.nearest)
        target = folder / (path.stem + ".png")
        result.save(target)
        out.append(target)
        quality.append(psnr(image, result))
    return out, float(np.mean(quality))


def attributed(paths: list[Path], registry: Path, kind: MarkKind) -> int:
    """How many of ``paths`` ``attribute`` gives :data:`TARGET_CONCEPT` (p <= 1e-6) through this kind's mark."""
    grid = CHANNEL_GRID if kind.channel is not None else None
    count = 0
    with provmark.Registry.open(registry) as reg:
        for path in paths:
            report = provmark.attribute(path, reg, channel_grid=grid)
            for hit in report.concepts:
                through = [r for r in hit.regions if (r == CHANNEL_REGION) == (kind.channel is not None)]
                count += hit.name == TARGET_CONCEPT and bool(through)
    return count


SETTINGS = ("before", "after", "channel")


def attacks(train: list[Path], held: list[Path], ns: list[int], variants: int, work: Path, rows: list[dict],
            only: tuple[str, ...] = SETTINGS) -> None:
    """Every collusion attack on the neural mark before (1 variant) and after (``variants``) keyed
    variants, and on the concept channel (the settings named in ``only``); rows appended."""
    box = WhiteBox()
    neural = MarkKind("neural concept mark", None, getattr(box.net.config, "grid", 128), True, False, (44.0, 38.0))
    channel = MarkKind("concept channel (+-8)", 8.0, CHANNEL_GRID, False, True, (30.0,))
    sources = colluder_sources(train, max(ns), work / "colluder-src")
    (work / "held").mkdir()
    held_copies = [Path(shutil.copy(p, work / "held" / p.name)) for p in held]
    settings = [("before (1 variant)", 1, neural), (f"after ({variants} variants)", variants, neural),
                (f"{variants} variants (channel: same in every image)", variants, channel)]
    n = len(held)
    for index, (label, count, kind) in enumerate(settings):
        if SETTINGS[index] not in only:
            continue
        registry = work / f"registry-{index}.db"
        new_registry(registry, count)
        colluders = mark_all(sources, registry, kind, work / f"colluders-{index}")
        marked = mark_all(held_copies, registry, kind, work / f"marked-{index}")

        def row(attack: str, colluding: int | None, metric: str, paths: list[Path], **extra: object) -> None:
            found = attributed(paths, registry, kind)
            rows.append(dict(mark=kind.name, setting=label, attack=attack, colluders=colluding, metric=metric,
                             value=found, of=n, **extra))

        row("reference", None, "attributed (unmarked; marked in note)", held_copies,
            marked=attributed(marked, registry, kind))
        for colluding in ns:
            pattern = estimate(colluders[:colluding], kind)
            for budget in kind.budgets:
                folder = work / f"attack-{index}-{colluding}-{budget:g}"
                framed, q = attacked(held_copies, pattern, kind, 1.0, budget, folder / "frame")
                row("collusion, framing", colluding, "attributed", framed, psnr=q)
                stripped, q = attacked(marked, pattern, kind, -1.0, budget, folder / "strip")
                row("collusion, stripping", colluding, "still attributed", stripped, psnr=q)
            if kind.channel is None and count > 1 and colluding >= 32:
                group = largest_cluster(colluders[:colluding], kind, max(2, colluding // count))
                pattern = estimate(group, kind)
                for budget in kind.budgets:
                    folder = work / f"cluster-{index}-{colluding}-{budget:g}"
                    framed, q = attacked(held_copies, pattern, kind, 1.0, budget, folder / "frame")
                    row("collusion, framing, clustered", colluding, "attributed", framed, psnr=q, group=len(group))
                    stripped, q = attacked(marked, pattern, kind, -1.0, budget, folder / "strip")
                    row("collusion, stripping, clustered", colluding, "still attributed", stripped, psnr=q,
                        group=len(group))
        if kind.channel is None:
            readings = np.array([box.scores(load_rgb(c)) for c in colluders])
            for colluding in [1, *ns]:
                bits = (np.sign(readings[:colluding]).sum(axis=0) > 0).astype(np.float32)
                out = [box.write(load_rgb(t), bits, 1.0) for t in held_copies]
                folder = work / f"wb-{index}-{colluding}"
                folder.mkdir()
                paths = [folder / (t.stem + ".png") for t in held_copies]
                for image, path in zip(out, paths):
                    image.save(path)
                q = float(np.mean([psnr(load_rgb(t), o) for t, o in zip(held_copies, out)]))
                row("collusion, white-box framing", colluding, "attributed", paths, psnr=q)
        if index in (0, 2):  # controls: the same estimate from unmarked images
            pattern = estimate(sources[: min(64, len(sources))], kind)
            for budget in kind.budgets:
                folder = work / f"control-{index}-{budget:g}"
                framed, q = attacked(held_copies, pattern, kind, 1.0, budget, folder / "f")
                row("control: unmarked average, added", min(64, len(sources)), "attributed", framed, psnr=q)
                stripped, q = attacked(marked, pattern, kind, -1.0, budget, folder / "s")
                row("control: unmarked average, subtracted", min(64, len(sources)), "still attributed", stripped,
                    psnr=q)
