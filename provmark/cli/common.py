"""Shared CLI plumbing: exit codes, one-line errors, batch failure reports, JSON lines."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from provmark.errors import ProvmarkError

EXIT_OK = 0
#: At least one input could not be processed (bad file, bad key, unwritable output).
EXIT_FAILED = 1
#: click's own exit code for usage errors.
EXIT_USAGE = 2
#: Everything was processed, but the answer is negative (not verified, nothing detected).
EXIT_NEGATIVE = 3

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_FAILED) -> None:
    """Print ``provmark: error: message`` on stderr and exit with ``code``."""
    click.echo(f"provmark: error: {message}", err=True)
    sys.exit(code)


def warn(message: str) -> None:
    """Print ``provmark: warning: message`` on stderr (the command goes on)."""
    click.echo(f"provmark: warning: {message}", err=True)


def one_line_errors(func: F) -> F:
    """Turn a :class:`ProvmarkError` escaping a command into one line on stderr and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProvmarkError as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


@dataclass
class FailureLog:
    """Collects per-file failures of a batch command and reports them at the end."""

    total: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def record(self, path: str, reason: str) -> None:
        """Remember that ``path`` failed, and say so at once on stderr."""
        line = reason if reason.startswith(path) else f"{path}: {reason}"
        self.failures.append((path, line))
        click.echo(f"provmark: error: {line}", err=True)

    def summary(self) -> int:
        """Print the failure list (if any) and return the exit code it implies."""
        if not self.failures:
            return EXIT_OK
        click.echo(f"provmark: {len(self.failures)} of {self.total} file(s) failed:", err=True)
        for _, line in self.failures:
            click.echo(f"  {line}", err=True)
        return EXIT_FAILED


def echo_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on one line."""
    click.echo(json.dumps(obj, sort_keys=False, default=str))


#: ``--ray [ADDRESS]``: run a batch command on a Ray cluster (a bare ``--ray`` gives "").
ray_option = click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="Run on a Ray cluster: ADDRESS as for 'ray start' (e.g. auto, HOST:6379, ray://HOST:10001); "
    "without one, RAY_ADDRESS or a Ray instance on this machine. Needs provmark[ray].",
)
