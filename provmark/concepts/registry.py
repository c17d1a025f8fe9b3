"""The concept registry: one SQLite file holding the secret, the concepts and the marked images.

The secret (32 random bytes) is created with the registry and never leaves the file, which is
created with mode 0600. Marked images are recorded one row per output file, so an agency can
list the images of a concept or look a file up by its SHA-256. Each marked region also records
its keyed variant (one of the registry's ``variants``, see :mod:`provmark.concepts.codes`).
The records are :mod:`provmark.concepts.records`, the tables :mod:`provmark.concepts.store`.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from provmark.concepts import store
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
from provmark.concepts.records import Concept, ConceptSpec, ImageRecord, check_name, now_utc
from provmark.errors import RegistryError


class Registry:
    """An open concept registry. Use :meth:`open` (or :meth:`create`), then :meth:`close`, or ``with``.

    >>> with Registry.create(tmp / "catalog.db") as reg:  # doctest: +SKIP
    ...     fox = reg.add([ConceptSpec("red-fox", owner="Agency")])[0]
    ...     reg.payload(fox).hex()
    '3fa1...'
    """

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
        store.check_is_sqlite(p)
        return cls._connect(p)

    @classmethod
    def create(cls, path: str | os.PathLike[str], variants: int = DEFAULT_VARIANTS) -> Registry:
        """Create a new registry with a fresh secret at ``path`` (which must not exist), whose
        images each get one of ``variants`` keyed variants of their concept's code."""
        if not 1 <= variants <= MAX_VARIANTS:
            raise RegistryError(f"a registry has 1 to {MAX_VARIANTS} variants per concept, not {variants}")
        p = Path(path)
        store.create_file(p, secrets.token_bytes(SECRET_BYTES), variants)
        return cls._connect(p)

    @classmethod
    def _connect(cls, p: Path) -> Registry:
        conn = store.connect(p)
        secret, variants = store.read_meta(conn, p, SECRET_BYTES)
        return cls(p, conn, secret, variants)

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
        store.write_images(self._conn, records, indexes, now_utc())

    def record_for_output(self, out_path: str) -> ImageRecord | None:
        """The record of output ``out_path`` (absolute), or None."""
        return next(store.read_images(self._conn, "i.out_path = ?", (out_path,)), None)

    def images_of(self, name: str) -> Iterator[ImageRecord]:
        """Records of every image marked with concept ``name`` (in any region), oldest first."""
        idx = self.require(name).index
        where = "i.id IN (SELECT image_id FROM image_concepts WHERE concept_idx = ?)"
        return store.read_images(self._conn, where, (idx,))

    def lookup_sha256(self, sha256: str) -> Iterator[ImageRecord]:
        """Records whose source or marked output has content hash ``sha256``."""
        return store.read_images(self._conn, "i.src_sha256 = ? OR i.out_sha256 = ?", (sha256, sha256))

    def count_images(self) -> int:
        """How many marked outputs are recorded."""
        return self._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
