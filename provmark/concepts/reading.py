"""Reading concept codes out of pixels: the watermark decoder per region, the concept channel,
and the training mark.

The counterpart of :mod:`provmark.concepts.marker`: attribution
(:mod:`provmark.detect.attribution`) and ``mark --verify`` read with these functions.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook, CodeMatch
from provmark.concepts.layout import CHANNEL_WEIGHT, Region
from provmark.watermark.concept_channel import match_code_bits
from provmark.watermark.marking import payload_logits
from provmark.watermark.training_mark import code_z, training_reading


def region_logits(image: Image.Image, region: Region, key: bytes) -> np.ndarray:
    """The watermark decoder's raw codeword logits (``[views, 128]``, only views whose pilots
    read upright under ``key``) for one region of ``image``."""
    whole = region.box == (0, 0, *image.size)
    return payload_logits(image if whole else image.crop(region.box), key)


def channel_match(
    image: Image.Image, key: bytes, codebook: CodeBook, grid: int, weight: int = CHANNEL_WEIGHT
) -> CodeMatch | None:
    """The concept whose concept channel ``image`` carries, or None.

    The match's distance counts the raw channel bits read wrong (so its confidence is the share
    read right) and its p-value is the channel's own bound times ``weight``: by default the
    channel spends half of the false-attribution budget, the regions the other half.
    """
    if not len(codebook):
        return None
    found = match_code_bits(image, key, codebook.codes, grid, DEFAULT_P_THRESHOLD / weight)
    if found.index is None:
        return None
    wrong = int(((found.logits > 0) != codebook.codes[found.index].astype(bool)).sum())
    return CodeMatch(codebook.indexes[found.index], wrong, min(1.0, found.p_value * weight))


def training_match(
    image: Image.Image, codebook: CodeBook, weight: int = CHANNEL_WEIGHT
) -> tuple[int, float, float] | None:
    """The concept whose training mark ``image`` matches best: (index, confidence, p-value), or None
    for an empty codebook; the confidence is the share of the reading's weight on the code's signs.

    The p-value is the Hoeffding bound ``N exp(-z^2/2)`` over the N concepts
    (:mod:`provmark.watermark.training_mark`) times ``weight``. One image gives z of 2 to 4,
    far from the 5.7 that 1e-6 needs: a single image never names a concept by this mark
    (``provmark audit --mark training`` adds up a generator's samples).
    """
    if not len(codebook):
        return None
    reading = training_reading(image)
    z = code_z(reading, codebook.training)
    best = int(np.argmax(z))
    top = float(z[best])
    p_value = min(1.0, math.exp(-top * top / 2.0) * len(z) * weight) if top > 0 else 1.0
    weights = np.abs(reading)
    total = float(weights.sum())
    agree = float(weights[np.sign(reading) == codebook.training[best]].sum()) / total if total > 0 else 0.0
    return codebook.indexes[best], agree, p_value
