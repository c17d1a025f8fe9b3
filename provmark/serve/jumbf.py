"""Just enough JUMBF (ISO/IEC 19566-5) to cut a C2PA manifest store down to its active manifest.

A manifest store is a JUMBF superbox (``jumb``) whose description box (``jumd``) has the
``c2pa`` type; its other children are manifest superboxes, the last one active. The
resolution API's ``returnActiveManifest=true`` answers a store that keeps only that one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: JUMBF type of a C2PA manifest store (the ``c2pa`` UUID).
STORE_TYPE = bytes.fromhex("6332706100110010800000aa00389b71")
#: JUMBF types of a standard and an update manifest (``c2ma``, ``c2um``).
MANIFEST_TYPES = (bytes.fromhex("63326d6100110010800000aa00389b71"), bytes.fromhex("6332756d00110010800000aa00389b71"))


class JumbfError(ValueError):
    """Bytes that are not the JUMBF box structure expected."""


@dataclass(frozen=True)
class Box:
    """One box: its type, its payload, and its bytes as found (header included)."""

    kind: bytes
    payload: bytes
    raw: bytes


def read_boxes(data: bytes) -> list[Box]:
    """The boxes laid end to end in ``data``."""
    boxes, at = [], 0
    while at < len(data):
        if len(data) - at < 8:
            raise JumbfError(f"truncated box header at byte {at}")
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if len(data) - at < 16:
                raise JumbfError(f"truncated box header at byte {at}")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = len(data) - at
        if size < header or at + size > len(data):
            raise JumbfError(f"box {kind!r} at byte {at} claims {size} bytes, {len(data) - at} remain")
        boxes.append(Box(kind, data[at + header : at + size], data[at : at + size]))
        at += size
    return boxes


def superbox_type(box: Box) -> bytes:
    """The 16-byte type UUID of a ``jumb`` superbox (from its description box)."""
    if box.kind != b"jumb":
        raise JumbfError(f"expected a jumb superbox, found {box.kind!r}")
    children = read_boxes(box.payload)
    if not children or children[0].kind != b"jumd" or len(children[0].payload) < 17:
        raise JumbfError("a jumb superbox without its description box")
    return children[0].payload[:16]


def active_manifest_store(store: bytes) -> bytes:
    """``store`` (a C2PA manifest store) with its active manifest only: the last manifest box."""
    top = read_boxes(store)
    if len(top) != 1 or superbox_type(top[0]) != STORE_TYPE:
        raise JumbfError("not a C2PA manifest store (one jumb superbox of type c2pa)")
    description, *children = read_boxes(top[0].payload)
    manifests = [child for child in children if child.kind == b"jumb" and superbox_type(child) in MANIFEST_TYPES]
    if not manifests:
        raise JumbfError("the manifest store holds no manifest")
    payload = description.raw + manifests[-1].raw
    return struct.pack(">I4s", 8 + len(payload), b"jumb") + payload
