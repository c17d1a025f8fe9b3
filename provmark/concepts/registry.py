"""The concept registry: one SQLite file holding the secret, the concepts and the marked images.

The secret (32 random bytes) is created with the registry and never leaves the file, which is
created with mode 0600. Marked images are recorded one row per output file, so an agency can
list the images of a concept or look a file up by its SHA-256. Each marked region also records
its keyed variant (one of the registry's ``variants``, see :mod:`provmark.concepts.codes`);
registries made before variants existed have one variant (and gain the column on their next write).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from provmark.concepts.codebook import CodeBook
from provmark.concepts.codes import (
    DEFAULT_VARIANTS,
    MAX_CONCEPTS,
    MAX_VARIANTS,
    SECRET_BYTES,
    concept_index,
    concept_payload,
    watermark_key,
)
from provmark.errors import RegistryError

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS concepts (
    idx INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    owner TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    training_terms TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    out_path TEXT NOT NULL UNIQUE,
    src_path TEXT NOT NULL,
    src_sha256 TEXT NOT NULL,
    out_sha256 TEXT NOT NULL,
    src_size INTEGER NOT NULL,
    src_mtime_ns INTEGER NOT NULL,
    out_size INTEGER NOT NULL,
    out_mtime_ns INTEGER NOT NULL,
    layout TEXT NOT NULL,
    marked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_concepts (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    concept_idx INTEGER NOT NULL REFERENCES concepts(idx),
    variant INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (image_id, region)
);
CREATE INDEX IF NOT EXISTS images_src_sha ON images(src_sha256);
CREATE INDEX IF NOT EXISTS images_out_sha ON images(out_sha256);
CREATE INDEX IF NOT EXISTS image_concepts_idx ON image_concepts(concept_idx);
"""


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


