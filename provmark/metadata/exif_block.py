"""A small EXIF block reader and writer that keeps every entry as it was found.

Pillow re-types the tags it copies (a signed rational becomes unsigned, a LONG a SHORT, an
UNDEFINED comment int8u), which ``exiftool -validate`` rightly reports. Here an existing entry
keeps its type, count and value bytes, in the block's own byte order; only the entries provmark
sets are new, with the types EXIF 2.32 gives them. IFD0, the EXIF, GPS and interoperability IFDs
and IFD1 with its thumbnail are kept; offsets are recomputed and values word-aligned.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = b"Exif\x00\x00"
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 7
#: Bytes per value of each TIFF type.
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
#: Pointer tags: where each sub-IFD hangs (IFD name -> (parent IFD, tag)).
POINTERS = {"exif": ("0th", 0x8769), "gps": ("0th", 0x8825), "interop": ("exif", 0xA005)}
THUMB_OFFSET, THUMB_LENGTH = 0x0201, 0x0202
IFD_NAMES = ("0th", "exif", "interop", "gps", "1st")


@dataclass
class Entry:
    """One IFD entry: its TIFF type, value count, and value bytes in the block's byte order."""

    type: int
    count: int
    value: bytes


@dataclass
class ExifBlock:
    """The IFDs of an EXIF block, by name (0th, exif, gps, interop, 1st), and its thumbnail."""

    order: str = ">"
    ifds: dict[str, dict[int, Entry]] = field(default_factory=lambda: {name: {} for name in IFD_NAMES})
    thumbnail: bytes | None = None

    @classmethod
    def parse(cls, data: bytes | None, order: str = ">") -> ExifBlock:
        """Read ``data`` (with or without the ``Exif\\0\\0`` header); an empty block if it is unreadable."""
        if not data:
            return cls(order=order)
        tiff = data[len(HEADER) :] if data.startswith(HEADER) else data
        found = {b"II": "<", b"MM": ">"}.get(tiff[:2])
        if found is None or len(tiff) < 8:
            return cls(order=order)
        block = cls(order=found)
        try:
            first = block._unpack("I", tiff, 4)
            next_ifd = block._read_ifd(tiff, first, "0th")
            for name, (parent, tag) in POINTERS.items():
                pointer = block.ifds[parent].pop(tag, None)
                if pointer is not None and pointer.count == 1 and pointer.type in (LONG, 13):
                    block._read_ifd(tiff, block._unpack("I", pointer.value, 0), name)
            if next_ifd:
                block._read_ifd(tiff, next_ifd, "1st")
                block._take_thumbnail(tiff)
        except (struct.error, ValueError, IndexError):
            return cls(order=order)
        return block

    def _unpack(self, fmt: str, data: bytes, pos: int) -> int:
        return struct.unpack_from(self.order + fmt, data, pos)[0]

    def _read_ifd(self, tiff: bytes, offset: int, name: str) -> int:
        if not 8 <= offset <= len(tiff) - 2:
            raise ValueError("IFD offset out of range")
        entries = self.ifds[name]
        for i in range(self._unpack("H", tiff, offset)):
            pos = offset + 2 + 12 * i
            tag, kind, count = struct.unpack_from(self.order + "HHI", tiff, pos)
            size = TYPE_SIZES.get(kind, 0) * count
            if not size:
                continue  # unknown type: cannot be copied safely
            where = pos + 8 if size <= 4 else self._unpack("I", tiff, pos + 8)
            if where + size > len(tiff):
                continue  # points outside the block: dropped rather than copied as garbage
            entries[tag] = Entry(kind, count, tiff[where : where + size])
        end = offset + 2 + 12 * self._unpack("H", tiff, offset)
        return self._unpack("I", tiff, end) if end + 4 <= len(tiff) else 0

    def _take_thumbnail(self, tiff: bytes) -> None:
        first = self.ifds["1st"]
        start, length = first.pop(THUMB_OFFSET, None), first.pop(THUMB_LENGTH, None)
        if start is not None and length is not None:
            begin = self._unpack("I", start.value, 0)
            end = begin + self._unpack("I", length.value, 0)
            self.thumbnail = tiff[begin:end] if end <= len(tiff) else None

    # --- setting values ---------------------------------------------------------------------

    def set_ascii(self, ifd: str, tag: int, text: str) -> None:
        """An ASCII entry (7-bit text, NUL-terminated)."""
        value = text.encode("ascii", "replace") + b"\0"
        self.ifds[ifd][tag] = Entry(ASCII, len(value), value)

    def set_bytes(self, ifd: str, tag: int, value: bytes, kind: int = UNDEFINED) -> None:
        """An UNDEFINED (or BYTE) entry."""
        self.ifds[ifd][tag] = Entry(kind, len(value), value)

    def set_short(self, ifd: str, tag: int, value: int) -> None:
        self.ifds[ifd][tag] = Entry(SHORT, 1, struct.pack(self.order + "H", value))

    def set_long(self, ifd: str, tag: int, value: int) -> None:
        self.ifds[ifd][tag] = Entry(LONG, 1, struct.pack(self.order + "I", value))

    def set_rational(self, ifd: str, tag: int, value: float) -> None:
        self.ifds[ifd][tag] = Entry(RATIONAL, 1, struct.pack(self.order + "II", round(value * 100), 100))

    def has(self, ifd: str, tag: int) -> bool:
        return tag in self.ifds[ifd]

    # --- writing ----------------------------------------------------------------------------

    def tobytes(self, first_ifd_at: int = 8) -> bytes:
        """The block with its ``Exif\\0\\0`` header: IFD0 (at ``first_ifd_at``), EXIF, interop, GPS, IFD1, thumbnail."""
        present = [name for name in IFD_NAMES if self.ifds[name] or (name == "1st" and self.thumbnail)]
        if "interop" in present and "exif" not in present:
            present.insert(1, "exif")
        sizes = {name: self._ifd_size(name, present) for name in present}
        offsets, pos = {}, first_ifd_at
        for name in present:
            offsets[name] = pos
            pos += sizes[name]
        thumb_at = pos
        out = bytearray(b"II*\x00" if self.order == "<" else b"MM\x00*")
        out += struct.pack(self.order + "I", first_ifd_at) + b"\0" * (first_ifd_at - 8)
        for name in present:
            out += self._ifd_bytes(name, offsets, present, thumb_at)
        if self.thumbnail and "1st" in present:
            out += self.thumbnail
        return HEADER + bytes(out)

    def _entries(self, name: str, offsets: dict[str, int], present: list[str], thumb_at: int) -> dict[int, Entry]:
        entries = dict(self.ifds[name])
        for child, (parent, tag) in POINTERS.items():
            if parent == name and child in present:
                entries[tag] = Entry(LONG, 1, struct.pack(self.order + "I", offsets.get(child, 0)))
        if name == "1st" and self.thumbnail:
            entries[THUMB_OFFSET] = Entry(LONG, 1, struct.pack(self.order + "I", thumb_at))
            entries[THUMB_LENGTH] = Entry(LONG, 1, struct.pack(self.order + "I", len(self.thumbnail)))
        return entries

    def _ifd_size(self, name: str, present: list[str]) -> int:
        entries = self._entries(name, {}, present, 0)
        data = sum(len(e.value) + len(e.value) % 2 for e in entries.values() if len(e.value) > 4)
        return 2 + 12 * len(entries) + 4 + data

    def _ifd_bytes(self, name: str, offsets: dict[str, int], present: list[str], thumb_at: int) -> bytes:
        entries = self._entries(name, offsets, present, thumb_at)
        start = offsets[name]
        data_at = start + 2 + 12 * len(entries) + 4
        table, data = bytearray(struct.pack(self.order + "H", len(entries))), bytearray()
        for tag in sorted(entries):
            entry = entries[tag]
            table += struct.pack(self.order + "HHI", tag, entry.type, entry.count)
            if len(entry.value) <= 4:
                table += entry.value.ljust(4, b"\0")
            else:
                table += struct.pack(self.order + "I", data_at + len(data))
                data += entry.value + b"\0" * (len(entry.value) % 2)
        next_ifd = offsets["1st"] if name == "0th" and "1st" in present else 0
        return bytes(table + struct.pack(self.order + "I", next_ifd) + data)
