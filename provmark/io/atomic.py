"""Atomic file writes: readers never see a half-written output."""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from provmark.errors import OutputError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: int | None = None, sync: bool = True) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    ``mode`` sets the file's permission bits (e.g. ``0o600`` for private keys). With
    ``sync=False`` the data is not flushed to disk before the rename: for batch writers that
    flush the whole file system once per batch (:func:`sync_folder`) before recording.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, mode: int | None = None, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, mode=mode, sync=sync) as handle:
        handle.write(data)


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder if needed and check it is writable (fail once, not per file).

    >>> prepare_out_dir("signed")  # doctest: +SKIP
    PosixPath('signed')
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out} is not writable")
    return out


def sync_folder(path: str | os.PathLike[str]) -> None:
    """Flush every written file of the file system holding ``path`` to disk (``syncfs``; ``sync`` where
    that is missing): one call makes a whole batch of ``sync=False`` writes durable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
    except (OSError, AttributeError):
        os.sync()
        return
    try:
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
