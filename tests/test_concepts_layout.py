"""Region layouts for multi-concept images."""

from __future__ import annotations

import pytest

from provmark.concepts.layout import LAYOUTS, candidate_regions, checked_regions, choose_layout, regions, search_weight
from provmark.errors import WatermarkError


@pytest.mark.parametrize("layout", [name for name in LAYOUTS if name != "auto"])
def test_regions_tile_the_image_exactly(layout: str) -> None:
    width, height = 1001, 767
    covered = [[0] * width for _ in range(height)]
    for region in regions(layout, width, height):
        left, top, right, bottom = region.box
        for y in range(top, bottom):
            for x in range(left, right):
                covered[y][x] += 1
    assert all(count == 1 for row in covered for count in row)


def test_auto_layout_and_size_checks() -> None:
    assert choose_layout(800, 400, 2) == "halves" and choose_layout(400, 800, 2) == "stacked"
    assert checked_regions("auto", 600, 400, 4)[0] == "quadrants"
    layout, found = checked_regions("auto", 300, 300, 1)
    assert layout == "full" and found[0].box == (0, 0, 300, 300)
    with pytest.raises(WatermarkError, match="region left is 127x300"):
        checked_regions("halves", 255, 300, 2)
    with pytest.raises(WatermarkError, match="has 4 regions but 2"):
        checked_regions("quadrants", 600, 600, 2)
    with pytest.raises(WatermarkError, match="at most 4"):
        choose_layout(2000, 2000, 5)


def test_candidate_regions_skip_small_and_duplicate_regions() -> None:
    names = [r.name for r in candidate_regions(512, 384)]
    assert names[0] == "full" and {"left", "top-left", "left-third", "top-third"} <= set(names)
    assert len(names) == 15
    names = [r.name for r in candidate_regions(512, 380)]  # 380 / 3 < 128 rows: no stacked thirds
    assert "top-third" not in names and "bottom" in names and len(names) == 12
    assert [r.name for r in candidate_regions(200, 200)] == ["full"]


def test_search_weights_spend_the_false_attribution_budget_once() -> None:
    for size in ((512, 384), (300, 300), (2000, 1000)):
        found = candidate_regions(*size)
        assert sum(1 / search_weight(r, len(found)) for r in found) == pytest.approx(1.0)
    assert search_weight(candidate_regions(200, 200)[0], 1) == 1
