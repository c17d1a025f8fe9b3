"""Reading the watermark decoder in many regions of one image at once.

The same logits as :func:`provmark.watermark.marking.watermark_logits` on each cropped region,
for a fraction of the cost: the image is split into planes once, each region is cut from them
(no PIL crop and re-split), and the decoder runs on all regions as one batch (with the
alignment search, one batch per region shape, since it searches rotations for that shape).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from provmark.watermark.marking import _model
from provmark.watermark.pilots import upright_views
from provmark.watermark.pixels import internal_image
from provmark.watermark.planes import Planes, split_image

Box = tuple[int, int, int, int]


def _cut(planes: Planes, box: Box) -> Planes:
    left, top, right, bottom = box
    return Planes(planes.color[top:bottom, left:right], None, planes.max_value, planes.mode, planes.dtype)


def regions_logits(
    image: Image.Image, boxes: Sequence[Box], key: bytes, *, model: str = "default", search: bool = True
) -> list[np.ndarray]:
    """Raw codeword logits ``[V,128]`` of each region ``box`` (left, top, right, bottom) of
    ``image`` read on ``key``'s carriers, as ``payload_logits(image.crop(box), key)`` gives them
    (row 0 with the alignment search, then without it; only views whose pilots read upright),
    except that batched regions are not re-rendered at a finer size for shrunk alignments.
    With ``search=False`` only the unaligned reading is made (one row, no search)."""
    net = _model(model)
    carriers = net.carriers(key)
    planes = split_image(image)
    aspects = [(right - left) / (bottom - top) for left, top, right, bottom in boxes]
    with torch.inference_mode():
        batch = torch.cat([internal_image(_cut(planes, box), net.config.size) for box in boxes])
        views = [net.decode_logits(batch, carriers, search=False)]
        if search:
            searched = torch.empty(len(boxes), net.config.num_bits)
            for aspect in dict.fromkeys(aspects):
                rows = torch.tensor([i for i, a in enumerate(aspects) if a == aspect])
                searched[rows] = net.decode_logits(batch[rows], carriers, aspect=aspect)
            views.insert(0, searched)
        logits = torch.stack(views, dim=1).double().numpy()
    return [upright_views(region, key) for region in logits]
