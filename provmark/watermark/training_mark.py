"""Training mark: an invisible concept mark that no crop, flip or resize can misalign (a smooth tone comb).

A training copy's *local mean* is remapped per colour channel by a keyed *tone comb*. The
8-bit range is cut into :data:`BINS` bins of :data:`BIN_WIDTH` levels; a pixel whose local
mean (:func:`local_mean`: the image area-reduced to a short side of :data:`CANVAS` px, blurred
by 1 px there, so a fixed fraction of the image) lies in a bin moves by a raised-cosine bump of
at most ``level`` 8-bit levels (0 at the bin's edges, ``level`` at its centre), up where the
concept's keyed sign is +1 and down where it is -1. The added field is smooth (it follows the
local mean, not the pixels): flat areas get a uniform tint of a level or two, gradients a
ripple of the same size, and nothing has blocks or colour noise. Nothing depends on position,
so the mark is the same for every image of a concept *whatever the buyer's geometry*: crops,
flips, aspect and scale change which pixels an image shows, not how its local means relate
to its values.

Reading (:func:`training_reading`, key-free): the log histogram of the received image's own
local mean, per channel, minus its moving average leaves the comb; a lift pushes values away
from the bin centre, so its signature is the odd half-wave ``-sin`` per bin. The 96 products
(3 channels x 32 bins) are the reading; a concept's code is 96 signs from HMAC-SHA256 of the
registry key and its payload (:func:`code_signs`), independent for every concept.

*Bound*: the reading does not depend on the key, and a concept's signs are fair coins for
anyone without the key, so for an image (or a model) that does not carry the concept
``z = s . r / |r|`` obeys Hoeffding, ``P(z >= t) <= exp(-t^2 / 2)``, whatever the image
(:mod:`provmark.detect.audit` sums unit readings over samples and keeps this bound).
``z`` cannot exceed sqrt(96) ~ 9.8. One photo gives z ~ 2, a model audit adds many up.

>>> copy = embed_training_mark(photo, payload, key)  # doctest: +SKIP
>>> match_training_codes(copy.resize((64, 64)), key, [payload]).z  # doctest: +SKIP
[2.3]
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from provmark.errors import WatermarkError
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD

#: 8-bit levels per comb bin.
BIN_WIDTH = 8
#: Comb bins per colour channel (256 / BIN_WIDTH).
BINS = 256 // BIN_WIDTH
#: Length of a reading and of a concept's code: 3 channels x BINS.
FEATURES = 3 * BINS
#: Default bump height in 8-bit levels: ~46 dB on photos.
DEFAULT_LEVEL = 2.0
#: Short side (px) at which the local mean is taken; the blur is 1 px there.
CANVAS = 64

# Modes with more than 8 bits per sample: an 8-bit tone comb means nothing there.
_HIGH_DEPTH = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_LEVELS = np.arange(256)
_SIGNATURE = -np.sin(2.0 * np.pi * (_LEVELS % BIN_WIDTH) / BIN_WIDTH)  # what a lift leaves in the log histogram


@dataclass
class TrainingMatch:
    """The registered code an image's training mark matches best."""

    index: int | None  # position in the codes given, None if none passes the threshold
    z: list[float]  # z-score per code
    p_value: float  # best code's bound times the number of codes
    reading: np.ndarray  # the FEATURES-long reading


def code_signs(payload: bytes, key: bytes) -> np.ndarray:
    """The concept's keyed code: FEATURES signs (+-1) from HMAC-SHA256(key, payload)."""
    stream = b""
    block = 0
    while len(stream) * 8 < FEATURES:
        message = b"provmark/training-mark/" + block.to_bytes(4, "big") + payload
        stream += hmac.new(key, message, hashlib.sha256).digest()
        block += 1
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:FEATURES]
    return 2.0 * bits.astype(np.float64) - 1.0


def _bump(values: np.ndarray) -> np.ndarray:
    """Raised cosine of each value's position in its bin: 0 at the edges, 1 at the centre."""
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * np.mod(values, BIN_WIDTH) / BIN_WIDTH))


