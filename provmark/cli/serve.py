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
@click.option("--workers", default=None, type=click.IntRange(min=1), help="Requests processed at once (default: CPU count).")
@click.option("--queue", default=64, show_default=True, type=click.IntRange(min=0), help="Requests that may wait for a worker.")
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Per-request limit, seconds.")
@click.option("--max-upload-mb", default=25.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Largest upload.")
@click.option("--max-megapixels", default=40.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Largest image (decompression-bomb limit).")
@click.option("--key-password", envvar="PROVMARK_KEY_PASSWORD", help="Password of an encrypted signing key (or $PROVMARK_KEY_PASSWORD).")
@one_line_errors
def serve(keys_dir: Path, host: str, port: int, workers: int | None, queue: int, timeout_s: float, max_upload_mb: float,
          max_megapixels: float, key_password: str | None) -> None:  # fmt: skip
    """Serve the verification page and API; POST /sign is on when $PROVMARK_SIGN_TOKEN is set."""
    try:
        import uvicorn

        from provmark.api import Engine, Limits, create_app
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
    engine = Engine(keys_dir, password=key_password, signing=token is not None)
    _one_torch_thread_per_worker(limits.workers)
    engine.warm_up()
    app = create_app(engine, limits, sign_token=token)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signing = "on (bearer token from $PROVMARK_SIGN_TOKEN)" if token else f"off (set ${TOKEN_ENV} to enable)"
    click.echo(f"provmark serve: http://{host}:{port}/  store {keys_dir / 'manifests'}  signing {signing}", err=True)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", server_header=False)


def _one_torch_thread_per_worker(workers: int) -> None:
    """Split the cores between the workers instead of letting each use all of them."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
