"""Embed and decode watermark payloads in PIL images of any size, aspect ratio and common mode.

The image is squash-resized to the model's internal square, the model computes a residual
there for the keyed raw bits, and the residual is upsampled and added at full resolution in
the image's own integer precision (8 or 16 bits). Decoding squash-resizes and reads logits.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from PIL import Image

from provmark.errors import WatermarkError
from provmark.models import load_model
from provmark.models.networks import WatermarkModel
from provmark.models.strength import choose_strength
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.codec import CODE_BITS
from provmark.watermark.decision import DecodeResult, detect, raw_bits
from provmark.watermark.banded import apply_residual, internal_view
from provmark.watermark.pixels import internal_image
from provmark.watermark.planes import split_image


def _model(name: str) -> WatermarkModel:
    model = load_model(name)
    if model.config.num_bits != CODE_BITS:
        raise WatermarkError(f"model {name!r} carries {model.config.num_bits} bits, the watermark needs {CODE_BITS}")
    return model


def embed_watermark(
    image: Image.Image,
    payload: bytes,
    key: bytes,
    *,
    strength: float = 1.0,
    adaptive: bool = True,
    model: str = "default",
    variant: int = 0,
) -> Image.Image:
    """Return a copy of ``image`` carrying the 8-byte ``payload`` under ``key``.

    Size, aspect ratio and mode are kept (palette images come back as RGB/RGBA; see
    :mod:`provmark.watermark.planes`). ``strength`` scales the residual (1.0 is the
    calibrated default; higher is more robust and more visible). With ``adaptive`` the
    residual is first scaled by the image's closed-loop strength
    (:mod:`provmark.models.strength`, 0.8-1.6): weak hosts get more, easy ones less.
    ``variant`` > 0 varies the raw bits per image (:mod:`provmark.watermark.scramble`; concept
    marks use it against collusion; :func:`decode_watermark` reads variant 0 only).
    """
    return embed_watermark_with_strength(
        image, payload, key, strength=strength, adaptive=adaptive, model=model, variant=variant
    )[0]


def embed_watermark_with_strength(
    image: Image.Image,
    payload: bytes,
    key: bytes,
    *,
    strength: float = 1.0,
    adaptive: bool = True,
    model: str = "default",
    in_place: bool = False,
    variant: int = 0,
) -> tuple[Image.Image, float]:
    """:func:`embed_watermark` that also returns the strength actually applied.

    With ``in_place`` an 8-bit RGB, RGBA, L or LA ``image`` is itself marked and returned
    (no second full-size image: for callers that own the decoded image, like catalog workers).
    """
    if not strength > 0:
        raise WatermarkError(f"watermark strength must be positive, got {strength}")
    bits = torch.from_numpy(raw_bits(payload, key, variant).astype(np.float32)).unsqueeze(0)
    net = _model(model)
    planes = split_image(image)
    height, width = planes.color.shape[:2]
    with torch.inference_mode():
        small = internal_image(planes, net.config.size)
        residual_s = net.residual(small, bits)
        if adaptive:  # the decoder's view of the image marked at unit strength (clipping aside)
            marked = (small + internal_view(residual_s, height, width)).clamp_(0.0, 1.0)
            strength *= choose_strength(net, small, marked, bits[0], width / height)
        return apply_residual(planes, residual_s, strength, image, in_place), strength


def watermark_logits(image: Image.Image, *, model: str = "default") -> np.ndarray:
    """Raw bit logits ``[V,128]`` of ``image`` (> 0 means bit 1), one row per decoder view.

    Row 0 is the model's own reading. A model whose ``decode_logits`` has a ``search`` switch
    (alignment search for crops and rotations) is also read without it: the search can lock
    onto the host image's own texture, and the unaligned reading then still holds the mark.
    """
    net = _model(model)
    planes = split_image(image)
    with torch.inference_mode():
        small = internal_image(planes, net.config.size)
        views = [net.decode_logits(small, aspect=planes.color.shape[1] / planes.color.shape[0])]
        if "search" in inspect.signature(net.decode_logits).parameters:
            views.append(net.decode_logits(small, search=False))
    return torch.cat(views).double().numpy()


def decode_watermark(
    image: Image.Image, key: bytes, *, model: str = "default", threshold: float = DEFAULT_P_THRESHOLD
) -> DecodeResult:
    """Read the payload ``key`` put into ``image``, with a calibrated false-positive bound."""
    return detect(watermark_logits(image, model=model), key, threshold)
