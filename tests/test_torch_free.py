"""The coding core, keys, registry, C2PA and verification import no torch (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "provmark",
    "provmark.watermark",
    "provmark.watermark.codec",
    "provmark.watermark.scramble",
    "provmark.watermark.calibration",
    "provmark.watermark.decision",
    "provmark.watermark.keyfile",
    "provmark.watermark.planes",
    "provmark.watermark.concept_channel",
    "provmark.concepts.codes",
    "provmark.concepts.codebook",
    "provmark.concepts.layout",
    "provmark.concepts.records",
    "provmark.concepts.store",
    "provmark.concepts.registry",
    "provmark.keys",
    "provmark.c2pa",
    "provmark.metadata",
    "provmark.detect.verify",
    "provmark.detect.audit",
    "provmark.api",
    "provmark.cli.main",
    "provmark.cli.keys",
    "provmark.cli.sign",
    "provmark.cli.verify",
    "provmark.cli.concepts",
]


#: Front-door names that must not need torch (C2PA-only verification, keys, registries).
LIGHT_API = ["verify", "Verifier", "load_keys", "init_keys", "Keys", "Registry", "ConceptSpec", "Disclosure", "VerificationReport"]


def _loads_torch(modules: list[str], names: tuple[str, ...] | list[str] = ()) -> bool:
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        f"import provmark\nfor n in {names!r}: getattr(provmark, n)\nprint('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip() == "True"


def test_core_modules_do_not_import_torch() -> None:
    assert not _loads_torch(CORE, LIGHT_API)


def test_front_door_names_resolve_and_pixel_calls_load_torch() -> None:
    import provmark

    for name in provmark.__all__:
        assert getattr(provmark, name) is not None, name
    assert _loads_torch([], ["embed"])


@pytest.mark.parametrize("module", ["provmark.watermark.marking", "provmark.concepts.marker"])
def test_pixel_modules_do_import_torch(module: str) -> None:
    """The check can fail: modules that run the neural mark do load torch."""
    assert _loads_torch([module])
