"""Model audit: evidence of a learned concept channel added up over many samples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from provmark import ConceptSpec, Registry, audit
from provmark.cli.main import main
from provmark.concepts.codes import concept_payload, watermark_key
from provmark.detect.audit import p_bound
from provmark.watermark.concept_channel import channel_logits, embed_channel, match_codes
from provmark.watermark.decision import raw_bits

GRID = 32


@pytest.fixture(scope="module")
def thumbnails(photo_paths: list[Path]) -> list[Image.Image]:
    """64 different 32 px views (crops, flips) of the bundled photos: stand-ins for a model's samples."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(64):
        with Image.open(photo_paths[i % len(photo_paths)]) as im:
            photo = im.convert("RGB")
        w, h = photo.size
        side = int(rng.integers(min(w, h) // 3, min(w, h)))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        view = photo.crop((x, y, x + side, y + side)).resize((GRID, GRID), Image.Resampling.BOX)
        out.append(view.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if i % 2 else view)
    return out


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry.create(tmp_path / "reg.db")
    reg.add([ConceptSpec(f"concept{i:02d}", owner="Agency") for i in range(40)])
    yield reg
    reg.close()


def _samples(thumbnails: list[Image.Image], registry: Registry, concept: str | None, amplitude: float) -> list[Image.Image]:
    """What a generator that learned ``concept`` faintly might produce: 32 px images with the
    concept channel at ``amplitude`` levels, noise, upsampled to 128 px."""
    rng = np.random.default_rng(11)
    out = []
    for view in thumbnails:
        if concept is not None:
            view = embed_channel(view, registry.payload(registry.require(concept)), registry.watermark_key, amplitude, GRID)
        noisy = np.asarray(view, dtype=np.float64) + rng.normal(0.0, 6.0, (GRID, GRID, 3))
        image = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        out.append(image.resize((128, 128), Image.Resampling.BICUBIC))
    return out


def test_audit_finds_a_faint_concept_no_single_sample_shows(thumbnails, registry) -> None:
    samples = _samples(thumbnails, registry, "concept07", amplitude=1.0)
    codes = [registry.payload(c) for c in registry.concepts()]
    single = [match_codes(s, registry.watermark_key, codes).p_value for s in samples]
    assert np.mean(np.array(single) <= 1e-6) < 0.2, "the test needs a mark too faint for per-image attribution"
    report = audit(samples, registry)
    learned = report.learned()
    assert [r.concept for r in learned] == ["concept07"]
    assert learned[0].p_value <= 1e-6 and learned[0].owner == "Agency"
    assert 1 < learned[0].samples_needed <= len(samples)
    curve = report.curves[("all", "concept07")]
    assert len(curve) == len(samples) and math.isclose(curve[-1], learned[0].z, rel_tol=1e-9)


def test_audit_of_unmarked_samples_claims_nothing(thumbnails, registry) -> None:
    report = audit(_samples(thumbnails, registry, None, 0.0), registry)
    assert report.learned() == [] and report.samples == 64 and report.tests == 40
    assert all(r.p_value > 1e-3 for r in report.results)


def test_a_strongly_learned_concept_lends_no_evidence_to_codes_sharing_its_bits(thumbnails, registry) -> None:
    samples = _samples(thumbnails, registry, "concept03", amplitude=4.0)
    report = audit(samples, registry)
    assert [r.concept for r in report.learned()] == ["concept03"]
    key = registry.watermark_key
    bits = {c.name: raw_bits(registry.payload(c), key) for c in registry.concepts()}
    closest = max((n for n in bits if n != "concept03"), key=lambda n: (bits[n] == bits["concept03"]).mean())
    assert (bits[closest] == bits["concept03"]).mean() > 0.6  # a code sharing many raw bits
    assert next(r for r in report.results if r.concept == closest).z < 4.0


def test_groups_are_audited_separately(thumbnails, registry) -> None:
    samples = _samples(thumbnails[:32], registry, "concept01", 2.0) + _samples(thumbnails[32:], registry, "concept02", 2.0)
    report = audit(samples, registry, groups=["cats"] * 32 + ["dogs"] * 32)
    assert {(r.group, r.concept) for r in report.learned()} == {("cats", "concept01"), ("dogs", "concept02")}
    assert report.tests == 80


def test_statistic_is_calibrated_over_random_keys(thumbnails) -> None:
    """The bound is over the registry's secret: for unmarked samples and many random registries,
    the share of (registry, concept) pairs reaching z >= t stays under exp(-t^2/2)."""
    readings = [channel_logits(t.resize((128, 128)), bytes(32), GRID) for t in thumbnails]
    rng = np.random.default_rng(3)
    zs = []
    for _ in range(300):
        secret = rng.bytes(32)
        key = watermark_key(secret)
        w = sum(r / np.linalg.norm(r) for r in (channel_logits(t, key, GRID) for t in thumbnails[:16]))
        for index in range(10):
            signs = 2.0 * raw_bits(concept_payload(secret, index), key) - 1.0
            zs.append(float(signs @ w / np.linalg.norm(w)))
    zs = np.array(zs)
    assert abs(zs.mean()) < 0.1 and 0.8 < zs.std() < 1.2
    for t in (1.5, 2.0, 2.5):
        assert (zs >= t).mean() <= math.exp(-t * t / 2) + 0.01
    assert p_bound(-1.0, 10) == 1.0 and p_bound(0.0, 10) == 1.0
    assert len(readings) == 64


def test_cli_audit_groups_json_plot_and_bad_samples(tmp_path: Path, thumbnails, registry) -> None:
    for group, concept in (("sunsets", "concept05"), ("control", None)):
        folder = tmp_path / "samples" / group
        folder.mkdir(parents=True)
        for i, image in enumerate(_samples(thumbnails[:24], registry, concept, 2.0)):
            image.save(folder / f"{i:03d}.png")
    (tmp_path / "samples" / "sunsets" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    registry.close()
    runner = CliRunner()
    args = ["audit", str(tmp_path / "samples"), "--registry", str(registry.path), "--group-by-folder"]
    done = runner.invoke(main, [*args, "--json", "--plot", str(tmp_path / "audit.png")])
    assert done.exit_code == 1, done.output  # one sample could not be read: listed, the audit still ran
    report = json.loads(done.stdout.splitlines()[0])
    assert [(r["group"], r["concept"]) for r in report["learned"]] == [("sunsets", "concept05")]
    assert report["samples"] == 48 and len(report["failures"]) == 1 and "broken.png" in done.stderr
    with Image.open(tmp_path / "audit.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 400
    (tmp_path / "samples" / "sunsets" / "broken.png").unlink()
    done = runner.invoke(main, ["audit", str(tmp_path / "samples" / "control"), *args[2:4]])
    assert done.exit_code == 3, done.output
    assert "no" in done.stdout.splitlines()[-1]
