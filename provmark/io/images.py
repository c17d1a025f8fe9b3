"""Load image files with clear, one-line errors and keep what a re-save needs.

Formats are recognised by content, not by file extension. The original bytes' metadata
(EXIF, ICC profile, XMP) and, for JPEG, an estimate of the encoder quality are kept so a
marked copy can be written in the same format with the same metadata (:mod:`provmark.io.encode`).
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from provmark.errors import InputImageError
from provmark.io.codecs import (
    C2PA_ONLY,
    SUPPORTED_FORMATS,
    jxl_xmp,
    repair_png,
    sniff_c2pa_mime,
    unsupported_format_message,
)

#: Largest image accepted, in pixels (8K UHD is 33 MP; a 16K x 16K scan is 268 MP).
MAX_PIXELS = 120_000_000


@dataclass
class LoadedImage:
    """A decoded image plus what is needed to write it back faithfully."""

    image: Image.Image
    format: str
    path: Path | None = None
    exif: bytes | None = None
    icc_profile: bytes | None = None
    xmp: bytes | None = None
    jpeg_quality: int | None = None
    #: Frames (animation) or pages (TIFF); only the first is decoded into ``image``.
    frames: int = 1
    #: The source's compression (TIFF: group4, tiff_lzw, ...), kept when it is written again.
    compression: str | None = None
    #: What had to be repaired to decode the pixels (e.g. a PNG chunk with a bad checksum).
    repaired: str | None = None

    @property
    def name(self) -> str:
        """File name for messages (``<memory>`` for in-memory images)."""
        return str(self.path) if self.path else "<memory>"


#: What every image-taking function of provmark accepts: a PIL image, a numpy array (HxW gray,
#: HxWx3 RGB or HxWx4 RGBA; uint8, or uint16 gray), encoded file bytes, or a path.
ImageInput = Union[Image.Image, np.ndarray, bytes, str, os.PathLike]


def load_image(source: ImageInput, max_pixels: int = MAX_PIXELS, label: str | None = None) -> LoadedImage:
    """Open and fully decode an image from a path, bytes, a PIL image or a numpy array.

    Raises :class:`InputImageError` with a one-line reason for missing, unreadable,
    non-image, truncated, oversized or unsupported inputs. ``label`` names bytes in messages.
    """
    if isinstance(source, Image.Image):
        return _from_pil(source)
    if isinstance(source, np.ndarray):
        return _from_pil(_from_array(source))
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    path = None if isinstance(source, bytes) else Path(source)
    label = str(path) if path else label or "<bytes>"
    data = read_image_file(path) if path is not None else source
    if not data:
        raise InputImageError(f"{label}: empty file")
    repaired = None
    try:
        loaded = _decode(data, label, max_pixels)
    except InputImageError:
        fixed = repair_png(data)
        if fixed is None:
            raise
        data, repaired = fixed
        loaded = _decode(data, label, max_pixels)
        loaded.repaired = repaired
    loaded.path = path
    return loaded


def _decode(data: bytes, label: str, max_pixels: int) -> LoadedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            if fmt == "MPO":  # multi-picture JPEG from cameras: the first frame is a JPEG
                fmt = "JPEG"
            if fmt not in SUPPORTED_FORMATS:
                raise InputImageError(f"{label}: {unsupported_format_message(fmt)}")
            pixels = image.width * image.height
            if pixels > max_pixels:
                raise InputImageError(
                    f"{label}: too large: {image.width}x{image.height} is {pixels / 1e6:.0f} MP, "
                    f"the limit is {max_pixels / 1e6:.0f} MP"
                )
            image.load()
    except InputImageError:
        raise
    except UnidentifiedImageError as exc:
        kind = C2PA_ONLY.get(sniff_c2pa_mime(data) or "")
        if kind:
            raise InputImageError(
                f"{label}: {kind} can carry a C2PA manifest, but no codec here decodes or writes its pixels "
                f"(provmark verify checks its manifest; sign, mark and embed take {', '.join(SUPPORTED_FORMATS)})"
            ) from exc
        raise InputImageError(f"{label}: not an image file (or a format provmark cannot read)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputImageError(f"{label}: too large: refused as a possible decompression bomb") from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError, IndexError) as exc:
        raise InputImageError(f"{label}: corrupt or truncated image data ({exc})") from exc
    loaded = _from_pil(image, fmt)
    loaded.frames = _frame_count(image)
    if fmt == "JXL" and loaded.xmp is None:
        loaded.xmp = jxl_xmp(data)
    return loaded


def read_image_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an image file, or an :class:`InputImageError` saying why they cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputImageError(f"{path}: no such file")
    if path.is_dir():
        raise InputImageError(f"{path}: is a folder, not an image file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputImageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _from_array(array: np.ndarray) -> Image.Image:
    """A PIL image of a numpy array (gray, RGB or RGBA, 8-bit; or 16-bit gray)."""
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if not shape_ok or array.dtype not in (np.uint8, np.uint16) or (array.dtype == np.uint16 and array.ndim != 2):
        raise InputImageError(
            f"<array>: a {array.dtype} array of shape {array.shape} is not an image "
            "(use HxW, HxWx3 or HxWx4 uint8, or HxW uint16)"
        )
    return Image.fromarray(np.ascontiguousarray(array))


def _frame_count(image: Image.Image) -> int:
    """Frames or pages of an opened file; a later page Pillow cannot parse still counts as one."""
    try:
        return int(getattr(image, "n_frames", 1) or 1)
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError):
        return 2  # there is something after the first page, and flattening would drop it
    finally:
        image.seek(0)


def _from_pil(image: Image.Image, fmt: str | None = None) -> LoadedImage:
    fmt = fmt or image.format or "PNG"
    if fmt == "MPO":
        fmt = "JPEG"
    info = image.info
    exif = info.get("exif") or (_tiff_exif(image) if fmt == "TIFF" else None)
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    quality = estimate_jpeg_quality(image) if fmt == "JPEG" else None
    compression = info.get("compression")
    return LoadedImage(
        image=image,
        format=fmt if fmt in SUPPORTED_FORMATS else "PNG",
        exif=exif or None,
        icc_profile=info.get("icc_profile") or None,
        xmp=xmp or None,
        jpeg_quality=quality,
        compression=compression if isinstance(compression, str) and compression != "raw" else None,
    )


# Annex K luminance table of the JPEG standard; IJG quality q scales it.
_STD_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """Estimate the IJG quality (1-100) a JPEG was saved with from its luminance table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    # Tables are stored in zig-zag order by some encoders: compare sorted values.
    luma = np.sort(np.asarray(list(tables[0]), dtype=np.float64))
    if luma.size != len(_STD_LUMA):
        return None
    errors = np.abs(_sorted_ijg_tables() - luma).sum(axis=1)
    return int(np.argmin(errors)) + 1  # the lowest quality among equally close ones


@functools.lru_cache(maxsize=1)
def _sorted_ijg_tables() -> np.ndarray:
    """Row q-1: the sorted luminance table IJG writes at quality q."""
    q = np.arange(1, 101, dtype=np.float64)[:, None]
    scale = np.where(q < 50, 5000 / q, 200 - 2 * q)
    return np.sort(np.clip(np.floor((np.asarray(_STD_LUMA, dtype=np.float64) * scale + 50) / 100), 1, 255), axis=1)


#: TIFF IFD0 tags that describe the pixel layout or are written by their own writers (ICC, XMP,
#: the C2PA manifest): not metadata to carry over, since the encoder writes its own.
_TIFF_STRUCTURE = frozenset(
    {256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 338, 339, 347, 530, 700, 34675, 0xCD41}
)


def _tiff_exif(image: Image.Image) -> bytes | None:
    """A TIFF's descriptive IFD0 tags (and its EXIF IFD) as an EXIF block, so a re-save keeps them."""
    try:
        exif = image.getexif()
        for tag in _TIFF_STRUCTURE & set(exif):
            del exif[tag]
        return exif.tobytes() if len(exif) else None
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        return None
