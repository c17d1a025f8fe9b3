"""CSV inputs: concept lists for ``concepts import`` and concept maps for ``mark``.

Headers are matched loosely (case, spaces, ``-`` and ``_`` ignored; "license" = "licence").
Every bad row is reported with its line number; a file with any bad row is rejected whole.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from provmark.concepts.records import ConceptSpec, check_name
from provmark.errors import ProvmarkError, RegistryError

#: Separator of several concepts in one concept-map cell (one per layout region).
CONCEPT_SEPARATOR = ";"


class CsvRowsError(RegistryError):
    """A CSV file has bad rows; ``problems`` holds one line per bad row."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported; first: {problems[0]}")
        self.problems = problems


_ALIASES = {"license": "licence", "trainingterms": "training_terms", "terms": "training_terms", "file": "path"}


def _key(header: str) -> str:
    flat = "".join(ch for ch in header.strip().lower() if ch not in " -_")
    return _ALIASES.get(flat, flat)


def _rows(path: Path, required: tuple[str, ...], known: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each non-blank data row of the CSV at ``path``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise RegistryError(f"{path}: empty CSV file (expected a header row: {', '.join(known)})")
            keys = [_key(h) for h in header]
            missing = [k for k in required if k not in keys]
            if missing:
                raise RegistryError(
                    f"{path}: header has no column {', '.join(missing)} (columns: {', '.join(known)})"
                )
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) > len(keys):
                    raise RegistryError(f"{path}: line {reader.line_num}: {len(row)} cells but {len(keys)} columns")
                rows.append((reader.line_num, {k: v.strip() for k, v in zip(keys, row) if k in known}))
            return rows
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such CSV file") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{path}: not a UTF-8 CSV file") from None
    except (OSError, csv.Error) as exc:
        raise RegistryError(f"{path}: cannot read CSV: {exc}") from exc


def read_concept_csv(
    path: str | os.PathLike[str], is_taken: Callable[[str], bool] = lambda name: False
) -> list[ConceptSpec]:
    """Concepts listed in a CSV with columns name, owner, licence, training terms.

    A row whose name is empty, repeated, or already registered (``is_taken``) is a problem.

    >>> # concepts.csv holds the lines "name,owner" and "red-fox,Agency"
    >>> read_concept_csv("concepts.csv", is_taken=lambda name: registry.get(name) is not None)  # doctest: +SKIP
    [ConceptSpec(name='red-fox', owner='Agency', licence='', training_terms='')]
    """
    p = Path(path)
    problems: list[str] = []
    specs: list[ConceptSpec] = []
    first_line: dict[str, int] = {}
    for line, row in _rows(p, ("name",), ("name", "owner", "licence", "training_terms")):
        name = row.get("name", "")
        try:
            check_name(name)
        except ProvmarkError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if name.casefold() in first_line:
            problems.append(f"line {line}: duplicate name {name!r} (also on line {first_line[name.casefold()]})")
            continue
        first_line[name.casefold()] = line
        if is_taken(name):
            problems.append(f"line {line}: {name!r} is already registered")
            continue
        specs.append(ConceptSpec(name, row.get("owner", ""), row.get("licence", ""), row.get("training_terms", "")))
    if problems:
        raise CsvRowsError(p, problems)
    if not specs:
        raise RegistryError(f"{p}: no concepts listed")
    return specs


@dataclass(frozen=True)
class ConceptMap:
    """Which concepts each file gets: relative POSIX path -> concept names (one per region)."""

    entries: dict[str, tuple[str, ...]]

    def concepts_for(self, rel_path: str) -> tuple[str, ...] | None:
        """The concepts of ``rel_path`` (relative to the catalog root), or None if unlisted."""
        return self.entries.get(rel_path)


def read_concept_map(path: str | os.PathLike[str]) -> ConceptMap:
    """A concept map from a CSV with columns path, concept (``A;B`` for one concept per region).

    >>> # map.csv holds the lines "path,concept", "foxes/1.jpg,red-fox" and "duo.png,red-fox;owl"
    >>> read_concept_map("map.csv").concepts_for("duo.png")  # doctest: +SKIP
    ('red-fox', 'owl')
    """
    p = Path(path)
    problems: list[str] = []
    entries: dict[str, tuple[str, ...]] = {}
    for line, row in _rows(p, ("path", "concept"), ("path", "concept")):
        rel = row.get("path", "")
        names = tuple(n.strip() for n in row.get("concept", "").split(CONCEPT_SEPARATOR) if n.strip())
        norm = PurePosixPath(rel.replace("\\", "/"))
        if not rel or norm.is_absolute() or ".." in norm.parts:
            problems.append(f"line {line}: path {rel!r} must be relative to the catalog folder")
        elif not names:
            problems.append(f"line {line}: no concept for {rel}")
        elif str(norm) in entries:
            problems.append(f"line {line}: {rel} listed twice")
        else:
            entries[str(norm)] = names
    if problems:
        raise CsvRowsError(p, problems)
    return ConceptMap(entries)
