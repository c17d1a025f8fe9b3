"""``provmark verify``: what each image says about itself, and whether the claim holds."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

import provmark
from provmark.api import verify_on_ray
from provmark.cli.common import EXIT_NEGATIVE, EXIT_OK, FailureLog, echo_json, one_line_errors, ray_option
from provmark.errors import ProvmarkError


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--trust", "trust_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help="Trusted CA certificate (PEM); repeatable.")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), help="Keys folder: trusts its ca.pem, decodes with its watermark.key, looks up its manifests/.")
@click.option("--key", "watermark_key", type=click.Path(dir_okay=False, path_type=Path), help="Watermark key file (enables watermark decoding).")
@click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path), help="Manifest store folder for images whose metadata was stripped.")
@click.option("--fetch-remote", is_flag=True, help="Fetch a manifest the file points to by URL (off: reported as remote, with its URL).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@ray_option
@one_line_errors
def verify(inputs: tuple[Path, ...], trust_files: tuple[Path, ...], keys_dir: Path | None, watermark_key: Path | None,
           store_dir: Path | None, fetch_remote: bool, as_json: bool, ray_address: str | None) -> None:  # fmt: skip
    """Verify images: C2PA manifest and trust, XMP/EXIF disclosure, watermark; exit 0 only if all verified.

    With --ray the files are read on a Ray cluster (the same paths on every node)."""
    verifier = provmark.Verifier(keys_dir, trust=trust_files, watermark_key=watermark_key, store=store_dir,
                                 fetch_remote=fetch_remote)
    log = FailureLog(total=len(inputs))
    reports = []
    for path, report in _verified(inputs, verifier, ray_address):
        if isinstance(report, str):
            log.record(str(path), report)
            continue
        reports.append(report)
        if as_json:
            echo_json(report.to_dict())
    if not as_json and reports:
        _print_table(reports, watermark=verifier.options.watermark_key is not None)
    code = log.summary()
    if code == EXIT_OK and not all(r.verified for r in reports):
        code = EXIT_NEGATIVE
    sys.exit(code)


def _verified(
    inputs: tuple[Path, ...], verifier: provmark.Verifier, ray_address: str | None
) -> Iterator[tuple[Path, provmark.VerificationReport | str]]:
    """Each input with its report, or the one-line reason it failed, in input order."""
    if ray_address is not None:
        yield from verify_on_ray(inputs, verifier.options, ray_address)
        return
    for path in inputs:
        try:
            yield path, verifier.verify(path)
        except ProvmarkError as exc:
            yield path, str(exc)


def _print_table(reports: list[provmark.VerificationReport], watermark: bool) -> None:
    header = ["file", "c2pa", "integrity", "ai_generated", "source type", "signer"] + (["watermark"] if watermark else [])
    rows = []
    for r in reports:
        m = r.c2pa
        c2pa = "none" if m is None else m.state if m.source == "embedded" else f"{m.state} ({m.source})"
        if m is not None and m.problem and m.source != m.problem:
            c2pa = f"{c2pa} ({m.problem})"
        row = [r.path, c2pa, r.integrity, r.ai_label, (m and m.source_type_term) or "-", (m and m.signer) or "-"]
        if watermark:
            mark = r.watermark
            cell = mark.payload if mark and mark.detected else "none"
            row.append(f"{cell} (content {mark.content})" if mark and mark.content else cell)
        rows.append(row)
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in reports:
        for line in _notes(r):
            click.echo(f"{r.path}: {line}")
    verified = sum(r.verified for r in reports)
    click.echo(f"{verified} of {len(reports)} verified (intact manifest from a trusted signer)")


def _notes(report: provmark.VerificationReport) -> list[str]:
    """What a reader of the table needs to know beyond it: why the manifest could not be
    validated, its failed checks grouped by meaning (ingredients' apart), pixels not checked."""
    notes = []
    m = report.c2pa
    if m is not None and m.problem_detail:
        notes.append(m.problem_detail)
    if m is not None:
        groups: dict[str, list[str]] = {}
        for check in m.checks:
            where = f"ingredient {check.ingredient!r}" if check.ingredient else check.meaning
            groups.setdefault(where, []).append(check.code)
        notes += [f"failing checks ({where}): {', '.join(codes)}" for where, codes in groups.items()]
    if report.image_error:
        notes.append(f"pixels: {report.image_error}")
    return notes
