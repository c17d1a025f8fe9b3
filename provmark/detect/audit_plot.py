"""A picture of an audit: the evidence for each learned concept as samples accumulate.

One line per learned (group, concept): the statistic ``z`` after 1, 2, ... samples, with the
threshold the audit's p-value bound sets (dashed). Concepts not learned are summed up by the
strongest of them (dotted). Drawn with PIL alone, so no plotting library is needed.
"""

from __future__ import annotations

import math
import os
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from provmark.io import write_bytes_atomic

if TYPE_CHECKING:  # the report imports this module to draw itself
    from provmark.detect.audit import AuditReport

_SIZE = (900, 520)
_MARGIN = (70, 30, 230, 50)  # left, top, right, bottom
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def threshold_z(report: AuditReport, step: int = 1) -> float:
    """The ``z`` a concept tested at ``step`` needs to reach the report's threshold."""
    return math.sqrt(2.0 * math.log(report.tests * step / report.threshold))


def render(report: AuditReport) -> Image.Image:
    """The audit as an RGB image (curves of ``z`` against the number of samples)."""
    image = Image.new("RGB", _SIZE, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = _MARGIN
    width, height = _SIZE[0] - left - right, _SIZE[1] - top - bottom
    longest = max([len(c) for c in report.curves.values()] + [r.samples for r in report.results] + [1])
    ceiling = math.sqrt(128.0) + 0.5

    def point(n: int, z: float) -> tuple[float, float]:
        return left + width * (n - 1) / max(longest - 1, 1), top + height * (1 - max(0.0, min(z, ceiling)) / ceiling)

    draw.rectangle([left, top, left + width, top + height], outline="black")
    for z in range(0, int(ceiling) + 1, 2):
        x, y = point(1, z)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((left - 28, y - 6), str(z), fill="black")
    for n in sorted({1, longest, *range(0, longest + 1, max(1, longest // 5))} - {0}):
        x, _ = point(n, 0)
        draw.line([x, top + height, x, top + height + 4], fill="black")
        draw.text((x - 8, top + height + 8), str(n), fill="black")
    draw.text((left, top + height + 26), "samples", fill="black")
    draw.text((8, top - 22), "z (evidence that the model learned the concept)", fill="black")
    _dashed(draw, point(1, threshold_z(report)), point(longest, threshold_z(report)), "gray")
    draw.text((left + width + 8, point(1, threshold_z(report))[1] - 6), f"p = {report.threshold:g}", fill="gray")
    for i, ((group, concept), curve) in enumerate(sorted(report.curves.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        draw.line([point(n + 1, z) for n, z in enumerate(curve)], fill=colour, width=2)
        label = concept if group == "all" else f"{concept} ({group})"
        draw.text((left + width + 8, top + 16 * i + 20), label[:30], fill=colour)
    rest = [r for r in report.results if not r.learned]
    if rest:
        strongest = max(rest, key=lambda r: r.z)
        y = point(1, strongest.z)[1]
        _dashed(draw, (left, y), (left + width, y), "#999999", dash=2)
        draw.text((left + width + 8, y + 4), f"best not learned: {strongest.concept[:14]} ({strongest.group[:10]})", fill="#777777")
    return image


def save_plot(report: AuditReport, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render` of ``report`` as a PNG at ``path`` (atomically)."""
    buffer = BytesIO()
    render(report).save(buffer, "PNG")
    target = Path(path)
    write_bytes_atomic(target, buffer.getvalue())
    return target


def _dashed(draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], fill: str, dash: int = 8) -> None:
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    for k in range(0, int(length), 2 * dash):
        a, b = k / length, min(k + dash, length) / length
        draw.line([x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b], fill=fill, width=1)
