"""Attribution: only this registry's concept codes count; exit codes; JSON and table output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.api import attribute
from provmark.cli.main import main
from provmark.concepts.layout import CHANNEL_WEIGHT, candidate_regions, regions, search_weight
from provmark.concepts.marker import embed_regions, mark_concepts
from provmark.concepts.reading import training_match
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry
from provmark.detect.attribution import READINGS, attribute_image
from provmark.watermark.marking import decode_watermark
from provmark.watermark.regions import regions_logits
from provmark.watermark.training_mark import match_training_codes


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


def _stage_readings(image: Image.Image, reg: Registry, search: bool) -> list[tuple[str, float]]:
    """(region, p-value) of every hit in every region's unaligned reading (or in both readings,
    with ``search``), each bound counting both readings of the region."""
    found = candidate_regions(*image.size)
    book = reg.codebook()
    readings = regions_logits(image, [r.box for r in found], reg.watermark_key, search=search)
    hits = []
    for region, views in zip(found, readings):
        for view in views:
            match = book.match(view, tests=search_weight(region, len(found)) * READINGS)
            if match is not None and match.p_value <= 1e-6:
                hits.append((region.name, match.p_value))
    return hits


def test_staged_reading_keeps_the_bound_and_finds_every_region(tmp_path: Path, photo_paths: list[Path]) -> None:
    with Registry.create(tmp_path / "r.db") as reg:
        fox, owl = reg.add([ConceptSpec("fox"), ConceptSpec("owl")])
        payloads = [reg.payload(fox), reg.payload(owl)]
        key = reg.watermark_key
        photo = Image.open(photo_paths[0]).convert("RGB").resize((768, 512))
        whole, _, _ = mark_concepts(photo, payloads[:1], key)
        hits, tried = attribute_image(whole, reg)
        assert tried == len(candidate_regions(*whole.size)) and [h.name for h in hits] == ["fox"]
        # stage 1 found it: its bound is the unaligned reading's times the full image's weight and both readings
        unaligned = regions_logits(whole, [(0, 0, *whole.size)], key, search=False)[0]
        weight = search_weight(candidate_regions(*whole.size)[0], tried)
        expected = reg.codebook().match(unaligned, tests=weight * READINGS)
        assert hits[0].region == "full" and hits[0].p_value == expected.p_value <= 1e-6
        # one concept per half: the whole image finds neither, the regions find both
        halves, _, _ = mark_concepts(photo, payloads, key, layout="halves")
        hits, _ = attribute_image(halves, reg)
        assert sorted((h.name, h.region) for h in hits) == [("fox", "left"), ("owl", "right")]
        assert {(h.region, h.p_value) for h in hits} <= set(_stage_readings(halves, reg, search=False))
        # an unmarked photo goes through every stage and finds nothing
        assert attribute_image(photo, reg)[0] == [] and _stage_readings(photo, reg, search=True) == []


def test_training_mark_takes_half_the_budget(tmp_path: Path, photo_paths: list[Path]) -> None:
    with Registry.create(tmp_path / "r.db") as reg:
        fox, _ = reg.add([ConceptSpec("fox"), ConceptSpec("owl")])
        photo = Image.open(photo_paths[1]).convert("RGB")
        marked, _, _ = mark_concepts(photo, [reg.payload(fox)], reg.watermark_key, training_mark=2.0)
        plain, tried = attribute_image(marked, reg)
        both, tried_both = attribute_image(marked, reg, training_mark=True)
        assert tried_both == tried + 1
        assert [h.name for h in both] == ["fox"] and both[0].region == "full"
        assert both[0].p_value == pytest.approx(min(1.0, 2 * plain[0].p_value))
        index, agree, p_value = training_match(marked, reg.codebook(), CHANNEL_WEIGHT)
        alone = match_training_codes(marked, reg.watermark_key, [reg.payload(c) for c in reg.concepts()], threshold=1.0)
        assert index == alone.index and 0 <= agree <= 1
        assert p_value == pytest.approx(min(1.0, CHANNEL_WEIGHT * alone.p_value)) and p_value > 1e-6  # one image: never
        assert ("training-mark" in both[0].regions) == (p_value <= 1e-6)


def test_cli_training_mark_flag(tmp_path: Path, photo_paths: list[Path]) -> None:
    reg = tmp_path / "r.db"
    with Registry.create(reg) as registry:
        registry.add([ConceptSpec("fox")])
        payload, key = registry.payload(registry.require("fox")), registry.watermark_key
    marked = _mark(photo_paths[0], tmp_path / "m.png", payload, key)
    base = ["attribute", "--registry", str(reg), "--json", str(marked)]
    plain = json.loads(CliRunner().invoke(main, base).stdout)
    result = CliRunner().invoke(main, [*base, "--training-mark"])
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    assert both["regions_tried"] == plain["regions_tried"] + 1
    assert both["concepts"][0]["p_value"] == pytest.approx(2 * plain["concepts"][0]["p_value"])
