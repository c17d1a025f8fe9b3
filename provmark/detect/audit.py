"""Model audit: which of a registry's concepts a generator learned, from many of its samples.

A generator trained on copies marked with the concept channel (``provmark mark --channel``)
reproduces each concept's pattern, faintly, in what it generates: one sample rarely shows it,
many do. Each sample's concept channel is read as 128 raw logits
(:func:`provmark.watermark.concept_channel.channel_logits`), scaled to unit length so every
sample weighs the same, and the samples of a group (all samples, or those generated for one
prompt or class) are summed into one reading ``w``.

**Statistic.** For a concept with raw code signs ``s`` (+-1 per raw bit),
``z = s . r / |r|``, where ``r`` is ``w`` with the concepts already found in the group projected
out (least squares, strongest first): a learned concept does not lend its evidence to the
codes that share raw bits with it.

**Bound.** A concept's raw code comes from its 40-bit keyed tag through BCH coding and the
registry's keyed scrambling, so for a concept the model did not learn it is a string of fair
coins independent of ``r`` (which depends on the model and on the concepts found, not on this
code). Hoeffding then gives ``P(z >= t) <= exp(-t^2 / 2)`` whatever the samples look like
and however they depend on each other. The p-value multiplies this by the number of tests
(concepts x groups) and by the step at which the concept is tested (1 + concepts found
before it in the group): a family-wise bound over the whole audit. ``z`` cannot exceed
sqrt(128) ~ 11.3 (a perfect match), so p-values stop near exp(-64) times the tests.

**Marks.** ``mark="channel"`` (default) reads the concept channel as above; ``mark="training"``
reads the training mark (``provmark mark --training-mark``,
:mod:`provmark.watermark.training_mark`): its 96-long key-free tone-comb reading per sample,
tested against each concept's 96 keyed signs from HMAC-SHA256. The argument is the same: the
signs of a concept the model did not learn are fair coins independent of the readings, so the
same bound holds (``z`` stops at sqrt(96) ~ 9.8).

Editing images cannot frame a model in an audit whose auditor draws the samples from the
model: the evidence is what the model generates, not what anyone submits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from provmark.concepts.registry import Registry
from provmark.detect.audit_plot import save_plot
from provmark.errors import ProvmarkError, WatermarkError
from provmark.io.images import ImageInput, load_image
from provmark.watermark.calibration import DEFAULT_P_THRESHOLD
from provmark.watermark.concept_channel import DEFAULT_GRID, channel_logits
from provmark.watermark.decision import raw_bits
from provmark.watermark.training_mark import code_signs, training_reading

#: Group name of samples given without one.
ALL_SAMPLES = "all"
#: The marks an audit can read: the concept channel and the training mark.
MARKS = ("channel", "training")


@dataclass
class ConceptAudit:
    """The evidence that a model learned one concept, from one group of its samples.

    ``z`` is the statistic (about N(0,1) if the model did not learn the concept), ``p_value``
    its family-wise bound, ``samples`` the group's size and ``samples_needed`` the fewest of
    its first samples that already reached the threshold (None when not learned).
    """

    concept: str
    group: str
    z: float
    p_value: float
    learned: bool
    samples: int
    samples_needed: int | None
    owner: str = ""
    licence: str = ""


@dataclass
class AuditReport:
    """Every concept's evidence in every group, strongest first, and the samples that failed.

    ``curves`` holds, for each learned (group, concept), the statistic after 1, 2, ... samples.
    """

    samples: int
    tests: int
    threshold: float
    grid: int
    results: list[ConceptAudit] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    curves: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    mark: str = "channel"

    def learned(self) -> list[ConceptAudit]:
        """The concepts the model learned (p-value at most the threshold), strongest first."""
        return [r for r in self.results if r.learned]

    def save_plot(self, path: str | os.PathLike[str]) -> Path:
        """Write a PNG of the evidence per sample for each learned concept (see :mod:`provmark.detect.audit_plot`)."""
        return save_plot(self, path)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written by ``provmark audit --json``."""
        return {
            "samples": self.samples,
            "tests": self.tests,
            "threshold": self.threshold,
            "mark": self.mark,
            "channel_grid": self.grid,
            "learned": [asdict(r) for r in self.learned()],
            "results": [asdict(r) for r in self.results],
            "failures": [{"path": p, "error": e} for p, e in self.failures],
        }


