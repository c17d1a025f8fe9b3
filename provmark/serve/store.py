"""The manifest store as a service worker reads it: entries cached once read.

An entry (manifest store and content fingerprint, under a random payload) never changes once
written, so what a worker has read it keeps; what it has not found it looks for again, since
another worker may have signed it since.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import TypeVar

from provmark.c2pa.fingerprint import Fingerprint
from provmark.c2pa.store import ManifestStore

#: Entries a worker keeps (a manifest store is a few KB, a fingerprint 4 KB).
CACHED_ENTRIES = 1024

K = TypeVar("K")
V = TypeVar("V")


class Recent(OrderedDict[K, V]):
    """A dict of at most ``size`` entries: adding one past that drops the oldest."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


class CachedStore(ManifestStore):
    """A :class:`~provmark.c2pa.store.ManifestStore` whose found entries are kept in memory."""

    def __init__(self, root: str | os.PathLike[str], size: int = CACHED_ENTRIES) -> None:
        super().__init__(root)
        self._stores: Recent[bytes, bytes] = Recent(size)
        self._fingerprints: Recent[bytes, Fingerprint] = Recent(size)

    def get(self, payload: bytes) -> bytes | None:
        """The manifest store under ``payload`` (from memory once read), or None."""
        found = self._stores.get(payload)
        if found is None and (found := super().get(payload)) is not None:
            self._stores[payload] = found
        return found

    def fingerprint(self, payload: bytes) -> Fingerprint | None:
        """The fingerprint kept with ``payload`` (from memory once read), or None."""
        found = self._fingerprints.get(payload)
        if found is None and (found := super().fingerprint(payload)) is not None:
            self._fingerprints[payload] = found
        return found
