"""Embed and decode watermark payloads in PIL images of any size, aspect ratio and common mode.

The image is squash-resized to the model's internal square, the model computes a residual
there for the keyed raw bits and pilots on the key's carriers, and the residual is upsampled
and added at full resolution in the image's own integer precision (8 or 16 bits). Decoding
squash-resizes, reads logits on the key's carriers and keeps the readings whose pilots are
upright (:mod:`provmark.watermark.pilots`).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from provmark.errors import WatermarkError
from provmark.models import load_model
from provmark.models.networks import WatermarkModel
from provmark.models.strength import choose_strength
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.decision import DecodeResult, detect, raw_bits
from provmark.watermark.banded import apply_residual, internal_view
from provmark.watermark.pilots import CARRIED_BITS, carried_bits, upright_views
from provmark.watermark.pixels import PRESCALE, internal_image, reduced
from provmark.watermark.planes import split_image


def _model(name: str) -> WatermarkModel:
    model = load_model(name)
    if model.config.num_bits != CARRIED_BITS:
        raise WatermarkError(f"model {name!r} carries {model.config.num_bits} bits, the watermark needs {CARRIED_BITS}")
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
    (:mod:`provmark.models.strength`, 1.0-2.0): weak hosts get more, easy ones less.
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
    bits = torch.from_numpy(carried_bits(raw_bits(payload, key, variant), key).astype(np.float32)).unsqueeze(0)
    net = _model(model)
    carriers = net.carriers(key)
    planes = split_image(image)
    height, width = planes.color.shape[:2]
    with torch.inference_mode():
        small = internal_image(planes, net.config.size)
        residual_s = net.residual(small, bits, carriers)
        if adaptive:  # the decoder's view of the image marked at unit strength (clipping aside)
            marked = (small + internal_view(residual_s, height, width)).clamp_(0.0, 1.0)
            strength *= choose_strength(net, small, marked, bits[0], carriers, width / height)
        return apply_residual(planes, residual_s, strength, image, in_place), strength


def watermark_logits(image: Image.Image, key: bytes, *, model: str = "default") -> np.ndarray:
    """Logits ``[V,144]`` of ``image`` read on ``key``'s carriers (> 0 means bit 1), one row per
    decoder view: the 128 raw codeword bits, then the 16 pilots.

    Row 0 is the model's own reading (with its alignment search); row 1 is the unaligned
    reading: the search can lock onto the host image's own texture, and the unaligned reading
    then still holds the mark.
    """
    net = _model(model)
    carriers = net.carriers(key)
    planes = split_image(image)
    aspect = planes.color.shape[1] / planes.color.shape[0]
    view = reduced(planes, PRESCALE * net.config.size)  # enough pixels for every internal size read
    with torch.inference_mode():
        views = net.decode_views(internal_image(view, net.config.size), carriers, aspect, lambda size: internal_image(view, size))
    return views.double().numpy()


def payload_logits(image: Image.Image, key: bytes, *, model: str = "default") -> np.ndarray:
    """The 128 raw codeword logits ``[V',128]`` of the views of ``image`` whose pilots read
    upright under ``key`` (none for a negated mark)."""
    return upright_views(watermark_logits(image, key, model=model), key)


def decode_watermark(
    image: Image.Image, key: bytes, *, model: str = "default", threshold: float = DEFAULT_P_THRESHOLD
) -> DecodeResult:
    """Read the payload ``key`` put into ``image``, with a calibrated false-positive bound
    (a negated mark, its pilots inverted, is not detected)."""
    return detect(payload_logits(image, key, model=model), key, threshold)
