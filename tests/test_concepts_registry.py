"""Concept registry: codes, secret handling, concepts, CSV import, image records, CLI."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from provmark.cli.main import main
from provmark.concepts.codes import MAX_CONCEPTS, concept_index, concept_payload, watermark_key
from provmark.concepts.records import ConceptSpec, ImageRecord
from provmark.concepts.registry import Registry
from provmark.concepts.tables import CsvRowsError, read_concept_csv, read_concept_map
from provmark.errors import RegistryError


def _secret(path: Path) -> bytes:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]


def test_codes_scale_to_65536_concepts_and_reject_foreign_payloads() -> None:
    secret, other = os.urandom(32), os.urandom(32)
    payloads = [concept_payload(secret, i) for i in range(65_536)]
    assert len(set(payloads)) == 65_536 and all(len(p) == 8 for p in payloads)
    assert all(concept_index(secret, p) == i for i, p in enumerate(payloads[:5000]))
    assert concept_index(secret, concept_payload(secret, MAX_CONCEPTS - 1)) == MAX_CONCEPTS - 1
    # Another registry's codes and random payloads map to no concept.
    assert sum(concept_index(secret, concept_payload(other, i)) is not None for i in range(5000)) == 0
    assert sum(concept_index(secret, os.urandom(8)) is not None for _ in range(5000)) == 0
    assert concept_index(secret, None) is None and concept_index(secret, b"short") is None
    assert watermark_key(secret) != secret and len(watermark_key(secret)) == 32
    with pytest.raises(RegistryError, match="out of range"):
        concept_payload(secret, MAX_CONCEPTS)


def test_registry_is_private_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "reg.db"
    with pytest.raises(RegistryError, match="no such registry"):
        Registry.open(path)
    with Registry.open(path, create=True) as reg:
        added = reg.add([ConceptSpec("alice", "Alice A.", "CC-BY", "no-ai"), ConceptSpec("bob")])
        key = reg.watermark_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [c.index for c in added] == [0, 1]
    with Registry.open(path) as reg:
        assert [c.name for c in reg.concepts()] == ["alice", "bob"]
        assert reg.get("ALICE").owner == "Alice A."
        assert reg.watermark_key == key
        assert reg.concept_for_payload(reg.payload(reg.require("bob"))).name == "bob"
    with Registry.create(tmp_path / "other.db") as other:
        other.add([ConceptSpec("alice")])
        assert other.watermark_key != key
        assert other.payload(other.require("alice")) != concept_payload(_secret(path), 0)


def test_duplicates_rejected_and_nothing_half_added(tmp_path: Path) -> None:
    with Registry.create(tmp_path / "r.db") as reg:
        reg.add([ConceptSpec("alice")])
        for names in (["carol", "Alice"], ["dave", "dave"], ["erin", " padded"], ["frank", ""]):
            with pytest.raises(RegistryError):
                reg.add([ConceptSpec(n) for n in names])
        assert [c.name for c in reg.concepts()] == ["alice"]
        with pytest.raises(RegistryError, match="no concept 'zed'"):
            reg.require("zed")


def test_not_a_registry(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 10)
    with pytest.raises(RegistryError, match="not a concept registry"):
        Registry.open(junk)


def test_concept_csv_rows_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("\ufeffName,Owner,License,Training-Terms\nalice,A,CC-BY,no-ai\n\nbob,B,,\n", encoding="utf-8")
    specs = read_concept_csv(good)
    assert specs == [ConceptSpec("alice", "A", "CC-BY", "no-ai"), ConceptSpec("bob", "B", "", "")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,owner\nalice,A\n,B\ncarol,C\nCarol,D\nzoe,Z\n", encoding="utf-8")
    with pytest.raises(CsvRowsError) as info:
        read_concept_csv(bad, is_taken=lambda name: name == "zoe")
    assert info.value.problems == [
        "line 3: a concept name cannot be empty",
        "line 5: duplicate name 'Carol' (also on line 4)",
        "line 6: 'zoe' is already registered",
    ]
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("owner,licence\nA,B\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="no column name"):
        read_concept_csv(nohead)


def test_concept_map(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("path,concept\na/x.jpg,alice\nb\\y.png, alice ; bob \n", encoding="utf-8")
    table = read_concept_map(path)
    assert table.concepts_for("a/x.jpg") == ("alice",)
    assert table.concepts_for("b/y.png") == ("alice", "bob")
    path.write_text("path,concept\n../x.jpg,alice\n/abs.jpg,bob\nok.jpg,\nok2.jpg,a\nok2.jpg,b\n", encoding="utf-8")
    with pytest.raises(CsvRowsError) as info:
        read_concept_map(path)
    assert [p.split(":")[0] for p in info.value.problems] == ["line 2", "line 3", "line 4", "line 6"]


def _record(out: str, sha: str, concepts: dict[str, str]) -> ImageRecord:
    return ImageRecord("/src/" + out, "/dst/" + out, "s" + sha, "o" + sha, 1, 2, 3, 4, "full", concepts)


def test_image_records_one_per_output(tmp_path: Path) -> None:
    with Registry.create(tmp_path / "r.db") as reg:
        reg.add([ConceptSpec("alice"), ConceptSpec("bob")])
        reg.record_image(_record("a.jpg", "1", {"full": "alice"}))
        reg.record_image(_record("b.jpg", "2", {"left": "alice", "right": "bob"}))
        reg.record_image(_record("a.jpg", "3", {"full": "bob"}))  # re-marked: replaces
        assert reg.count_images() == 2
        assert [r.out_path for r in reg.images_of("alice")] == ["/dst/b.jpg"]
        assert [r.out_path for r in reg.images_of("bob")] == ["/dst/b.jpg", "/dst/a.jpg"]
        assert reg.record_for_output("/dst/b.jpg").concepts == {"left": "alice", "right": "bob"}
        assert [r.src_path for r in reg.lookup_sha256("o3")] == ["/src/a.jpg"]
        assert [r.out_path for r in reg.lookup_sha256("s2")] == ["/dst/b.jpg"]
        assert list(reg.lookup_sha256("s1")) == []
        with pytest.raises(RegistryError):
            reg.record_image(_record("c.jpg", "4", {"full": "nobody"}))
        assert reg.count_images() == 2


def test_cli_add_import_list_never_show_secret(tmp_path: Path) -> None:
    runner = CliRunner()
    reg = str(tmp_path / "r.db")
    result = runner.invoke(main, ["concepts", "add", "--registry", reg, "alice", "bob", "--owner", "Agency"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["concepts", "add", "--registry", reg, "BOB"]).exit_code == 1
    csv = tmp_path / "c.csv"
    csv.write_text("name,owner,licence,training terms\ncarol,C,CC0,ok\nalice,,,\n,X,,\n", encoding="utf-8")
    result = runner.invoke(main, ["concepts", "import", "--registry", reg, str(csv)])
    assert result.exit_code == 1
    assert "line 3: 'alice' is already registered" in result.output and "line 4" in result.output
    csv.write_text("name,owner,licence,training terms\ncarol,C,CC0,ok\n", encoding="utf-8")
    assert runner.invoke(main, ["concepts", "import", "--registry", reg, str(csv)]).exit_code == 0
    listed = runner.invoke(main, ["concepts", "list", "--registry", reg, "--json"])
    assert listed.exit_code == 0
    assert [line.split('"name": "')[1].split('"')[0] for line in listed.stdout.splitlines()] == ["alice", "bob", "carol"]
    secret = _secret(Path(reg))
    everything = listed.output + runner.invoke(main, ["concepts", "list", "--registry", reg]).output
    assert secret.hex() not in everything and watermark_key(secret).hex() not in everything


def test_cli_lookup_by_hash(tmp_path: Path, photo_paths: list[Path]) -> None:
    import hashlib

    runner = CliRunner()
    reg_path = tmp_path / "r.db"
    with Registry.create(reg_path) as reg:
        reg.add([ConceptSpec("alice")])
        sha = hashlib.sha256(photo_paths[0].read_bytes()).hexdigest()
        reg.record_image(ImageRecord("/src/a.jpg", "/dst/a.jpg", "x", sha, 1, 2, 3, 4, "full", {"full": "alice"}))
    found = runner.invoke(main, ["concepts", "lookup", "--registry", str(reg_path), str(photo_paths[0])])
    assert found.exit_code == 0 and "alice" in found.stdout and "/src/a.jpg" in found.stdout
    both = runner.invoke(main, ["concepts", "lookup", "--registry", str(reg_path), *map(str, photo_paths[:2])])
    assert both.exit_code == 3 and "not in the registry" in both.stdout


def test_concept_codes_differ_in_at_least_21_raw_bits() -> None:
    import numpy as np

    from provmark.watermark.decision import raw_bits

    secret = os.urandom(32)
    key = watermark_key(secret)
    rng = np.random.default_rng(0)
    indexes = [*range(600), *rng.choice(np.arange(600, 65_536), 900, replace=False).tolist()]
    codes = np.packbits(np.stack([raw_bits(concept_payload(secret, i), key) for i in indexes]), axis=1)
    popcount = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)
    nearest = min(
        int(popcount[codes[i + 1 :] ^ codes[i]].sum(1).min()) for i in range(len(indexes) - 1)
    )
    assert nearest >= 21
