"""Attribution: only this registry's concept codes count; exit codes; JSON and table output."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from provmark.api import attribute
from provmark.cli.main import main
from provmark.concepts.layout import candidate_regions, regions
from provmark.concepts.marker import embed_regions
from provmark.concepts.registry import ConceptSpec, Registry
from provmark.detect.attribution import attribute_image
from provmark.watermark.marking import decode_watermark


def _mark(src: Path, out: Path, payload: bytes, key: bytes) -> Path:
    image = Image.open(src).convert("RGB")
    embed_regions(image, [(regions("full", *image.size)[0], payload)], key, 1.0).save(out)
    return out


def test_only_this_registrys_codes_are_attributed(tmp_path: Path, photo_paths: list[Path]) -> None:
    with Registry.create(tmp_path / "a.db") as a, Registry.create(tmp_path / "b.db") as b:
        a.add([ConceptSpec("alice", "Alice A.", "CC-BY")])
        b.add([ConceptSpec("alice"), ConceptSpec("bob")])
        ours = _mark(photo_paths[0], tmp_path / "ours.png", a.payload(a.require("alice")), a.watermark_key)
        # A valid watermark under A's key whose payload is not a concept code: detected, not attributed.
        stray = _mark(photo_paths[1], tmp_path / "stray.png", os.urandom(8), a.watermark_key)
        assert decode_watermark(Image.open(stray), a.watermark_key).detected

        report = attribute(ours, a)
        assert [(h.name, h.region, h.owner, h.licence) for h in report.concepts] == [
            ("alice", "full", "Alice A.", "CC-BY")]  # fmt: skip
        hit = report.concepts[0]
        assert 0.75 <= hit.confidence <= 1 and 0 <= hit.p_value <= 1e-6 * report.regions_tried
        assert report.regions_tried == len(candidate_regions(*Image.open(ours).size)) >= 10
        assert attribute(ours, b).concepts == []
        assert attribute(stray, a).concepts == []
        assert attribute_image(Image.open(photo_paths[2]), a)[0] == []


def test_cli_exit_codes_and_outputs(tmp_path: Path, photo_paths: list[Path]) -> None:
    reg = tmp_path / "r.db"
    with Registry.create(reg) as registry:
        registry.add([ConceptSpec("alice")])
        payload, key = registry.payload(registry.require("alice")), registry.watermark_key
    folder = tmp_path / "marked"
    folder.mkdir()
    marked = [_mark(p, folder / f"{p.stem}.png", payload, key) for p in photo_paths[:2]]
    runner = CliRunner()
    base = ["attribute", "--registry", str(reg)]

    result = runner.invoke(main, [*base, "--json", str(folder)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["path"] for line in lines) == sorted(map(str, marked))
    assert all([c["name"] for c in line["concepts"]] == ["alice"] for line in lines)

    result = runner.invoke(main, [*base, str(marked[0]), str(photo_paths[3])])
    assert result.exit_code == 3
    table = result.stdout.splitlines()
    assert table[1].startswith(str(marked[0])) and "alice (full, " in table[1]
    assert table[2] == f"{photo_paths[3]}  -"

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (100, 100), "white").save(tiny)
    result = runner.invoke(main, [*base, "--json", str(marked[0]), str(broken), str(tiny)])
    assert result.exit_code == 1
    errors = [json.loads(line).get("error") for line in result.stdout.splitlines()]
    assert errors[0] is None and "not an image" in errors[1] and "too small" in errors[2]
