"""``provmark serve``: the verification page, /verify, the soft-binding resolution API and /sign."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

import provmark
from provmark.cli.common import fail, one_line_errors

#: Environment variable holding the bearer token that enables POST /sign.
TOKEN_ENV = "PROVMARK_SIGN_TOKEN"


@click.command()
@click.option("--keys", "keys_dir", default="keys", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Keys folder: trusts its ca.pem, decodes with its watermark.key, serves its manifests/ (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--workers", default=None, type=click.IntRange(min=1), help="Worker processes, each one request at a time (default: CPU count).")
@click.option("--queue", default=64, show_default=True, type=click.IntRange(min=0), help="Requests that may wait for a worker; more get 503 with Retry-After.")
@click.option("--registry", "registry_path", default=None, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Concept registry: reports say which of its concepts an image carries (\"attribution\").")
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Per-request limit, seconds.")
@click.option("--max-upload-mb", default=25.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Largest upload.")
@click.option("--max-megapixels", default=40.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Largest image (decompression-bomb limit).")
@click.option("--key-password", envvar="PROVMARK_KEY_PASSWORD", help="Password of an encrypted signing key (or $PROVMARK_KEY_PASSWORD).")
@one_line_errors
def serve(keys_dir: Path, host: str, port: int, workers: int | None, queue: int, registry_path: Path | None, timeout_s: float,
          max_upload_mb: float, max_megapixels: float, key_password: str | None) -> None:  # fmt: skip
    """Serve the verification page and API; POST /sign is on when $PROVMARK_SIGN_TOKEN is set."""
    try:
        import uvicorn

        from provmark.api import Limits, create_app
    except ImportError as exc:
        fail(f"provmark serve needs the [serve] extra (pip install 'provmark[serve]'): {exc}")
    if not keys_dir.exists():
        provmark.init_keys(keys_dir, org="provmark service")
        click.echo(f"created keys in {keys_dir} (CA, signer, watermark key; manifests/ is the store)", err=True)
    token = os.environ.get(TOKEN_ENV) or None
    limits = Limits(
        max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=int(max_megapixels * 1e6), timeout_s=timeout_s,
        workers=workers or max(1, os.cpu_count() or 1), queue=queue,
    )  # fmt: skip
    app = create_app(keys_dir, limits, sign_token=token, registry=registry_path, password=key_password)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app.state.service.pool.start()  # here, so a worker that cannot start is one clear line
    signing = "on (bearer token from $PROVMARK_SIGN_TOKEN)" if token else f"off (set ${TOKEN_ENV} to enable)"
    concepts = f"  concepts from {registry_path}" if registry_path else ""
    click.echo(f"provmark serve: http://{host}:{port}/  store {keys_dir / 'manifests'}  signing {signing}{concepts}  "
               f"{limits.workers} workers", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", server_header=False)

