"""Attribution: which registered concepts an image carries, region by region.

The whole image and every region of the standard layouts (see
:mod:`provmark.concepts.layout`) are decoded with the registry's watermark key. A region is
attributed to a concept when the decoder detects a mark (calibrated p-value at most 1e-6)
whose payload is one of the registry's concept codes (a keyed tag, 2^-40 by chance).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from provmark.concepts.layout import candidate_regions
from provmark.concepts.marker import read_region
from provmark.concepts.registry import Registry
from provmark.errors import ProvmarkError, WatermarkError
from provmark.io import load_image

RAW_BITS = 128


@dataclass
class ConceptHit:
    """One concept found in an image.

    ``confidence`` is the share of the 128 raw code bits read as the concept's code in its best
    region; ``p_value`` bounds the chance of attributing an image without this concept's mark
    this strongly (decoder p-value times the number of regions tried); ``region`` is the best
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


def attribute_image(image: Image.Image, registry: Registry) -> tuple[list[ConceptHit], int]:
    """Concepts of ``registry`` found in ``image``, most likely first, and the number of regions tried."""
    width, height = image.size
    regions = candidate_regions(width, height)
    if not regions:
        raise WatermarkError(f"image {width}x{height} is too small to carry a concept mark (128 px minimum)")
    key = registry.watermark_key
    hits: dict[int, ConceptHit] = {}
    for region in regions:
        result = read_region(image, region, key)
        concept = registry.concept_for_payload(result.payload) if result.detected else None
        if concept is None:
            continue
        p = min(1.0, result.p_value * len(regions))
        confidence = 1.0 - (result.errors_corrected or 0) / RAW_BITS
        hit = hits.get(concept.index)
        if hit is None:
            hits[concept.index] = ConceptHit(
                concept.name, confidence, p, region.name, [region.name], concept.owner, concept.licence
            )
            continue
        hit.regions.append(region.name)
        if (p, -confidence) < (hit.p_value, -hit.confidence):
            hit.p_value, hit.confidence, hit.region = p, confidence, region.name
    ranked = sorted(hits.values(), key=lambda h: (h.p_value, -h.confidence, h.name))
    return ranked, len(regions)


def attribute_file(path: str | os.PathLike[str], registry: Registry) -> AttributionReport:
    """Attribute one image file; failures are reported in the result, not raised."""
    report = AttributionReport(str(path))
    try:
        image = load_image(Path(path)).image
        report.concepts, report.regions_tried = attribute_image(image, registry)
    except ProvmarkError as exc:
        report.error = str(exc)
    return report
