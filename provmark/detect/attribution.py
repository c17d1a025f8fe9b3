"""Attribution: which registered concepts an image carries, region by region.

The whole image and every region of the standard layouts (see
:mod:`provmark.concepts.layout`) are read by the watermark decoder and matched against the
registry's concept codes (:mod:`provmark.concepts.codebook`). A region is attributed to its
closest concept when the chance of so close a match without the mark, over all concepts and
all regions tried, is at most 1e-6 (the whole image gets half of that budget, the layout
regions share the other half).

With a channel grid, the concept channel (:mod:`provmark.watermark.concept_channel`, what a
generator trained on marked copies reproduces) is read too, as region "channel": it gets half
of the 1e-6 budget and the regions above share the other half. Reported p-values include
these factors, so every hit is at most 1e-6.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook, CodeMatch
from provmark.concepts.layout import CHANNEL_REGION, candidate_regions, search_weight
from provmark.concepts.reading import channel_match
from provmark.watermark.regions import regions_logits
from provmark.concepts.registry import Registry
from provmark.errors import WatermarkError
from provmark.models.threads import one_torch_thread


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
    image: Image.Image, registry: Registry, codebook: CodeBook | None = None, channel_grid: int | None = None
) -> tuple[list[ConceptHit], int]:
    """Concepts of ``registry`` found in ``image``, most likely first, and the number of regions tried.

    ``codebook`` defaults to ``registry.codebook()`` (cached by the registry). With
    ``channel_grid`` the concept channel is read on that grid too (counted as one region).
    """
    width, height = image.size
    regions = candidate_regions(width, height)
    if not regions:
        raise WatermarkError(f"image {width}x{height} is too small to carry a concept mark (128 px minimum)")
    codebook = codebook if codebook is not None else registry.codebook()
    channel = channel_grid is not None
    with one_torch_thread():
        key = registry.watermark_key
        readings = list(zip(regions, regions_logits(image, [region.box for region in regions], key)))
    found: list[tuple[str, CodeMatch | None]] = [
        (region.name, codebook.match(logits, tests=search_weight(region, len(regions), channel)))
        for region, logits in readings
    ]
    if channel_grid is not None:
        found.append((CHANNEL_REGION, channel_match(image, registry.watermark_key, codebook, channel_grid)))
    hits: dict[int, ConceptHit] = {}
    for name, match in found:
        if match is None or match.p_value > DEFAULT_P_THRESHOLD:
            continue
        hit = hits.get(match.index)
        if hit is None:
            concept = registry.by_index(match.index)
            assert concept is not None, "codebook out of date"
            hits[match.index] = ConceptHit(
                concept.name, match.confidence, match.p_value, name, [name], concept.owner, concept.licence
            )
            continue
        hit.regions.append(name)
        if (match.p_value, -match.confidence) < (hit.p_value, -hit.confidence):
            hit.p_value, hit.confidence, hit.region = match.p_value, match.confidence, name
    ranked = sorted(hits.values(), key=lambda h: (h.p_value, -h.confidence, h.name))
    return ranked, len(regions) + (1 if channel else 0)

