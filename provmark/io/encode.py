"""Write a changed image back like its source: same format, quality, metadata and compression."""

from __future__ import annotations

import io

from PIL import Image

from provmark.errors import InputImageError
from provmark.io.codecs import METADATA_FORMATS
from provmark.io.images import LoadedImage


def ifd0_only(exif: bytes) -> bytes:
    """``exif`` without its nested IFDs (EXIF, GPS), for writers that cannot nest them."""
    block = Image.Exif()
    block.load(exif)
    for pointer in (0x8769, 0x8825, 0xA005):
        block.pop(pointer, None)
    return block.tobytes()


def check_single_frame(loaded: LoadedImage) -> None:
    """Refuse an animation or a multi-page file before its pixels are changed: writing one frame
    would flatten it (signing without pixel changes keeps such a file whole instead)."""
    if loaded.frames > 1:
        raise InputImageError(
            f"{loaded.name}: {loaded.frames} frames (animated or multi-page {loaded.format}): writing changed pixels "
            "would keep only the first frame, so provmark refuses it (provmark sign --no-watermark without --label "
            "signs such a file whole)"
        )


def encode_like(
    image: Image.Image, original: LoadedImage, quality: int | None = None, extra_exif: bytes | None = None
) -> bytes:
    """Encode ``image`` in ``original``'s format, keeping its EXIF, ICC profile and XMP.

    JPEG, WebP, AVIF, HEIF and JPEG XL are written at ``quality``, or else at the source's
    estimated JPEG quality (95 when unknown); PNG, TIFF and BMP stay lossless, TIFF with its
    compression (a 1-bit Group 4 scan stays one). ``extra_exif`` replaces the EXIF block.
    An animation or multi-page file is refused: writing one frame would flatten it.
    """
    fmt = original.format
    check_single_frame(original)
    params: dict[str, object] = {}
    exif = extra_exif if extra_exif is not None else original.exif
    if exif and fmt in METADATA_FORMATS:
        params["exif"] = exif
    if original.icc_profile and fmt in METADATA_FORMATS:
        params["icc_profile"] = original.icc_profile
    if original.xmp and fmt in METADATA_FORMATS:
        params["xmp"] = original.xmp
    if fmt == "TIFF":
        # Compression is kept (a fax-compressed 1-bit scan written raw is ~5x the size). libtiff
        # writes compressed TIFFs, and cannot write a nested EXIF IFD: only IFD0 tags are kept.
        compression = original.compression or "raw"
        if compression.startswith("group") and image.mode != "1":
            compression = "tiff_lzw"  # fax codings are for bilevel images only
        params["compression"] = compression
        if exif and compression != "raw":
            params["exif"] = ifd0_only(exif)
    if fmt in ("AVIF", "HEIF", "JXL"):
        params["quality"] = quality or original.jpeg_quality or 95
    if fmt == "JXL":
        params["use_container"] = True  # a bare JPEG XL codestream has no room for metadata or a manifest
    if fmt == "JPEG":
        params["quality"] = quality or original.jpeg_quality or 95
        params["subsampling"] = "keep" if image is original.image else 0 if params["quality"] >= 90 else 2
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
    elif fmt == "WEBP":
        params["quality"] = quality or original.jpeg_quality or 95
    elif fmt == "GIF" and image.mode not in ("P", "L"):
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    buf = io.BytesIO()
    try:
        image.save(buf, format=fmt, **params)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputImageError(f"{original.name}: cannot encode as {fmt}: {exc}") from exc
    return buf.getvalue()
