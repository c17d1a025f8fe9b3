"""What a concept registry holds, as plain records: concepts, and the marked images.

Torch-free and SQLite-free: :mod:`provmark.concepts.store` writes and reads these rows,
:mod:`provmark.concepts.registry` is the object users open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from provmark.errors import RegistryError


@dataclass(frozen=True)
class Concept:
    """A registered concept; ``index`` numbers it within its registry and fixes its code."""

    index: int
    name: str
    owner: str = ""
    licence: str = ""
    training_terms: str = ""
    created: str = ""


@dataclass(frozen=True)
class ConceptSpec:
    """What a user gives to register a concept."""

    name: str
    owner: str = ""
    licence: str = ""
    training_terms: str = ""


@dataclass
class ImageRecord:
    """One marked output file: where it came from, its hashes, and the concept of each region."""

    src_path: str
    out_path: str
    src_sha256: str
    out_sha256: str
    src_size: int
    src_mtime_ns: int
    out_size: int
    out_mtime_ns: int
    layout: str
    concepts: dict[str, str] = field(default_factory=dict)  # region -> concept name
    marked_at: str = ""
    variants: dict[str, int] = field(default_factory=dict)  # region -> keyed variant (absent: 0)


def now_utc() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable concept name, else raise a one-line RegistryError."""
    if not name or not name.strip():
        raise RegistryError("a concept name cannot be empty")
    if name != name.strip():
        raise RegistryError(f"concept name {name!r} has leading or trailing spaces")
    if any(ord(c) < 32 for c in name) or len(name) > 200:
        raise RegistryError(f"concept name {name!r} has control characters or is over 200 characters")
    return name
