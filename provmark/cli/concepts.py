"""``provmark concepts``: create and query a concept registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

import provmark
from provmark.api import CsvRowsError, ImageRecord, read_concept_csv
from provmark.cli.common import EXIT_FAILED, EXIT_NEGATIVE, echo_json, fail, one_line_errors

registry_option = click.option(
    "--registry",
    "registry_path",
    required=True,
    envvar="PROVMARK_REGISTRY",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Concept registry file (SQLite; env PROVMARK_REGISTRY).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")


@click.group()
def concepts() -> None:
    """Manage a concept registry: add, import, list, and find marked images."""


def _created(path: Path) -> bool:
    if path.exists():
        return False
    click.echo(f"provmark: creating registry {path} with a new secret (keep this file private)", err=True)
    return True


@concepts.command()
@registry_option
@click.argument("names", nargs=-1, required=True)
@click.option("--owner", default="", help="Owner (contributor, agency) of the concepts.")
@click.option("--licence", "--license", "licence", default="", help="Licence of the concepts' images.")
@click.option("--training-terms", default="", help="Terms for training on the concepts' images.")
@one_line_errors
def add(registry_path: Path, names: tuple[str, ...], owner: str, licence: str, training_terms: str) -> None:
    """Register concepts NAME... (the registry is created if missing)."""
    with provmark.Registry.open(registry_path, create=_created(registry_path)) as reg:
        added = reg.add([provmark.ConceptSpec(n, owner, licence, training_terms) for n in names])
    for concept in added:
        click.echo(f"added concept {concept.name!r} (#{concept.index})")


@concepts.command("import")
@registry_option
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def import_(registry_path: Path, csv_file: Path) -> None:
    """Register the concepts of a CSV with columns name, owner, licence, training terms.

    Nothing is imported if any row is bad (empty or duplicate name, name already registered).
    """
    with provmark.Registry.open(registry_path, create=_created(registry_path)) as reg:
        try:
            specs = read_concept_csv(csv_file, is_taken=lambda name: reg.get(name) is not None)
        except CsvRowsError as exc:
            for problem in exc.problems:
                click.echo(f"provmark: error: {csv_file}: {problem}", err=True)
            fail(f"{csv_file}: {len(exc.problems)} bad row(s), nothing imported")
        added = reg.add(specs)
    click.echo(f"imported {len(added)} concept(s) into {registry_path}")


@concepts.command("list")
@registry_option
@json_option
@one_line_errors
def list_(registry_path: Path, as_json: bool) -> None:
    """List the registered concepts (never the secret)."""
    with provmark.Registry.open(registry_path) as reg:
        found = reg.concepts()
    if as_json:
        for c in found:
            echo_json({"index": c.index, "name": c.name, "owner": c.owner, "licence": c.licence,
                       "training_terms": c.training_terms, "created": c.created})  # fmt: skip
        return
    click.echo(f"{'#':>6}  {'name':<24} {'owner':<20} {'licence':<16} training terms")
    for c in found:
        click.echo(f"{c.index:>6}  {c.name:<24} {c.owner:<20} {c.licence:<16} {c.training_terms}")
    click.echo(f"{len(found)} concept(s)", err=True)


def _echo_record(record: ImageRecord, as_json: bool) -> None:
    if as_json:
        echo_json({"src_path": record.src_path, "src_sha256": record.src_sha256, "out_path": record.out_path,
                   "out_sha256": record.out_sha256, "concepts": record.concepts, "layout": record.layout,
                   "marked_at": record.marked_at})  # fmt: skip
    else:
        names = ", ".join(record.concepts.values())
        click.echo(f"{record.marked_at}  {names:<20}  {record.src_path} -> {record.out_path}")


@concepts.command()
@registry_option
@click.argument("name")
@json_option
@one_line_errors
def images(registry_path: Path, name: str, as_json: bool) -> None:
    """List every image marked with concept NAME (source, output, hashes, time)."""
    count = 0
    with provmark.Registry.open(registry_path) as reg:
        for record in reg.images_of(name):
            _echo_record(record, as_json)
            count += 1
    click.echo(f"{count} image(s) marked with {name!r}", err=True)


@concepts.command()
@registry_option
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@one_line_errors
def lookup(registry_path: Path, files: tuple[Path, ...], as_json: bool) -> None:
    """Find FILE... in the registry by content hash (as sources or as marked copies).

    Exit 3 if some file is not found. For re-encoded copies use 'provmark attribute'.
    """
    missing = failed = 0
    with provmark.Registry.open(registry_path) as reg:
        for path in files:
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                click.echo(f"provmark: error: {path}: cannot read: {exc.strerror or exc}", err=True)
                failed += 1
                continue
            records = list(reg.lookup_sha256(digest))
            if as_json:
                echo_json({"path": str(path), "sha256": digest, "found": [
                    {"src_path": r.src_path, "out_path": r.out_path, "concepts": r.concepts, "marked_at": r.marked_at}
                    for r in records]})  # fmt: skip
            elif not records:
                click.echo(f"{path}: not in the registry")
            for record in [] if as_json else records:
                click.echo(f"{path}: {', '.join(record.concepts.values())} ({record.src_path}, {record.marked_at})")
            missing += not records
    raise SystemExit(EXIT_FAILED if failed else EXIT_NEGATIVE if missing else 0)
