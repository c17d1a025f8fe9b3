"""Replace the EXIF and XMP segments of a JPEG without touching its compressed pixels.

Used when signing changes no pixels (no caption, no watermark): re-encoding would cost
quality for nothing.
"""

from __future__ import annotations

import struct

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
#: Largest payload of one marker segment (the 2 length bytes count themselves).
MAX_SEGMENT = 0xFFFF - 2

_SOS, _APP0, _APP1, _APP11 = 0xDA, 0xE0, 0xE1, 0xEB
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT:
        raise ValueError(f"JPEG segment too large ({len(payload)} bytes)")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def replace_jpeg_metadata(jpeg: bytes, exif: bytes | None, xmp: bytes | None) -> bytes:
    """Return ``jpeg`` with its EXIF and XMP APP1 segments replaced by ``exif`` and ``xmp``.

    ``exif`` may start with the ``Exif\\0\\0`` header or not. An old C2PA manifest store
    (APP11 JUMBF) is dropped: signing writes the new one, with the old one as its parent.
    Other segments and the scan data are copied unchanged. Raises ValueError when ``jpeg``
    is not a well-formed JPEG stream.
    """
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    head, pos = [jpeg[:2]], 2
    while True:
        if pos + 4 > len(jpeg) or jpeg[pos] != 0xFF:
            raise ValueError("malformed JPEG marker structure")
        marker = jpeg[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            head.append(jpeg[pos : pos + 2])
            pos += 2
            continue
        length = struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        segment = jpeg[pos : pos + 2 + length]
        if marker == _SOS:
            break
        payload = segment[4:]
        replaced = marker == _APP1 and payload.startswith((EXIF_HEADER, XMP_HEADER))
        old_c2pa = marker == _APP11 and payload.startswith(b"JP")
        if not (replaced or old_c2pa):
            head.append(segment)
        pos += 2 + length
    new = []
    if exif:
        new.append(_segment(_APP1, exif if exif.startswith(EXIF_HEADER) else EXIF_HEADER + exif))
    if xmp:
        new.append(_segment(_APP1, XMP_HEADER + xmp))
    # New segments go right after SOI and a JFIF APP0, where readers look for them.
    at = 2 if len(head) > 1 and head[1][1] == _APP0 else 1
    return b"".join(head[:at] + new + head[at:]) + jpeg[pos:]
