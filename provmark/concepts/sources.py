"""Where each catalog file's concepts come from: fixed names, a concept map, or its folder."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from provmark.concepts.registry import Registry
from provmark.concepts.tables import ConceptMap
from provmark.errors import RegistryError


class ConceptSource(Protocol):
    """Gives the concept names (one per layout region) of a catalog file: :class:`FixedConcepts`,
    :class:`MappedConcepts` (a concept map) or :class:`FolderConcepts` (``SRC/<concept>/...``).

    >>> FixedConcepts(("red-fox", "owl")).names_for("any/file.jpg")
    ('red-fox', 'owl')
    >>> FolderConcepts(Path("catalog")).names_for("red-fox/2024/001.jpg")
    ('red-fox',)
    """

    def names_for(self, rel: str) -> tuple[str, ...]:
        """Concept names for catalog-relative POSIX path ``rel``; RegistryError if it has none."""
        ...

    def required_names(self) -> Iterable[str]:
        """Every concept name this source can give (checked against the registry before a run)."""
        ...


@dataclass(frozen=True)
class FixedConcepts:
    """Every file gets the same concepts."""

    names: tuple[str, ...]

    def names_for(self, rel: str) -> tuple[str, ...]:
        return self.names

    def required_names(self) -> Iterable[str]:
        return self.names


@dataclass
class MappedConcepts:
    """Concepts listed per file in a concept map; ``unlisted`` files are failures."""

    table: ConceptMap
    seen: set[str] = field(default_factory=set)

    def names_for(self, rel: str) -> tuple[str, ...]:
        names = self.table.concepts_for(rel)
        if names is None:
            raise RegistryError("not listed in the concept map")
        self.seen.add(rel)
        return names

    def required_names(self) -> Iterable[str]:
        return {name for names in self.table.entries.values() for name in names}

    def missing(self) -> list[str]:
        """Concept-map paths no walked file matched (call after the run)."""
        return sorted(set(self.table.entries) - self.seen)


@dataclass(frozen=True)
class FolderConcepts:
    """A file's concept is the name of the top-level folder it is in (``SRC/<concept>/...``)."""

    root: Path

    def names_for(self, rel: str) -> tuple[str, ...]:
        head, sep, _ = rel.partition("/")
        if not sep:
            raise RegistryError("not inside a concept folder (with --concept-from-dir, SRC/<concept>/...)")
        return (head,)

    def required_names(self) -> Iterable[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_known(registry: Registry, source: ConceptSource) -> None:
    """Raise one RegistryError naming every concept ``source`` uses that ``registry`` lacks.

    >>> check_known(registry, FixedConcepts(("red-fox", "unicorn")))  # doctest: +SKIP
    Traceback (most recent call last):
    provmark.errors.RegistryError: 1 concept(s) not in catalog.db: 'unicorn' (add them with 'provmark concepts add')
    """
    unknown = sorted(name for name in set(source.required_names()) if registry.get(name) is None)
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise RegistryError(
            f"{len(unknown)} concept(s) not in {registry.path}: {shown} (add them with 'provmark concepts add')"
        )