def audit(
    samples: Iterable[ImageInput],
    registry: Registry | str | os.PathLike[str],
    *,
    groups: Sequence[str] | None = None,
    channel_grid: int = DEFAULT_GRID,
    threshold: float = DEFAULT_P_THRESHOLD,
    mark: str = "channel",
) -> AuditReport:
    """Decide, for every concept of ``registry``, whether the model that generated ``samples`` learned it.

    ``samples`` are images (PIL, numpy, file bytes or paths), ``groups`` an optional group name per sample
    (e.g. the prompt or class each was generated for); samples that cannot be read are listed in
    ``failures`` and left out. ``registry`` is a :class:`Registry` or its path; ``channel_grid``
    the concept channel grid the training copies used; ``mark`` which mark to read (:data:`MARKS`:
    ``"channel"`` for ``mark --channel`` copies, ``"training"`` for ``mark --training-mark``). Torch-free.

    >>> report = provmark.audit(Path("samples").glob("*.png"), "catalog.db")  # doctest: +SKIP
    >>> [(r.concept, r.p_value, r.samples_needed) for r in report.learned()]  # doctest: +SKIP
    [('red-fox', 3.1e-19, 4)]
    """
    if not isinstance(registry, Registry):
        with Registry.open(registry) as reg:
            return audit(samples, reg, groups=groups, channel_grid=channel_grid, threshold=threshold, mark=mark)
    if mark not in MARKS:
        raise WatermarkError(f"unknown mark {mark!r}: choose one of {', '.join(MARKS)}")
    grid = channel_grid
    concepts = registry.concepts()
    if not concepts:
        raise WatermarkError("the registry has no concepts to audit (add some with 'provmark concepts add')")
    key = registry.watermark_key
    if mark == "training":
        signs = np.array([code_signs(registry.payload(c), key) for c in concepts])
    else:
        signs = np.array([2.0 * raw_bits(registry.payload(c), key) - 1.0 for c in concepts])
    readings: dict[str, list[np.ndarray]] = {}
    failures: list[tuple[str, str]] = []
    items = list(samples)
    if groups is not None and len(groups) != len(items):
        raise WatermarkError(f"{len(groups)} group names for {len(items)} samples: give one per sample")
    for i, sample in enumerate(items):
        try:
            image = load_image(sample).image
            reading = training_reading(image) if mark == "training" else channel_logits(image, key, grid)
        except ProvmarkError as exc:
            failures.append((str(sample) if isinstance(sample, (str, os.PathLike)) else f"sample {i}", str(exc)))
            continue
        norm = float(np.linalg.norm(reading))
        if norm > 0:
            readings.setdefault(groups[i] if groups is not None else ALL_SAMPLES, []).append(reading / norm)
    tests = len(concepts) * max(1, len(readings))
    report = AuditReport(sum(map(len, readings.values())), tests, threshold, grid, failures=failures, mark=mark)
    for group, rows in sorted(readings.items()):
        for index, z, p, needed, curve in _audit_group(np.array(rows), signs, tests, threshold):
            c = concepts[index]
            report.results.append(
                ConceptAudit(c.name, group, z, p, p <= threshold, len(rows), needed, c.owner, c.licence)
            )
            if curve is not None:
                report.curves[(group, c.name)] = curve
    report.results.sort(key=lambda r: (r.p_value, -r.z, r.group, r.concept))
    return report


def p_bound(z: float, tests: int) -> float:
    """Family-wise bound ``tests * exp(-z^2/2)`` for a positive statistic ``z`` (1 otherwise)."""
    return min(1.0, tests * math.exp(-z * z / 2.0)) if z > 0 else 1.0


def _project_out(vectors: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` minus their least-squares fit on the rows of ``basis``."""
    if not len(basis):
        return vectors
    coef, *_ = np.linalg.lstsq(basis.T, vectors.T, rcond=None)
    return vectors - (basis.T @ coef).T


def _z(vectors: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``z`` of every sign row against every vector row: ``[V, C]``."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors @ signs.T) / np.maximum(norms, 1e-12)


def _audit_group(
    rows: np.ndarray, signs: np.ndarray, tests: int, threshold: float
) -> list[tuple[int, float, float, int | None, list[float] | None]]:
    """Per concept: (index, z, p, samples needed, z curve) for one group's unit readings ``rows``."""
    total = rows.sum(axis=0, keepdims=True)
    found: list[int] = []
    verdict: dict[int, tuple[float, float]] = {}
    while len(found) < len(signs):
        z = _z(_project_out(total, signs[found]), signs)[0]
        step = len(found) + 1
        for i in range(len(signs)):
            if i not in found:
                verdict[i] = (float(z[i]), p_bound(float(z[i]), tests * step))
        best = max((i for i in range(len(signs)) if i not in found), key=lambda i: z[i])
        if verdict[best][1] > threshold:
            break
        found.append(best)
    out = []
    for i, (z_i, p_i) in verdict.items():
        needed, curve = None, None
        if i in found:
            step = found.index(i) + 1
            others = signs[found[: step - 1]]  # as when it was found, so the last value is its z
            curve = [float(v) for v in _z(_project_out(np.cumsum(rows, axis=0), others), signs[i : i + 1])[:, 0]]
            needed = next(n + 1 for n, v in enumerate(curve) if p_bound(v, tests * step) <= threshold)
        out.append((i, z_i, p_i, needed, curve))
    return out
