"""Region layouts: where each concept of a multi-concept image is embedded.

Every region is marked independently with its own concept code and must be at least
``MIN_SIDE`` pixels on each side. Attribution tries the whole image and the regions of
every standard layout, so it does not need to know which layout was used.
"""

from __future__ import annotations

from dataclasses import dataclass

from provmark.errors import WatermarkError
from provmark.watermark.planes import MIN_SIDE

#: Region name under which the concept channel is recorded and reported.
CHANNEL_REGION = "channel"
#: Region name under which the training mark is recorded.
TRAINING_REGION = "training-mark"

#: Bonferroni factor of the whole-image marks (concept channel, training mark; they share it) when
#: read beside the regions: half the budget.
CHANNEL_WEIGHT = 2


@dataclass(frozen=True)
class Region:
    """A named rectangle of an image: ``box`` is (left, top, right, bottom) in pixels."""

    name: str
    box: tuple[int, int, int, int]


# layout name -> (columns, rows, region names in reading order)
_GRIDS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "full": (1, 1, ("full",)),
    "halves": (2, 1, ("left", "right")),
    "stacked": (1, 2, ("top", "bottom")),
    "quadrants": (2, 2, ("top-left", "top-right", "bottom-left", "bottom-right")),
    "thirds": (3, 1, ("left-third", "middle-third", "right-third")),
    "stacked-thirds": (1, 3, ("top-third", "centre-third", "bottom-third")),
}

#: Layout names accepted by ``provmark mark --layout`` ("auto" picks one from the image shape).
LAYOUTS = ("auto", *_GRIDS)


def layout_size(layout: str) -> int:
    """How many regions (and so concepts) ``layout`` has; 0 for "auto" (any).

    >>> layout_size("quadrants"), layout_size("auto")
    (4, 0)
    """
    return 0 if layout == "auto" else len(_GRIDS[layout][2])


def choose_layout(width: int, height: int, count: int) -> str:
    """The layout "auto" means for ``count`` concepts on a ``width`` x ``height`` image."""
    if count == 1:
        return "full"
    if count == 2:
        return "halves" if width >= height else "stacked"
    if count == 3:
        return "thirds" if width >= height else "stacked-thirds"
    if count == 4:
        return "quadrants"
    raise WatermarkError(f"no layout holds {count} concepts (at most 4 per image)")


def regions(layout: str, width: int, height: int) -> list[Region]:
    """The regions of ``layout`` on a ``width`` x ``height`` image, in reading order."""
    cols, rows, names = _GRIDS[layout]
    xs = [width * i // cols for i in range(cols + 1)]
    ys = [height * j // rows for j in range(rows + 1)]
    return [
        Region(names[j * cols + i], (xs[i], ys[j], xs[i + 1], ys[j + 1])) for j in range(rows) for i in range(cols)
    ]


def checked_regions(layout: str, width: int, height: int, count: int) -> tuple[str, list[Region]]:
    """The layout ("auto" resolved) and its regions for ``count`` concepts, each checked to be large enough."""
    if layout == "auto":
        layout = choose_layout(width, height, count)
    found = regions(layout, width, height)
    if len(found) != count:
        raise WatermarkError(f"layout {layout} has {len(found)} regions but {count} concept(s) were given")
    for region in found:
        left, top, right, bottom = region.box
        if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
            raise WatermarkError(
                f"image {width}x{height} too small for layout {layout}: region {region.name} is "
                f"{right - left}x{bottom - top}, each region needs at least {MIN_SIDE}x{MIN_SIDE} px"
            )
    return layout, found


def candidate_regions(width: int, height: int) -> list[Region]:
    """Every distinct region attribution looks at: the whole image, then each layout's regions."""
    seen: dict[tuple[int, int, int, int], Region] = {}
    for layout in _GRIDS:
        for region in regions(layout, width, height):
            left, top, right, bottom = region.box
            if right - left >= MIN_SIDE and bottom - top >= MIN_SIDE and region.box not in seen:
                seen[region.box] = region
    return list(seen.values())


def search_weight(region: Region, candidates: int, halved: bool = False) -> int:
    """Bonferroni factor of one region when ``candidates`` regions are searched for one answer.

    The whole image (the usual case) gets half the false-attribution budget and the other
    regions share the other half, so the factors' inverses sum to 1. With ``halved`` (whole-image
    marks, the concept channel or the training mark, are read as well and take the other half
    of the budget) the regions share half of it, so every factor doubles.
    """
    share = CHANNEL_WEIGHT if halved else 1
    if candidates <= 1:
        return share
    return share * (2 if region.name == "full" else 2 * (candidates - 1))
