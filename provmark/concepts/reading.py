"""Reading concept codes out of pixels: the watermark decoder per region, and the concept channel.

The counterpart of :mod:`provmark.concepts.marker`: attribution
(:mod:`provmark.detect.attribution`) and ``mark --verify`` read with these two functions.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from provmark.concepts.codebook import DEFAULT_P_THRESHOLD, CodeBook, CodeMatch
from provmark.concepts.layout import CHANNEL_WEIGHT, Region
from provmark.watermark.concept_channel import match_code_bits
from provmark.watermark.marking import payload_logits


def region_logits(image: Image.Image, region: Region, key: bytes) -> np.ndarray:
    """The watermark decoder's raw codeword logits (``[views, 128]``, only views whose pilots
    read upright under ``key``) for one region of ``image``."""
    whole = region.box == (0, 0, *image.size)
    return payload_logits(image if whole else image.crop(region.box), key)


def channel_match(image: Image.Image, key: bytes, codebook: CodeBook, grid: int) -> CodeMatch | None:
    """The concept whose concept channel ``image`` carries, or None.

    The match's distance counts the raw channel bits read wrong (so its confidence is the share
    read right) and its p-value is the channel's own bound times :data:`CHANNEL_WEIGHT`: the
    channel spends half of the false-attribution budget, the regions the other half.
    """
    if not len(codebook):
        return None
    found = match_code_bits(image, key, codebook.codes, grid, DEFAULT_P_THRESHOLD / CHANNEL_WEIGHT)
    if found.index is None:
        return None
    wrong = int(((found.logits > 0) != codebook.codes[found.index].astype(bool)).sum())
    return CodeMatch(codebook.indexes[found.index], wrong, min(1.0, found.p_value * CHANNEL_WEIGHT))
