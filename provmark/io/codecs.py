"""Image codecs provmark reads and writes, the C2PA media type of each, and format sniffing.

Pillow decodes and encodes JPEG, PNG, WebP, TIFF, BMP, GIF and AVIF itself; HEIC/HEIF comes
from the pillow-heif plugin and JPEG XL from pillow-jxl-plugin (both are dependencies; a
format whose plugin is missing is reported as unsupported, with the package to install).
"""

from __future__ import annotations

import struct
import zlib

from PIL import features

#: Plugins that add a format to Pillow: format -> (module, PyPI package).
_PLUGINS = {"HEIF": ("pillow_heif", "pillow-heif"), "JXL": ("pillow_jxl", "pillow-jxl-plugin")}


def _register_plugins() -> dict[str, str]:
    missing = {}
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        missing["HEIF"] = _PLUGINS["HEIF"][1]
    try:
        import pillow_jxl  # noqa: F401  (importing registers the JXL codec)
    except ImportError:
        missing["JXL"] = _PLUGINS["JXL"][1]
    if not features.check("avif"):
        missing["AVIF"] = "pillow>=11.3 (built with AVIF)"
    return missing


#: Formats whose codec is missing here, with what to install.
MISSING_CODECS = _register_plugins()

#: MIME types of the formats provmark reads and writes (C2PA names HEIC and HEIF image/heif alike).
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "JXL": "image/jxl",
}

#: Formats provmark reads and writes here.
SUPPORTED_FORMATS = tuple(fmt for fmt in MIME_TYPES if fmt not in MISSING_CODECS)

#: Formats whose files carry EXIF, XMP and ICC through provmark's encoder.
METADATA_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "AVIF", "HEIF", "JXL")

#: Formats c2pa-python reads manifests from but no raster codec here writes.
C2PA_ONLY = {"image/svg+xml": "SVG", "image/x-adobe-dng": "DNG", "image/x-sony-arw": "ARW", "image/x-nikon-nef": "NEF"}


def unsupported_format_message(fmt: str) -> str:
    """One line for a format provmark cannot decode or write."""
    if fmt in MISSING_CODECS:
        return f"{fmt} needs a codec that is not installed here ({MISSING_CODECS[fmt]})"
    return f"unsupported image format {fmt or 'unknown'} (supported: {', '.join(SUPPORTED_FORMATS)})"


def sniff_c2pa_mime(data: bytes) -> str | None:
    """The media type c2pa-python reads ``data`` as, from its first bytes (None: not one it reads)."""
    head = data[:64]
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "image/jxl"
    if head[4:8] == b"ftyp":
        brands = {head[i : i + 4] for i in range(8, min(len(head), struct.unpack(">I", head[:4])[0]), 4)}
        if brands & {b"avif", b"avis"}:
            return "image/avif"
        if brands & {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}:
            return "image/heif"
    text = data[:2048].lstrip().lower()
    if text.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in text:
        return "image/svg+xml"
    return None


def repair_png(data: bytes) -> tuple[bytes, str] | None:
    """``data`` without the ancillary PNG chunks whose checksum fails, and what was dropped.

    A one-byte change in a metadata chunk (a C2PA ``caBX`` chunk, say) makes Pillow refuse the
    whole file; the pixels are still good, and a verifier must still see them. None when
    ``data`` is not a PNG or no ancillary chunk is broken.
    """
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    out, pos, dropped = [data[:8]], 8, []
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind, end = data[pos + 4 : pos + 8], pos + 12 + length
        if end > len(data):
            break
        body, crc = data[pos + 4 : pos + 8 + length], struct.unpack(">I", data[end - 4 : end])[0]
        ancillary = bool(kind[:1]) and kind[:1].islower()
        if ancillary and zlib.crc32(body) & 0xFFFFFFFF != crc:
            dropped.append(kind.decode("latin-1"))
        else:
            out.append(data[pos:end])
        pos = end
    if not dropped:
        return None
    return b"".join(out) + data[pos:], f"dropped PNG chunk(s) with a bad checksum: {', '.join(dropped)}"


def jxl_xmp(data: bytes) -> bytes | None:
    """The XMP packet of a JPEG XL container (its ``xml `` box), which the JXL plugin does not read."""
    if not data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return None
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I", data[pos : pos + 4])[0], data[pos + 4 : pos + 8]
        header = 8
        if size == 1 and pos + 16 <= len(data):  # 64-bit size
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:  # to the end of the file
            size = len(data) - pos
        if size < header:
            return None
        if kind == b"xml ":
            return data[pos + header : pos + size] or None
        pos += size
    return None
