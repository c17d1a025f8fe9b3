"""XMP disclosure: IPTC digital source type, PLUS data mining, Dublin Core, IPTC 2025.1 AI fields.

:func:`build_xmp` writes a packet; :func:`read_xmp_disclosure` reads the same fields back from
any XMP packet (attribute or element form, as other tools write them).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass

from provmark.metadata.disclosure import Disclosure
from provmark.metadata.vocab import GENERATED_TYPES, PLUS_DATA_MINING, source_type_uri

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


@dataclass
class XmpDisclosure:
    """Disclosure fields found in an XMP packet (None when absent)."""

    digital_source_type: str | None = None
    data_mining: str | None = None
    creator: list[str] | None = None
    creator_tool: str | None = None
    title: str | None = None
    description: str | None = None
    ai_system: str | None = None
    ai_system_version: str | None = None
    ai_prompt: str | None = None


def describe(disclosure: Disclosure) -> str:
    """One sentence a person can read: what made the image and how."""
    kind = "AI-generated" if disclosure.source_type_term in GENERATED_TYPES else disclosure.source_type_term
    return f"{kind} image made with {disclosure.generator}"


def build_xmp(disclosure: Disclosure, title: str | None = None) -> bytes:
    """Return an XMP packet (UTF-8) stating ``disclosure``."""
    root = ET.Element(_q("x", "xmpmeta"))
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    desc = ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    attrs = {
        _q("Iptc4xmpExt", "DigitalSourceType"): source_type_uri(disclosure.source_type_term),
        _q("plus", "DataMining"): PLUS_DATA_MINING[disclosure.training_mining],
        _q("xmp", "CreatorTool"): disclosure.generator,
        _q("Iptc4xmpExt", "AISystemUsed"): disclosure.generator_name,
    }
    if disclosure.generator_version:
        attrs[_q("Iptc4xmpExt", "AISystemVersionUsed")] = disclosure.generator_version
    if disclosure.prompt:
        attrs[_q("Iptc4xmpExt", "AIPromptInformation")] = disclosure.prompt
    for key, value in attrs.items():
        desc.set(key, value)
    if disclosure.creator:
        _container(desc, "dc", "creator", "Seq", [disclosure.creator])
    if title or disclosure.title:
        _container(desc, "dc", "title", "Alt", [title or disclosure.title or ""])
    _container(desc, "dc", "description", "Alt", [describe(disclosure)])
    body = ET.tostring(root, encoding="unicode")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' + body + '<?xpacket end="w"?>'
    ).encode("utf-8")


def _container(parent: ET.Element, prefix: str, name: str, kind: str, values: list[str]) -> None:
    holder = ET.SubElement(ET.SubElement(parent, _q(prefix, name)), _q("rdf", kind))
    for value in values:
        li = ET.SubElement(holder, _q("rdf", "li"))
        if kind == "Alt":
            li.set(XML_LANG, "x-default")
        li.text = value


def read_xmp_disclosure(packet: bytes | str | None) -> XmpDisclosure | None:
    """Parse the disclosure fields of an XMP packet; None when there is no packet or it is not XML."""
    if not packet:
        return None
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        start, end = text.find("<rdf:RDF"), text.rfind("</rdf:RDF>")
        if start < 0 or end < 0:
            return None
        text = f'<x:xmpmeta xmlns:x="{NS["x"]}">' + text[start : end + len("</rdf:RDF>")] + "</x:xmpmeta>"
    else:
        text = text[start : end + len("</x:xmpmeta>")]
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    found = XmpDisclosure()
    for desc in root.iter(_q("rdf", "Description")):
        found.digital_source_type = found.digital_source_type or _simple(desc, "Iptc4xmpExt", "DigitalSourceType")
        found.data_mining = found.data_mining or _simple(desc, "plus", "DataMining")
        found.creator_tool = found.creator_tool or _simple(desc, "xmp", "CreatorTool")
        found.ai_system = found.ai_system or _simple(desc, "Iptc4xmpExt", "AISystemUsed")
        found.ai_system_version = found.ai_system_version or _simple(desc, "Iptc4xmpExt", "AISystemVersionUsed")
        found.ai_prompt = found.ai_prompt or _simple(desc, "Iptc4xmpExt", "AIPromptInformation")
        found.creator = found.creator or _items(desc, "dc", "creator")
        found.title = found.title or next(iter(_items(desc, "dc", "title") or []), None)
        found.description = found.description or next(iter(_items(desc, "dc", "description") or []), None)
    return found


def _simple(desc: ET.Element, prefix: str, name: str) -> str | None:
    value = desc.get(_q(prefix, name))
    if value is None:
        child = desc.find(_q(prefix, name))
        if child is not None:
            value = child.get(_q("rdf", "resource")) or (child.text or "").strip() or None
    return value


def _items(desc: ET.Element, prefix: str, name: str) -> list[str] | None:
    prop = desc.find(_q(prefix, name))
    if prop is None:
        return None
    values = [(li.text or "").strip() for li in prop.iter(_q("rdf", "li"))]
    return values or ([prop.text.strip()] if prop.text and prop.text.strip() else None)


def png_with_xmp(png: bytes, packet: bytes) -> bytes:
    """Insert ``packet`` as an iTXt ``XML:com.adobe.xmp`` chunk before the image data (Pillow cannot)."""
    at = png.find(b"IDAT") - 4
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or at < 8:
        raise ValueError("not a PNG stream")
    # keyword, null, compression flag 0, method 0, empty language tag, empty translated keyword
    body = b"iTXt" + b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return png[:at] + chunk + png[at:]
