"""Attribution: which registered concepts an image carries, region by region.

The whole image and every region of the standard layouts (see
:mod:`provmark.concepts.layout`) are read by the watermark decoder and matched against the
registry's concept codes (:mod:`provmark.concepts.codebook`). A region is attributed to its
closest concept when the chance of so close a match without the mark, over all concepts and
all regions tried, is at most 1e-6 (the whole image gets half of that budget, the layout
regions share the other half).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook
from provmark.concepts.layout import candidate_regions, search_weight
from provmark.concepts.marker import one_torch_thread, region_logits
from provmark.concepts.registry import Registry
from provmark.errors import ProvmarkError, WatermarkError
from provmark.io import load_image


@dataclass
class ConceptHit:
    """One concept found in an image.

    ``confidence`` is the share of the 128 raw code bits read as the concept's code in its best
    region; ``p_value`` bounds the chance of a match this close in an image without this
    registry's marks (over all its concepts and all regions tried); ``region`` is the best
    region and ``regions`` every region the concept was found in.
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
    image: Image.Image, registry: Registry, codebook: CodeBook | None = None
) -> tuple[list[ConceptHit], int]:
    """Concepts of ``registry`` found in ``image``, most likely first, and the number of regions tried.

    Pass ``codebook`` (``CodeBook.from_registry``) when attributing many images.
    """
    width, height = image.size
    regions = candidate_regions(width, height)
    if not regions:
        raise WatermarkError(f"image {width}x{height} is too small to carry a concept mark (128 px minimum)")
    codebook = codebook if codebook is not None else CodeBook.from_registry(registry)
    hits: dict[int, ConceptHit] = {}
    with one_torch_thread():
        readings = [(region, region_logits(image, region)) for region in regions]
    for region, logits in readings:
        found = codebook.match(logits, tests=search_weight(region, len(regions)))
        if found is None or found.p_value > DEFAULT_P_THRESHOLD:
            continue
        hit = hits.get(found.index)
        if hit is None:
            concept = registry.by_index(found.index)
            assert concept is not None, "codebook out of date"
            hits[found.index] = ConceptHit(
                concept.name, found.confidence, found.p_value, region.name, [region.name], concept.owner, concept.licence
            )
            continue
        hit.regions.append(region.name)
        if (found.p_value, -found.confidence) < (hit.p_value, -hit.confidence):
            hit.p_value, hit.confidence, hit.region = found.p_value, found.confidence, region.name
    ranked = sorted(hits.values(), key=lambda h: (h.p_value, -h.confidence, h.name))
    return ranked, len(regions)


def attribute_file(
    path: str | os.PathLike[str], registry: Registry, codebook: CodeBook | None = None
) -> AttributionReport:
    """Attribute one image file; failures are reported in the result, not raised."""
    report = AttributionReport(str(path))
    try:
        image = load_image(Path(path)).image
        report.concepts, report.regions_tried = attribute_image(image, registry, codebook)
    except ProvmarkError as exc:
        report.error = str(exc)
    return report
