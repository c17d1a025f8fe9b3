"""``provmark keys``: create and inspect a local signing PKI and the watermark key."""

from __future__ import annotations

from pathlib import Path

import click

import provmark
from provmark.cli.common import one_line_errors


@click.group()
def keys() -> None:
    """Create and inspect signing keys and the watermark key."""


@keys.command("init")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to create the keys in.")
@click.option("--org", default="provmark", show_default=True, help="Organisation named in the certificates.")
@click.option("--force", is_flag=True, help="Replace keys already in the folder.")
@one_line_errors
def init(directory: Path, org: str, force: bool) -> None:
    """Create a test CA (ca.pem), signing chain (signer.pem), key (signer.key) and watermark.key."""
    paths = provmark.init_keys(directory, org=org, overwrite=force)
    click.echo(f"created {paths.ca}, {paths.chain}, {paths.key} (0600), {paths.watermark_key} (0600)")
    click.echo(f"trust anchor for verification: --trust {paths.ca}")


@keys.command("show")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Keys folder.")
@one_line_errors
def show(directory: Path) -> None:
    """Print who the signing certificate names, its validity and algorithm."""
    identity = provmark.load_keys(directory).identity()
    cert = identity.certificate
    click.echo(f"subject:   {cert.subject.rfc4514_string()}")
    click.echo(f"issuer:    {cert.issuer.rfc4514_string()}")
    click.echo(f"valid:     {cert.not_valid_before_utc:%Y-%m-%d} .. {cert.not_valid_after_utc:%Y-%m-%d}")
    click.echo(f"algorithm: {identity.alg}")
