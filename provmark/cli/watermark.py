"""``provmark embed`` and ``provmark decode``: files through :func:`provmark.embed` and :func:`provmark.decode`."""

from __future__ import annotations

from pathlib import Path

import click

import provmark
from provmark.api import PAYLOAD_BYTES, embed_file, parse_payload
from provmark.cli.common import EXIT_FAILED, EXIT_NEGATIVE, EXIT_OK, EXIT_USAGE, FailureLog, echo_json, fail, one_line_errors
from provmark.errors import OutputError, ProvmarkError, WatermarkError

_INPUTS = click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
_KEY = click.option("--key", "key_file", required=True, type=click.Path(path_type=Path), help="Watermark key file (hex).")


def _parse_payload(text: str) -> bytes:
    try:
        return parse_payload(text)
    except WatermarkError as exc:
        fail(f"--payload: {exc}", EXIT_USAGE)


def _output_path(source: Path, out_dir: Path, inputs: set[Path], taken: set[Path]) -> Path:
    target = out_dir / source.name
    resolved = target.resolve()
    if resolved in inputs:
        raise OutputError(f"{source}: refusing to overwrite an input ({target}); choose another --out folder")
    if resolved in taken:
        raise OutputError(f"{source}: another input already writes {target}")
    taken.add(resolved)
    return target


@click.command()
@_INPUTS
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output folder.")
@click.option("--payload", required=True, help=f"Payload: {2 * PAYLOAD_BYTES} hex digits ({8 * PAYLOAD_BYTES} bits).")
@_KEY
@click.option("--strength", default=1.0, show_default=True, type=click.FloatRange(min=0.0, min_open=True),
              help="Residual strength (multiplies the per-image strength unless --fixed-strength).")
@click.option("--fixed-strength", is_flag=True, help="Use --strength as is, without the per-image closed-loop strength (1.0-2.0).")
@click.option("--quality", type=click.IntRange(1, 100), help="JPEG/WebP quality (default: the source's).")
@one_line_errors
def embed(inputs: tuple[Path, ...], out_dir: Path, payload: str, key_file: Path, strength: float, fixed_strength: bool,
          quality: int | None) -> None:  # fmt: skip
    """Embed an invisible watermark PAYLOAD into images, written to OUT with the same names and formats."""
    data = _parse_payload(payload)
    key = provmark.load_watermark_key(key_file)
    resolved_inputs = {p.resolve() for p in inputs}
    taken: set[Path] = set()
    log = FailureLog(total=len(inputs))
    for source in inputs:
        try:
            target = _output_path(source, out_dir, resolved_inputs, taken)
            applied = embed_file(source, target, data, key, strength=strength, adaptive=not fixed_strength, quality=quality)
        except ProvmarkError as exc:
            log.record(str(source), str(exc))
            continue
        click.echo(f"{source} -> {target} (strength {applied:.2f})")
    raise SystemExit(log.summary())


@click.command()
@_INPUTS
@_KEY
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@one_line_errors
def decode(inputs: tuple[Path, ...], key_file: Path, as_json: bool) -> None:
    """Read watermark payloads from images (exit 3 if any image carries none)."""
    key = provmark.load_watermark_key(key_file)
    log = FailureLog(total=len(inputs))
    negative = False
    header = not as_json
    for source in inputs:
        try:
            result = provmark.decode(source, key)
        except ProvmarkError as exc:
            log.record(str(source), str(exc))
            continue
        negative |= not result.detected
        payload = result.payload.hex() if result.payload is not None else None
        if as_json:
            echo_json(
                {
                    "path": str(source),
                    "detected": result.detected,
                    "payload": payload,
                    "p_value": result.p_value,
                    "bit_confidence_mean": round(result.bit_confidence_mean, 4),
                    "errors_corrected": result.errors_corrected,
                }
            )
        else:
            if header:
                click.echo(f"{'detected':<9} {'payload':<17} {'p-value':<9} {'errors':>6}  path")
                header = False
            errors = "-" if result.errors_corrected is None else str(result.errors_corrected)
            click.echo(f"{'yes' if result.detected else 'no':<9} {payload or '-':<17} {result.p_value:<9.1e} {errors:>6}  {source}")
    code = log.summary()
    raise SystemExit(EXIT_FAILED if code != EXIT_OK else EXIT_NEGATIVE if negative else EXIT_OK)
