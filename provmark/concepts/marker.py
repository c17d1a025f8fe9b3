"""Marking one image file with concept codes: the unit of work of a catalog run.

``embed_regions`` writes the marks; :mod:`provmark.concepts.reading` reads them back (``--verify``).

With ``MarkOptions.channel`` the image also gets the concept channel
(:mod:`provmark.watermark.concept_channel`): a fixed keyed pattern per concept that a generator
trained on the image learns. It covers the whole image, so it takes one concept per image, and
it is colour: gray, palette and CMYK images are written as RGB (alpha is kept; an ICC profile
that is not an RGB profile is then dropped), and 16-bit images are refused.

Each region's neural mark gets a keyed variant drawn at random among ``MarkOptions.variants``
(the registry's count, :mod:`provmark.concepts.codes`) and recorded: images of one concept carry
unrelated raw words, so averaging them (collusion) mixes the words instead of estimating one.
The concept channel is the same in every image of a concept (a generator must learn it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook
from provmark.concepts.layout import CHANNEL_REGION, TRAINING_REGION, Region, candidate_regions, checked_regions, search_weight
from provmark.concepts.reading import channel_match, region_logits
from provmark.concepts.records import ImageRecord, now_utc
from provmark.errors import KeyMaterialError, ModelError, ProvmarkError, WatermarkError
from provmark.io import LoadedImage, check_single_frame, encode_like, load_image, write_bytes_atomic
from provmark.io.images import read_image_file
from provmark.watermark.concept_channel import DEFAULT_GRID, embed_channel
from provmark.watermark.marking import embed_watermark_with_strength as embed
from provmark.watermark.training_mark import embed_training_mark


@dataclass(frozen=True)
class MarkOptions:
    """How to mark: region layout, JPEG/WebP quality (None: the source's), strength, verify, and the
    concept channel's amplitude in 8-bit levels (None: no channel) and grid (cells per side), and the
    training mark's level (None: none; :mod:`provmark.watermark.training_mark`)."""

    layout: str = "auto"
    quality: int | None = None
    strength: float = 1.0
    verify: bool = False
    channel: float | None = None
    channel_grid: int = DEFAULT_GRID
    training_mark: float | None = None
    variants: int = 1  # the registry's keyed variants per concept (set by ``mark_catalog``)


@dataclass(frozen=True)
class MarkJob:
    """One file to mark: paths, and the concepts' names, indexes and payloads (one per region)."""

    rel: str
    src: str
    out: str
    concepts: tuple[str, ...]
    indexes: tuple[int, ...]
    payloads: tuple[bytes, ...]


@dataclass(frozen=True)
class MarkResult:
    """What became of a job: a record to store, or a one-line failure reason."""

    rel: str
    record: ImageRecord | None = None
    error: str | None = None


def embed_regions(
    image: Image.Image,
    marks: Sequence[tuple[Region, bytes]],
    key: bytes,
    strength: float,
    in_place: bool = False,
    variants: Sequence[int] = (),
) -> Image.Image:
    """Embed each payload in its own region of ``image``, with the keyed variant of the same position
    in ``variants`` (0 when not given); returns an image of the same size (with ``in_place``,
    ``image`` itself when its mode allows)."""
    chosen = list(variants) + [0] * (len(marks) - len(variants))
    if len(marks) == 1 and marks[0][0].box == (0, 0, *image.size):
        return embed(image, marks[0][1], key, strength=strength, in_place=in_place, variant=chosen[0])[0]
    out: Image.Image | None = None
    for (region, payload), variant in zip(marks, chosen):  # regions do not overlap: each crop is still unmarked
        piece = embed(image.crop(region.box), payload, key, strength=strength, in_place=True, variant=variant)[0]
        if out is None:  # palette images come back as RGB(A): paste into that mode, not the palette
            out = image.convert(piece.mode) if piece.mode != image.mode else image if in_place else image.copy()
        out.paste(piece, region.box[:2])
    assert out is not None, "no region to mark"
    return out


def mark_concepts(
    image: Image.Image,
    payloads: Sequence[bytes],
    key: bytes,
    *,
    layout: str = "auto",
    strength: float = 1.0,
    channel: float | None = None,
    channel_grid: int = DEFAULT_GRID,
    training_mark: float | None = None,
    in_place: bool = False,
    variants: Sequence[int] = (),
) -> tuple[Image.Image, str, list[Region]]:
    """Mark ``image`` with one concept payload per region of ``layout`` (and the concept channel of
    the first, at ``channel`` levels, and its training mark at ``training_mark`` levels, if given);
    returns the copy, the layout and its regions. Region ``i`` gets keyed variant ``variants[i]``
    (0 when not given).
    With ``in_place`` the regions are marked into ``image`` itself where its mode allows."""
    width, height = image.size
    layout, regions = checked_regions(layout, width, height, len(payloads))
    if (channel is not None or training_mark is not None) and len(regions) != 1:
        raise WatermarkError(f"the concept channel and the training mark cover the whole image: one concept per image, not {len(regions)}")
    marked = embed_regions(image, list(zip(regions, payloads)), key, strength, in_place, variants)
    if channel is not None:
        marked = embed_channel(marked, payloads[0], key, channel, channel_grid)
    if training_mark is not None:
        marked = embed_training_mark(marked, payloads[0], key, training_mark)
    return marked, layout, regions


def mark_file(job: MarkJob, key: bytes, options: MarkOptions, codebook: CodeBook | None = None) -> MarkResult:
    """Mark ``job.src`` into ``job.out`` (atomically); a bad file gives a failed result.

    With ``options.verify``, ``codebook`` (the registry's codes) must be given. Errors that
    would fail every file (model or key unusable) are raised instead.
    """
    try:
        return MarkResult(job.rel, record=_mark(job, key, options, codebook))
    except (ModelError, KeyMaterialError):
        raise
    except ProvmarkError as exc:
        message = str(exc)
        prefix = f"{job.src}: "
        return MarkResult(job.rel, error=message[len(prefix) :] if message.startswith(prefix) else message)
    except Exception as exc:  # a batch must survive one odd file; the reason is reported
        return MarkResult(job.rel, error=f"unexpected {type(exc).__name__}: {exc}")


def _mark(job: MarkJob, key: bytes, options: MarkOptions, codebook: CodeBook | None) -> ImageRecord:
    src_stat = os.stat(job.src)
    source = read_image_file(job.src)
    src_sha = hashlib.sha256(source).hexdigest()
    loaded = load_image(source, label=job.src)
    loaded.path = Path(job.src)
    del source
    check_single_frame(loaded)
    variants = [secrets.randbelow(options.variants) for _ in job.payloads]
    # in place: the decoded image is ours (one full-size copy fewer; JPEGs keep their chroma subsampling)
    marked, layout, regions = mark_concepts(
        loaded.image, job.payloads, key, layout=options.layout, strength=options.strength,
        channel=options.channel, channel_grid=options.channel_grid, training_mark=options.training_mark,
        in_place=True, variants=variants,
    )  # fmt: skip
    concepts = {region.name: name for region, name in zip(regions, job.concepts)}
    if options.training_mark is not None:
        if marked.mode != loaded.image.mode:
            loaded = _without_foreign_profile(loaded)
        concepts[TRAINING_REGION] = job.concepts[0]
    if options.channel is not None:
        if marked.mode != loaded.image.mode:
            loaded = _without_foreign_profile(loaded)
        concepts[CHANNEL_REGION] = job.concepts[0]
    data = encode_like(marked, loaded, quality=options.quality)
    if options.verify:
        if codebook is None:
            raise WatermarkError("verify needs the registry's codebook")
        check_marks(data, regions, job, codebook, key, options.channel_grid if options.channel is not None else None)
    write_bytes_atomic(job.out, data, sync=False)  # made durable by the run before it is recorded
    out_stat = os.stat(job.out)
    return ImageRecord(
        src_path=job.src,
        out_path=job.out,
        src_sha256=src_sha,
        out_sha256=hashlib.sha256(data).hexdigest(),
        src_size=src_stat.st_size,
        src_mtime_ns=src_stat.st_mtime_ns,
        out_size=out_stat.st_size,
        out_mtime_ns=out_stat.st_mtime_ns,
        layout=layout,
        concepts=concepts,
        marked_at=now_utc(),
        variants={region.name: variant for region, variant in zip(regions, variants) if variant},
    )


def check_marks(
    data: bytes,
    regions: Sequence[Region],
    job: MarkJob,
    codebook: CodeBook,
    key: bytes,
    channel_grid: int | None = None,
) -> None:
    """Raise unless attribution would find each region's concept in the encoded image ``data``.

    With ``channel_grid``, the concept channel (read on that grid) must carry the first
    concept, and the regions are held to the budget they have when the channel is read too.
    """
    image = load_image(data).image
    searched = len(candidate_regions(*image.size))
    channel = channel_grid is not None
    for region, name, index in zip(regions, job.concepts, job.indexes):
        found = codebook.match(region_logits(image, region, key), tests=search_weight(region, searched, channel))
        if found is None or found.index != index or found.p_value > DEFAULT_P_THRESHOLD:
            where = "" if region.name == "full" else f" in region {region.name}"
            p = f" (p={found.p_value:.2g})" if found is not None else ""
            raise WatermarkError(f"verify: concept {name!r} not read back{where}{p}")
    if channel_grid is not None:
        read = channel_match(image, key, codebook, channel_grid)
        if read is None or read.index != job.indexes[0]:
            raise WatermarkError(f"verify: concept {job.concepts[0]!r} not read back from the concept channel")


def _without_foreign_profile(loaded: LoadedImage) -> LoadedImage:
    """``loaded`` without its ICC profile unless it is an RGB one (for an image the channel made RGB)."""
    icc = loaded.icc_profile
    return loaded if icc is None or icc[16:20] == b"RGB " else dataclasses.replace(loaded, icc_profile=None)


def output_path(dst: Path, rel: str) -> Path:
    """Where the marked copy of catalog file ``rel`` goes under ``dst``."""
    return dst.joinpath(*rel.split("/"))
