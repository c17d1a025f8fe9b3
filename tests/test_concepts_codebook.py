"""Maximum-likelihood matching of watermark readings against a registry's concept codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from provmark.concepts.codebook import CodeBook
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry


def _reading(bits: np.ndarray, flips: int, rng: np.random.Generator) -> np.ndarray:
    """Logits reading ``bits`` with ``flips`` bits wrong and random confidences."""
    signs = bits.astype(np.float64) * 2 - 1
    signs[rng.choice(128, flips, replace=False)] *= -1
    return signs * rng.uniform(0.2, 3.0, 128)


def test_codebook_tolerates_many_errors_and_never_fires_on_noise(tmp_path: Path) -> None:
    with Registry.create(tmp_path / "r.db", variants=1) as reg:  # variants: tests/test_concept_variants.py
        reg.add([ConceptSpec(f"c{i}") for i in range(300)])
        book = CodeBook.from_registry(reg)
    assert len(book) == 300 and book.codes.shape == (300, 128)
    rng = np.random.default_rng(0)
    for index in (0, 17, 299):
        for flips in (0, 10, 20):  # BCH alone corrects at most 10
            found = book.match(_reading(book.codes[index], flips, rng), tests=15)
            assert found.index == index and found.distance == flips and found.p_value <= 1e-6
            assert found.confidence == 1 - flips / 128
    noise = [book.match(rng.normal(0, 1, 128), tests=15).p_value for _ in range(3000)]
    assert min(noise) > 1e-6  # unmarked readings: nothing attributed
    assert book.match(_reading(book.codes[5], 55, rng)).p_value > 1e-6  # too damaged: not claimed
    assert CodeBook([], np.zeros((0, 128))).match(rng.normal(0, 1, 128)) is None


def test_several_views_best_one_counts_and_pays_for_the_search(tmp_path: Path) -> None:
    with Registry.create(tmp_path / "r.db") as reg:
        reg.add([ConceptSpec(f"c{i}") for i in range(40)])
        book = CodeBook.from_registry(reg)
    rng = np.random.default_rng(1)
    good = _reading(book.codes[7], 12, rng)
    one = book.match(good)
    both = book.match(np.stack([rng.normal(0, 1, 128), good]))
    assert both.index == 7 and both.distance == 12 and both.p_value == 2 * one.p_value
