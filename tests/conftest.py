"""Shared fixtures: small real photos bundled under tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def photo_paths() -> list[Path]:
    """Four small real JPEG photos (512 px long side)."""
    paths = sorted(DATA.glob("*.jpg"))
    assert len(paths) >= 4
    return paths
