"""The registry's SQLite file: schema, opening checks, and the marked-image rows.

:class:`provmark.concepts.registry.Registry` owns the connection; this module knows the
tables. Registries made before keyed variants existed lack ``image_concepts.variant``: it
reads as 0 and is added on the first write.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from provmark.concepts.records import ImageRecord
from provmark.errors import RegistryError

SCHEMA_VERSION = "1"

#: The first bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"

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


def check_is_sqlite(p: Path) -> None:
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


def connect(p: Path) -> sqlite3.Connection:
    """A connection to the database at ``p`` (WAL, foreign keys on, autocommit)."""
    try:
        conn = sqlite3.connect(p, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn
    except sqlite3.Error as exc:
        raise RegistryError(f"{p}: not a concept registry ({exc})") from exc


def create_file(p: Path, secret: bytes, variants: int) -> None:
    """Create a registry database at ``p`` (which must not exist; mode 0600) holding ``secret``."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise RegistryError(f"{p}: already exists") from None
    except OSError as exc:
        raise RegistryError(f"{p}: cannot create registry: {exc.strerror or exc}") from exc
    conn = connect(p)
    with conn:
        conn.executescript(_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        conn.execute("INSERT INTO meta VALUES ('secret', ?)", (secret,))
        conn.execute("INSERT INTO meta VALUES ('variants', ?)", (str(variants),))
    conn.close()


def read_meta(conn: sqlite3.Connection, p: Path, secret_bytes: int) -> tuple[bytes, int]:
    """The registry's secret and variant count; RegistryError (connection closed) if ``p`` is not one."""
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as exc:
        conn.close()
        raise RegistryError(f"{p}: not a concept registry ({exc})") from exc
    secret = rows.get("secret")
    if rows.get("schema_version") != SCHEMA_VERSION or not isinstance(secret, bytes) or len(secret) != secret_bytes:
        conn.close()
        raise RegistryError(f"{p}: not a concept registry of this provmark version (or corrupt)")
    return secret, int(rows.get("variants", 1))


def has_variants(conn: sqlite3.Connection) -> bool:
    """Whether ``image_concepts`` has its ``variant`` column."""
    return any(row[1] == "variant" for row in conn.execute("PRAGMA table_info(image_concepts)"))


def write_images(
    conn: sqlite3.Connection, records: Sequence[ImageRecord], indexes: Mapping[str, int], now: str
) -> None:
    """Record ``records`` in one transaction (all or none), each replacing any earlier row of its
    output path; ``indexes`` maps every concept name they use to its index."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        if not has_variants(conn):  # a registry made before variants: every image so far has variant 0
            conn.execute("ALTER TABLE image_concepts ADD COLUMN variant INTEGER NOT NULL DEFAULT 0")
        for record in records:
            conn.execute("DELETE FROM images WHERE out_path = ?", (record.out_path,))
            cur = conn.execute(
                "INSERT INTO images (out_path, src_path, src_sha256, out_sha256, src_size, src_mtime_ns,"
                " out_size, out_mtime_ns, layout, marked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.out_path, record.src_path, record.src_sha256, record.out_sha256, record.src_size,
                    record.src_mtime_ns, record.out_size, record.out_mtime_ns, record.layout,
                    record.marked_at or now,
                ),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO image_concepts (image_id, region, concept_idx, variant) VALUES (?, ?, ?, ?)",
                [
                    (cur.lastrowid, region, indexes[name], record.variants.get(region, 0))
                    for region, name in record.concepts.items()
                ],
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def read_images(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> Iterator[ImageRecord]:
    """The image records matching SQL condition ``where`` on ``images i``, oldest first."""
    query = (
        "SELECT i.id, i.src_path, i.out_path, i.src_sha256, i.out_sha256, i.src_size, i.src_mtime_ns,"
        " i.out_size, i.out_mtime_ns, i.layout, i.marked_at FROM images i WHERE " + where + " ORDER BY i.id"
    )
    variant_column = "ic.variant" if has_variants(conn) else "0"
    for row in conn.execute(query, params):
        marks = conn.execute(
            f"SELECT ic.region, c.name, {variant_column} FROM image_concepts ic"
            " JOIN concepts c ON c.idx = ic.concept_idx WHERE ic.image_id = ? ORDER BY ic.rowid",
            (row[0],),
        ).fetchall()
        concepts = {region: name for region, name, _ in marks}
        variants = {region: variant for region, _, variant in marks if variant}
        yield ImageRecord(*row[1:10], concepts=concepts, marked_at=row[10], variants=variants)
