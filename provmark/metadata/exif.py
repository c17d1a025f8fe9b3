"""EXIF disclosure: ImageDescription, Software, Artist and UserComment, merged into existing EXIF."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from PIL import Image

from provmark.metadata.disclosure import Disclosure
from provmark.metadata.vocab import source_type_uri
from provmark.metadata.xmp import describe

IMAGE_DESCRIPTION = 0x010E
SOFTWARE = 0x0131
ARTIST = 0x013B
XMP_TAG = 0x02BC
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286

#: UserComment starts with an 8-byte character code (EXIF 2.32, 4.6.5).
_UNICODE_PREFIX = b"UNICODE\0"
_ASCII_PREFIX = b"ASCII\0\0\0"


@dataclass
class ExifDisclosure:
    """Disclosure fields found in EXIF (None when absent)."""

    image_description: str | None = None
    software: str | None = None
    artist: str | None = None
    user_comment: str | None = None


def user_comment_text(disclosure: Disclosure) -> str:
    """Machine-readable summary stored in UserComment."""
    return (
        f"DigitalSourceType={source_type_uri(disclosure.source_type)}; "
        f"TrainingMining={disclosure.training_mining}; Generator={disclosure.generator}"
    )


def _ascii(text: str) -> str:
    """EXIF ASCII fields hold 7-bit text: drop accents, replace what still does not fit."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return plain.encode("ascii", "replace").decode("ascii")


def build_exif(original: bytes | None, disclosure: Disclosure, xmp: bytes | None = None) -> bytes:
    """Return EXIF bytes: ``original`` (if any) with the disclosure tags set.

    ``xmp`` goes into IFD0 tag 700, which is where TIFF files keep their XMP packet.
    """
    exif = Image.Exif()
    if original:
        exif.load(original)
    exif[IMAGE_DESCRIPTION] = _ascii(describe(disclosure))
    exif[SOFTWARE] = _ascii(disclosure.generator)
    if disclosure.creator:
        exif[ARTIST] = _ascii(disclosure.creator)
    if xmp is not None:
        exif[XMP_TAG] = xmp
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = _UNICODE_PREFIX + user_comment_text(disclosure).encode(_utf16(exif))
    return exif.tobytes()


def _utf16(exif: Image.Exif) -> str:
    """UNICODE UserComment text follows the byte order of the EXIF block (Pillow writes big-endian)."""
    return "utf-16-le" if exif.endian == "<" else "utf-16-be"


def read_exif_disclosure(raw: bytes | None) -> ExifDisclosure | None:
    """Read the disclosure tags from EXIF bytes; None when there is no EXIF or it cannot be parsed."""
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        comment = exif.get_ifd(EXIF_IFD).get(USER_COMMENT)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return None
    return ExifDisclosure(
        image_description=_text(exif.get(IMAGE_DESCRIPTION)),
        software=_text(exif.get(SOFTWARE)),
        artist=_text(exif.get(ARTIST)),
        user_comment=_decode_comment(comment, _utf16(exif)),
    )


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\0 ") or None if isinstance(value, str) else None


def _decode_comment(value: object, utf16: str) -> str | None:
    if isinstance(value, str):
        return value.strip("\0 ") or None
    if not isinstance(value, bytes) or len(value) < 8:
        return None
    head, body = value[:8], value[8:]
    if head == _UNICODE_PREFIX:
        text = body.decode(utf16, "replace")
    else:
        text = body.decode("utf-8" if head == _ASCII_PREFIX else "latin-1", "replace")
    return text.strip("\0 ") or None