def local_mean(image: Image.Image) -> np.ndarray:
    """The RGB local mean, float (h, w, 3): area-reduced to a short side of at most CANVAS px, then
    blurred by a Gaussian of CANVAS-th of the short side (1 px at CANVAS)."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    if min(w, h) > CANVAS:
        scale = CANVAS / min(w, h)
        rgb = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    pixels = np.asarray(rgb, dtype=np.float64)
    sigma = min(pixels.shape[:2]) / CANVAS
    radius = int(3 * sigma) + 1
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        padded = np.pad(pixels, pad, mode="reflect" if pixels.shape[axis] > radius else "edge")
        n = pixels.shape[axis]
        pixels = sum(t * np.take(padded, np.arange(i, i + n), axis=axis) for i, t in enumerate(taps))
    return pixels


def embed_training_mark(
    image: Image.Image, payload: bytes, key: bytes, level: float = DEFAULT_LEVEL
) -> Image.Image:
    """Return a copy of ``image`` carrying the training mark of ``payload`` (bumps of ``level`` levels).

    The copy is RGB, or RGBA with the alpha plane unchanged when ``image`` has one; gray,
    palette and CMYK images come back as RGB. 16-bit and float images are refused.
    """
    if not level > 0:
        raise WatermarkError(f"training mark level must be positive, got {level}")
    if image.mode in _HIGH_DEPTH:
        raise WatermarkError(f"{image.mode} images (16-bit or float) cannot carry the training mark (8-bit only)")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA", "PA") else None
    if image.mode == "P" and "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
    rgb = image.convert("RGB")
    mean = local_mean(rgb)
    full = [np.asarray(Image.fromarray(mean[..., c].astype(np.float32), "F").resize(rgb.size, Image.Resampling.BILINEAR))
            for c in range(3)]  # fmt: skip
    per_bin = code_signs(payload, key).reshape(3, BINS)
    offset = [level * per_bin[c][np.clip(full[c] // BIN_WIDTH, 0, BINS - 1).astype(int)] * _bump(full[c]) for c in range(3)]
    shifted = np.asarray(rgb, dtype=np.float64) + np.stack(offset, axis=-1)
    out = Image.fromarray(np.clip(np.rint(shifted), 0, 255).astype(np.uint8), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    return out


def training_reading(image: Image.Image) -> np.ndarray:
    """The FEATURES-long reading of ``image``'s tone comb (key-free; about 0 without a mark)."""
    if min(image.size) < 1:
        raise WatermarkError("empty image: nothing to read")
    mean = local_mean(image)
    window = np.ones(BIN_WIDTH + 1) / (BIN_WIDTH + 1)
    out = []
    for c in range(3):
        counts = np.bincount(np.clip(mean[..., c], 0, 255).astype(int).ravel(), minlength=256).astype(np.float64)
        log_hist = np.log(counts + 1.0)
        padded = np.pad(log_hist, BIN_WIDTH, mode="edge")
        smooth = np.convolve(padded, window, mode="same")[BIN_WIDTH:-BIN_WIDTH]
        out.append(((log_hist - smooth) * _SIGNATURE).reshape(BINS, BIN_WIDTH).sum(axis=1))
    return np.concatenate(out)


def code_z(reading: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``z = s . r / |r|`` of each sign row (``[C, FEATURES]``) against one reading."""
    norm = float(np.linalg.norm(reading))
    return np.asarray(signs, dtype=np.float64) @ reading / norm if norm > 0 else np.zeros(len(signs))


def match_training_codes(
    image: Image.Image, key: bytes, payloads: Sequence[bytes], threshold: float = DEFAULT_P_THRESHOLD
) -> TrainingMatch:
    """Which of ``payloads`` (a registry's concept codes) the image's training mark carries."""
    if not payloads:
        raise WatermarkError("no concept codes to match")
    reading = training_reading(image)
    z = [float(v) for v in code_z(reading, np.array([code_signs(p, key) for p in payloads]))]
    best = int(np.argmax(z))
    p = min(1.0, math.exp(-z[best] ** 2 / 2.0) * len(z)) if z[best] > 0 else 1.0
    return TrainingMatch(best if p <= threshold else None, z, p, reading)
