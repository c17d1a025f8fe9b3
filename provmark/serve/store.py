"""The manifest store as a service worker reads it: entries cached once read.

An entry (manifest store and content fingerprint, under a random payload) never changes once
written, so what a worker has read it keeps; what it has not found it looks for again, since
another worker may have signed it since.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Generic, TypeVar

from provmark.c2pa.fingerprint import Fingerprint
from provmark.c2pa.store import ManifestStore

#: Entries a worker keeps (a manifest store is a few KB, a fingerprint 4 KB).
CACHED_ENTRIES = 1024

V = TypeVar("V")


class _Recent(Generic[V]):
    """The last ``size`` values found, by payload."""

    def __init__(self, size: int) -> None:
        self.size, self._items = size, OrderedDict[bytes, V]()

    def get(self, key: bytes) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: bytes, value: V) -> V:
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class CachedStore(ManifestStore):
    """A :class:`~provmark.c2pa.store.ManifestStore` whose found entries are kept in memory."""

    def __init__(self, root: str | os.PathLike[str], size: int = CACHED_ENTRIES) -> None:
        super().__init__(root)
        self._stores: _Recent[bytes] = _Recent(size)
        self._fingerprints: _Recent[Fingerprint] = _Recent(size)

    def get(self, payload: bytes) -> bytes | None:
        """The manifest store under ``payload`` (from memory once read), or None."""
        found = self._stores.get(payload)
        if found is None and (found := super().get(payload)) is not None:
            self._stores.put(payload, found)
        return found

    def fingerprint(self, payload: bytes) -> Fingerprint | None:
        """The fingerprint kept with ``payload`` (from memory once read), or None."""
        found = self._fingerprints.get(payload)
        if found is None and (found := super().fingerprint(payload)) is not None:
            self._fingerprints.put(payload, found)
        return found
