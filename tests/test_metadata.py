"""Disclosure metadata: XMP and EXIF written, read back by provmark and by exiftool."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from provmark.errors import SigningError
from provmark.metadata.disclosure import Disclosure, split_generator
from provmark.metadata.exif import build_exif, read_exif_disclosure
from provmark.metadata.vocab import SOURCE_TYPES, source_type_uri
from provmark.metadata.xmp import build_xmp, png_with_xmp, read_xmp_disclosure

EXIFTOOL = shutil.which("exiftool")


def exiftool(path: Path, *tags: str) -> dict:
    assert EXIFTOOL, "exiftool is required (scripts/setup.sh installs it)"
    out = subprocess.run([EXIFTOOL, "-j", *tags, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def test_every_source_type_has_its_full_iptc_uri() -> None:
    assert len(SOURCE_TYPES) == 17
    for term in SOURCE_TYPES:
        assert source_type_uri(term) == f"http://cv.iptc.org/newscodes/digitalsourcetype/{term}"
    with pytest.raises(SigningError):
        Disclosure(source_type="madeUp")
    with pytest.raises(SigningError):
        Disclosure(training_mining="maybe")


def test_generator_name_and_version() -> None:
    assert split_generator("Stable Diffusion XL 1.0") == ("Stable Diffusion XL", "1.0")
    assert split_generator("Midjourney v6") == ("Midjourney", "v6")
    assert split_generator("In-house model") == ("In-house model", None)


def test_xmp_round_trip_and_exiftool(tmp_path: Path) -> None:
    disclosure = Disclosure(
        generator="Gen & Co <beta> 2.0", source_type="compositeWithTrainedAlgorithmicMedia", creator="Zoë",
        training_mining="allowed", prompt='a "quoted" prompt', title="Title",
    )  # fmt: skip
    packet = build_xmp(disclosure)
    read = read_xmp_disclosure(packet)
    assert read is not None
    assert read.digital_source_type == source_type_uri("compositeWithTrainedAlgorithmicMedia")
    assert read.data_mining == "http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"
    assert read.creator == ["Zoë"] and read.creator_tool == "Gen & Co <beta> 2.0"
    assert read.ai_system == "Gen & Co <beta>" and read.ai_system_version == "2.0"
    assert read.ai_prompt == 'a "quoted" prompt' and read.title == "Title"

    png = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(png, "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(png_with_xmp(png.getvalue(), packet))
    Image.open(path).load()  # still a valid PNG
    tags = exiftool(path, "-XMP:all")
    assert tags["DigitalSourceType"] == source_type_uri("compositeWithTrainedAlgorithmicMedia")
    assert tags["Creator"] == "Zoë"
    assert tags["AIPromptInformation"] == 'a "quoted" prompt'


def test_reads_element_form_xmp_written_by_other_tools() -> None:
    packet = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
          xmlns:dc="http://purl.org/dc/elements/1.1/">
        <Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture</Iptc4xmpExt:DigitalSourceType>
        <dc:creator><rdf:Seq><rdf:li>A</rdf:li><rdf:li>B</rdf:li></rdf:Seq></dc:creator>
      </rdf:Description></rdf:RDF></x:xmpmeta>"""
    read = read_xmp_disclosure(packet.encode())
    assert read is not None
    assert read.digital_source_type.endswith("/digitalCapture") and read.creator == ["A", "B"]
    assert read_xmp_disclosure(b"<x:xmpmeta>broken") is None
    assert read_xmp_disclosure(None) is None


def test_exif_merges_into_existing_block_and_exiftool_reads_it(tmp_path: Path) -> None:
    original = Image.Exif()
    original[0x010F] = "CameraMaker"
    disclosure = Disclosure(generator="Gen 3", creator="Zoë Ørsted")
    raw = build_exif(original.tobytes(), disclosure)
    read = read_exif_disclosure(raw)
    assert read is not None
    assert read.software == "Gen 3" and read.artist == "Zoe ?rsted"
    assert read.user_comment is not None and "trainedAlgorithmicMedia" in read.user_comment
    path = tmp_path / "e.jpg"
    Image.new("RGB", (32, 32)).save(path, exif=raw)
    tags = exiftool(path, "-EXIF:all")
    assert tags["Make"] == "CameraMaker"  # kept
    assert tags["Software"] == "Gen 3"
    assert tags["ImageDescription"].startswith("AI-generated image made with Gen 3")
    assert "DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" in tags["UserComment"]
    assert read_exif_disclosure(b"garbage") is None