#: The first bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def _check_is_sqlite(p: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite opens it (and writes to it):
    an empty or foreign file given as --registry must come out of a failed command unchanged."""
    try:
        with p.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise RegistryError(f"{p}: cannot read registry: {exc.strerror or exc}") from None
    if not head:
        raise RegistryError(f"{p}: empty file, not a concept registry (remove it, or give another --registry)")
    if head != SQLITE_HEADER:
        raise RegistryError(f"{p}: not a concept registry (not an SQLite database)")


class Registry:
    """An open concept registry. Use :meth:`open` (or :meth:`create`), then :meth:`close`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, secret: bytes, variants: int = 1) -> None:
        self.path = path
        self._conn = conn
        self._secret = secret
        self._codebook: tuple[int, CodeBook] | None = None
        self.variants = variants  #: keyed variants per concept (1: every image carries the same word)

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = False) -> Registry:
        """Open the registry at ``path``; with ``create``, make a new one if it does not exist."""
        p = Path(path)
        if not p.exists():
            if not create:
                raise RegistryError(f"{p}: no such registry (create it with 'provmark concepts add --registry {p} NAME')")
            return cls.create(p)
        _check_is_sqlite(p)
        return cls._connect(p)

    @classmethod
    def create(cls, path: str | os.PathLike[str], variants: int = DEFAULT_VARIANTS) -> Registry:
        """Create a new registry with a fresh secret at ``path`` (which must not exist), whose
        images each get one of ``variants`` keyed variants of their concept's code."""
        if not 1 <= variants <= MAX_VARIANTS:
            raise RegistryError(f"a registry has 1 to {MAX_VARIANTS} variants per concept, not {variants}")
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise RegistryError(f"{p}: already exists") from None
        except OSError as exc:
            raise RegistryError(f"{p}: cannot create registry: {exc.strerror or exc}") from exc
        conn = cls._sqlite(p)
        with conn:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            conn.execute("INSERT INTO meta VALUES ('secret', ?)", (secrets.token_bytes(SECRET_BYTES),))
            conn.execute("INSERT INTO meta VALUES ('variants', ?)", (str(variants),))
        conn.close()
        return cls._connect(p)

    @staticmethod
    def _sqlite(p: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(p, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            return conn
        except sqlite3.Error as exc:
            raise RegistryError(f"{p}: not a concept registry ({exc})") from exc

    @classmethod
    def _connect(cls, p: Path) -> Registry:
        conn = cls._sqlite(p)
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            conn.close()
            raise RegistryError(f"{p}: not a concept registry ({exc})") from exc
        secret = rows.get("secret")
        if rows.get("schema_version") != SCHEMA_VERSION or not isinstance(secret, bytes) or len(secret) != SECRET_BYTES:
            conn.close()
            raise RegistryError(f"{p}: not a concept registry of this provmark version (or corrupt)")
        return cls(p, conn, secret, int(rows.get("variants", 1)))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- codes ---------------------------------------------------------------------------

    @property
    def watermark_key(self) -> bytes:
        """The watermark key all this registry's concepts are embedded with."""
        return watermark_key(self._secret)

    def payload(self, concept: Concept) -> bytes:
        """The 8-byte watermark payload of ``concept``."""
        return concept_payload(self._secret, concept.index)

    def codebook(self) -> CodeBook:
        """The raw code bits of every concept, for attribution (kept until a concept is added)."""
        count = self._conn.execute("SELECT COUNT(*) FROM concepts").fetchone()[0]
        if self._codebook is None or self._codebook[0] != count:
            self._codebook = (count, CodeBook.from_registry(self))
        return self._codebook[1]

    def concept_for_payload(self, payload: bytes | None) -> Concept | None:
        """The concept a decoded payload belongs to, or None if it is not one of this registry's."""
        index = concept_index(self._secret, payload)
        return None if index is None else self.by_index(index)

    # --- concepts ------------------------------------------------------------------------

    def add(self, specs: Sequence[ConceptSpec]) -> list[Concept]:
        """Register ``specs`` all together: if any name is bad or taken, none is added."""
        seen: set[str] = set()
        for spec in specs:
            check_name(spec.name)
            if spec.name.casefold() in seen:
                raise RegistryError(f"concept {spec.name!r} given twice")
            seen.add(spec.name.casefold())
            if self.get(spec.name) is not None:
                raise RegistryError(f"concept {spec.name!r} is already in {self.path}")
        created = now_utc()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            start = self._conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM concepts").fetchone()[0]
            if start + len(specs) > MAX_CONCEPTS:
                raise RegistryError(f"a registry holds at most {MAX_CONCEPTS} concepts")
            rows = [
                (start + i, s.name, s.owner, s.licence, s.training_terms, created) for i, s in enumerate(specs)
            ]
            self._conn.executemany("INSERT INTO concepts VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            self._conn.execute("ROLLBACK")
            raise RegistryError(f"{self.path}: concept name already taken ({exc})") from exc
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        return [Concept(*row) for row in rows]

    def concepts(self) -> list[Concept]:
        """All concepts, in registration order."""
        return [Concept(*row) for row in self._conn.execute("SELECT * FROM concepts ORDER BY idx")]

    def get(self, name: str) -> Concept | None:
        """The concept called ``name`` (case-insensitive), or None."""
        row = self._conn.execute("SELECT * FROM concepts WHERE name = ?", (name,)).fetchone()
        return Concept(*row) if row else None

    def require(self, name: str) -> Concept:
        """The concept called ``name``; RegistryError if there is none."""
        concept = self.get(name)
        if concept is None:
            raise RegistryError(f"no concept {name!r} in {self.path} (add it with 'provmark concepts add')")
        return concept

    def by_index(self, index: int) -> Concept | None:
        """The concept numbered ``index``, or None."""
        row = self._conn.execute("SELECT * FROM concepts WHERE idx = ?", (index,)).fetchone()
        return Concept(*row) if row else None

    # --- marked images -------------------------------------------------------------------

    def record_image(self, record: ImageRecord) -> None:
        """Record a marked output, replacing any earlier record of the same output path."""
        self.record_images([record])

    def record_images(self, records: Sequence[ImageRecord]) -> None:
        """Record marked outputs in one transaction (all or none), each replacing any earlier
        record of its output path: a catalog run commits its results in batches."""
        indexes: dict[str, int] = {}
        for record in records:
            for name in record.concepts.values():
                if name not in indexes:
                    indexes[name] = self.require(name).index
        now = now_utc()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            if not self._has_variants():  # a registry made before variants: every image so far has variant 0
                self._conn.execute("ALTER TABLE image_concepts ADD COLUMN variant INTEGER NOT NULL DEFAULT 0")
            for record in records:
                self._conn.execute("DELETE FROM images WHERE out_path = ?", (record.out_path,))
                cur = self._conn.execute(
                    "INSERT INTO images (out_path, src_path, src_sha256, out_sha256, src_size, src_mtime_ns,"
                    " out_size, out_mtime_ns, layout, marked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.out_path, record.src_path, record.src_sha256, record.out_sha256, record.src_size,
                        record.src_mtime_ns, record.out_size, record.out_mtime_ns, record.layout,
                        record.marked_at or now,
                    ),
                )  # fmt: skip
                self._conn.executemany(
                    "INSERT INTO image_concepts (image_id, region, concept_idx, variant) VALUES (?, ?, ?, ?)",
                    [
                        (cur.lastrowid, region, indexes[name], record.variants.get(region, 0))
                        for region, name in record.concepts.items()
                    ],
                )
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def record_for_output(self, out_path: str) -> ImageRecord | None:
        """The record of output ``out_path`` (absolute), or None."""
        return next(self._records("i.out_path = ?", (out_path,)), None)

    def images_of(self, name: str) -> Iterator[ImageRecord]:
        """Records of every image marked with concept ``name`` (in any region), oldest first."""
        idx = self.require(name).index
        where = "i.id IN (SELECT image_id FROM image_concepts WHERE concept_idx = ?)"
        return self._records(where, (idx,))

    def lookup_sha256(self, sha256: str) -> Iterator[ImageRecord]:
        """Records whose source or marked output has content hash ``sha256``."""
        return self._records("i.src_sha256 = ? OR i.out_sha256 = ?", (sha256, sha256))

    def _has_variants(self) -> bool:
        return any(row[1] == "variant" for row in self._conn.execute("PRAGMA table_info(image_concepts)"))

    def count_images(self) -> int:
        """How many marked outputs are recorded."""
        return self._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def _records(self, where: str, params: tuple[object, ...]) -> Iterator[ImageRecord]:
        query = (
            "SELECT i.id, i.src_path, i.out_path, i.src_sha256, i.out_sha256, i.src_size, i.src_mtime_ns,"
            " i.out_size, i.out_mtime_ns, i.layout, i.marked_at FROM images i WHERE " + where + " ORDER BY i.id"
        )
        variant_column = "ic.variant" if self._has_variants() else "0"
        for row in self._conn.execute(query, params):
            marks = self._conn.execute(
                f"SELECT ic.region, c.name, {variant_column} FROM image_concepts ic"
                " JOIN concepts c ON c.idx = ic.concept_idx WHERE ic.image_id = ? ORDER BY ic.rowid",
                (row[0],),
            ).fetchall()
            concepts = {region: name for region, name, _ in marks}
            variants = {region: variant for region, _, variant in marks if variant}
            yield ImageRecord(*row[1:10], concepts=concepts, marked_at=row[10], variants=variants)
