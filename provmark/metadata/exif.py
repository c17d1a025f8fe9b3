"""EXIF disclosure: ImageDescription, Software, Artist and UserComment, merged into existing EXIF.

The block is written so that ``exiftool -validate`` finds nothing wrong with what provmark adds:
EXIF 2.32 types, UTF-16 in the file's byte order, and the tags EXIF requires.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass

from PIL import Image

from provmark.metadata.disclosure import Disclosure
from provmark.metadata.exif_block import BYTE, HEADER, ExifBlock
from provmark.metadata.vocab import source_type_uri
from provmark.metadata.xmp import describe

IMAGE_DESCRIPTION = 0x010E
SOFTWARE = 0x0131
ARTIST = 0x013B
XMP_TAG = 0x02BC
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT, YCBCR_POSITIONING = 0x011A, 0x011B, 0x0128, 0x0213
EXIF_IFD = 0x8769
EXIF_VERSION, FLASHPIX_VERSION, COLOR_SPACE = 0x9000, 0xA000, 0xA001
PIXEL_X_DIMENSION, PIXEL_Y_DIMENSION, COMPONENTS_CONFIGURATION = 0xA002, 0xA003, 0x9101
USER_COMMENT = 0x9286
#: EXIF-IFD tags of type UNDEFINED (EXIF 2.32): versions, layouts, comments, maker notes, sources.
UNDEFINED_TAGS = frozenset({0x9000, 0x9101, 0x927C, 0x9286, 0xA000, 0xA300, 0xA301, 0xA302})

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
        f"DigitalSourceType={source_type_uri(disclosure.source_type_term)}; "
        f"TrainingMining={disclosure.training_mining}; Generator={disclosure.generator}"
    )


def _ascii(text: str) -> str:
    """EXIF ASCII fields hold 7-bit text: drop accents, replace what still does not fit."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return plain.encode("ascii", "replace").decode("ascii")


def build_exif(
    original: bytes | None,
    disclosure: Disclosure,
    xmp: bytes | None = None,
    *,
    size: tuple[int, int] | None = None,
    jpeg: bool = False,
    tiff: bool = False,
    png: bool = False,
    dpi: tuple[float, float] | None = None,
) -> bytes:
    """Return EXIF bytes: ``original`` (if any) with the disclosure tags set.

    Existing entries are kept as they are (:class:`ExifBlock`); new ones get the types EXIF 2.32
    gives them (UserComment is UNDEFINED with a character-code prefix, its UTF-16 text in the
    byte order of the file it ends up in: little-endian for the ``tiff`` files Pillow writes),
    and the tags EXIF requires are added where missing:
    resolution, ExifVersion, FlashpixVersion, ColorSpace, the pixel size (not in a TIFF, which
    has its own), and for a ``jpeg`` its YCbCr layout. ``xmp`` goes into IFD0 tag 700, which
    is where TIFF files keep their XMP packet. In a ``png`` the first IFD starts at offset 10,
    not 8: exiftool takes an IFD at 8 in an eXIf chunk for the C2PA JUMBF box at the same
    relative offset and reports a loop.
    """
    block = ExifBlock.parse(original)
    block.set_ascii("0th", IMAGE_DESCRIPTION, _ascii(describe(disclosure)))
    block.set_ascii("0th", SOFTWARE, _ascii(disclosure.generator))
    if disclosure.creator:
        block.set_ascii("0th", ARTIST, _ascii(disclosure.creator))
    if xmp is not None:
        block.set_bytes("0th", XMP_TAG, xmp, kind=BYTE)
    x_dpi, y_dpi = dpi or (72, 72)
    for tag, value in ((X_RESOLUTION, x_dpi), (Y_RESOLUTION, y_dpi)):
        if not block.has("0th", tag):
            block.set_rational("0th", tag, float(value or 72))
    if not block.has("0th", RESOLUTION_UNIT):
        block.set_short("0th", RESOLUTION_UNIT, 2)  # inches
    for tag, version in ((EXIF_VERSION, b"0232"), (FLASHPIX_VERSION, b"0100")):
        if not block.has("exif", tag):
            block.set_bytes("exif", tag, version)
    if not block.has("exif", COLOR_SPACE):
        block.set_short("exif", COLOR_SPACE, 1)  # sRGB
    if size is not None and not tiff:
        block.set_long("exif", PIXEL_X_DIMENSION, size[0])
        block.set_long("exif", PIXEL_Y_DIMENSION, size[1])
    if jpeg:
        if not block.has("0th", YCBCR_POSITIONING):
            block.set_short("0th", YCBCR_POSITIONING, 1)  # centred
        if not block.has("exif", COMPONENTS_CONFIGURATION):
            block.set_bytes("exif", COMPONENTS_CONFIGURATION, b"\x01\x02\x03\x00")  # Y Cb Cr
    utf16 = "utf-16-le" if tiff or block.order == "<" else "utf-16-be"
    block.set_bytes("exif", USER_COMMENT, _UNICODE_PREFIX + user_comment_text(disclosure).encode(utf16))
    return block.tobytes(first_ifd_at=10 if png else 8)


def fix_undefined_types(data: bytes) -> bytes:
    """Give EXIF-IFD tags whose EXIF type is UNDEFINED that type where they were written as BYTE.

    Pillow writes a bytes value of a tag it has no type for as BYTE (int8u); both types hold
    one byte per count, so only the type field changes. ``data`` is an EXIF block (with or
    without its ``Exif\\0\\0`` header) or a whole TIFF file.
    """
    start = len(HEADER) if data.startswith(HEADER) else 0
    order = {b"II": "<", b"MM": ">"}.get(data[start : start + 2])
    if order is None or len(data) < start + 8:
        return data
    fixed = bytearray(data)
    pointer = _find_entry(fixed, start, order, struct.unpack_from(order + "I", fixed, start + 4)[0], EXIF_IFD)
    if pointer is None:
        return data
    offset = struct.unpack_from(order + "I", fixed, pointer + 8)[0]
    for tag in UNDEFINED_TAGS:
        entry = _find_entry(fixed, start, order, offset, tag)
        if entry is not None and struct.unpack_from(order + "H", fixed, entry + 2)[0] == 1:
            struct.pack_into(order + "H", fixed, entry + 2, 7)
    return bytes(fixed)


def _find_entry(tiff: bytearray, start: int, order: str, offset: int, wanted: int) -> int | None:
    """Position of the entry for tag ``wanted`` in the IFD at ``offset`` (from ``start``), if any."""
    pos = start + offset
    if pos + 2 > len(tiff):
        return None
    for i in range(struct.unpack_from(order + "H", tiff, pos)[0]):
        entry = pos + 2 + 12 * i
        if entry + 12 > len(tiff):
            return None
        if struct.unpack_from(order + "H", tiff, entry)[0] == wanted:
            return entry
    return None


def _utf16(exif: Image.Exif) -> str:
    """UNICODE UserComment text follows the byte order of the EXIF block."""
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
