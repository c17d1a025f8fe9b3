"""The runnable ``>>>`` examples of the concept modules give what they show (file-touching ones are skipped)."""

from __future__ import annotations

import doctest
import types

import pytest

from provmark.concepts import catalog, layout, records, registry, sources, store, tables


@pytest.mark.parametrize("module", [catalog, layout, records, registry, sources, store, tables], ids=lambda m: m.__name__)
def test_examples_run(module: types.ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
