"""Attribution: which registered concepts an image carries, region by region.

The whole image and every region of the standard layouts (see
:mod:`provmark.concepts.layout`) are read by the watermark decoder and matched against the
registry's concept codes (:mod:`provmark.concepts.codebook`). A region is attributed to its
closest concept when the chance of so close a match without the mark, over all concepts and
all regions tried, is at most 1e-6 (the whole image gets half of that budget, the layout
regions share the other half).

Regions are read in stages (:func:`read_regions`): the whole image without the alignment
search, then the other regions without it, and only if neither finds a concept every region
with the search; the bound counts every reading of every stage.

With a channel grid, the concept channel (:mod:`provmark.watermark.concept_channel`, what a
generator trained on marked copies reproduces) is read too, as region "channel", and with
``training_mark`` the training mark (:mod:`provmark.watermark.training_mark`), as region
"training-mark": these whole-image marks share half of the 1e-6 budget and the regions above
share the other half. Reported p-values include these factors, so every hit is at most 1e-6.
One image alone never names a concept by its training mark (z of 2 to 4, 5.7 needed); a
model audit adds up samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook, CodeMatch
from provmark.concepts.layout import (
    CHANNEL_REGION,
    CHANNEL_WEIGHT,
    TRAINING_REGION,
    Region,
    candidate_regions,
    search_weight,
)
from provmark.concepts.reading import channel_match, training_match
from provmark.concepts.registry import Registry
from provmark.errors import WatermarkError
from provmark.models.threads import one_torch_thread
from provmark.watermark.regions import regions_logits

#: Readings of each region a bound counts: with the alignment search and without it.
READINGS = 2


@dataclass
class ConceptHit:
    """One concept found in an image.

    ``confidence`` is the share of the 128 raw code bits read as the concept's code in its best
    region; ``p_value`` bounds the chance of a match this close in an image without this
    registry's marks (over all its concepts and all regions tried); ``region`` is the best
    region and ``regions`` every region the concept was found in ("channel" for the concept
    channel).
    """

    name: str
    confidence: float
    p_value: float
    region: str
    regions: list[str] = field(default_factory=list)
    owner: str = ""
    licence: str = ""


@dataclass
class AttributionReport:
    """Concepts found in one input, most likely first (empty when none), or why it failed."""

    path: str
    concepts: list[ConceptHit] = field(default_factory=list)
    regions_tried: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object printed by ``provmark attribute --json``."""
        out: dict[str, Any] = {"path": self.path, "concepts": [asdict(c) for c in self.concepts]}
        out["regions_tried"] = self.regions_tried
        if self.error is not None:
            out["error"] = self.error
        return out


def attribute_image(
    image: Image.Image,
    registry: Registry,
    codebook: CodeBook | None = None,
    channel_grid: int | None = None,
    training_mark: bool = False,
) -> tuple[list[ConceptHit], int]:
    """Concepts of ``registry`` found in ``image``, most likely first, and the number of regions tried.

    ``codebook`` defaults to ``registry.codebook()`` (cached by the registry). With
    ``channel_grid`` the concept channel is read on that grid too, with ``training_mark`` the
    training mark (each counted as one region).
    """
    width, height = image.size
    regions = candidate_regions(width, height)
    if not regions:
        raise WatermarkError(f"image {width}x{height} is too small to carry a concept mark (128 px minimum)")
    codebook = codebook if codebook is not None else registry.codebook()
    extras = (channel_grid is not None) + training_mark
    key = registry.watermark_key
    read = read_regions(image, regions, codebook, key, halved=extras > 0)
    found = [(name, m.index, m.confidence, m.p_value) for name, m in read if m is not None]
    if channel_grid is not None:
        match = channel_match(image, key, codebook, channel_grid, CHANNEL_WEIGHT * extras)
        if match is not None:
            found.append((CHANNEL_REGION, match.index, match.confidence, match.p_value))
    if training_mark and (trained := training_match(image, codebook, CHANNEL_WEIGHT * extras)) is not None:
        found.append((TRAINING_REGION, *trained))
    hits: dict[int, ConceptHit] = {}
    for name, index, confidence, p_value in found:
        if p_value > DEFAULT_P_THRESHOLD:
            continue
        hit = hits.get(index)
        if hit is None:
            concept = registry.by_index(index)
            assert concept is not None, "codebook out of date"
            hits[index] = ConceptHit(concept.name, confidence, p_value, name, [name], concept.owner, concept.licence)
            continue
        hit.regions.append(name)
        if (p_value, -confidence) < (hit.p_value, -hit.confidence):
            hit.p_value, hit.confidence, hit.region = p_value, confidence, name
    ranked = sorted(hits.values(), key=lambda h: (h.p_value, -h.confidence, h.name))
    return ranked, len(regions) + extras


def read_regions(
    image: Image.Image, regions: list[Region], codebook: CodeBook, key: bytes, halved: bool = False
) -> list[tuple[str, CodeMatch | None]]:
    """The closest concept of each region read, in stages that stop at the first that finds one:

    1. the whole image (``regions[0]``) without the alignment search;
    2. the other regions without the search, in one batch;
    3. every region with the search (and without it), as :func:`regions_logits` reads them.

    Every reading's bound counts both readings of its region (:data:`READINGS`, also where a
    view's pilots read inverted and it is dropped) and the region's :func:`search_weight`,
    whichever stage it comes from, so the false-attribution budget is the one of reading
    everything (a marked image costs one decoder pass instead of ~15 searches).
    """
    assert regions[0].box == (0, 0, *image.size), "candidate regions start with the whole image"
    weights = [search_weight(region, len(regions), halved) for region in regions]

    def matched(logits: list[np.ndarray], offset: int) -> list[tuple[str, CodeMatch | None]]:
        found = []
        for region, weight, views in zip(regions[offset:], weights[offset:], logits):
            matches = [m for view in views if (m := codebook.match(view, tests=weight * READINGS)) is not None]
            found.append((region.name, min(matches, key=lambda m: (m.p_value, m.distance), default=None)))
        return found

    with one_torch_thread():
        found = matched(regions_logits(image, [regions[0].box], key, search=False), 0)
        if not _any_hit(found) and len(regions) > 1:
            found = matched(regions_logits(image, [r.box for r in regions[1:]], key, search=False), 1)
        if not _any_hit(found):
            found = matched(regions_logits(image, [r.box for r in regions], key), 0)
    return found


def _any_hit(found: list[tuple[str, CodeMatch | None]]) -> bool:
    return any(match is not None and match.p_value <= DEFAULT_P_THRESHOLD for _, match in found)


def attribution_json(image: Image.Image, registry: Registry) -> dict[str, Any]:
    """The concepts of ``registry`` in ``image`` as JSON (``concepts``, ``regions_tried``), or
    ``{"error": ...}`` when the image cannot carry a concept mark (the service's ``attribution``)."""
    try:
        hits, tried = attribute_image(image, registry)
    except WatermarkError as exc:
        return {"concepts": [], "regions_tried": 0, "error": str(exc)}
    return {"concepts": [asdict(hit) for hit in hits], "regions_tried": tried}
