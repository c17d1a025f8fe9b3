"""Layering rules read from the source: the CLI reaches the library only through the public API.

``provmark/cli/*.py`` may import ``provmark``, ``provmark.api``, ``provmark.errors`` and each
other; any other ``provmark.*`` module they name (an import, ``from provmark import <module>``,
an attribute chain ``provmark.<module>.x``, or a dotted string handed to ``importlib``) is a
layering break. The public calls each carry a docstring with an example, and no module of
provmark grows past ~300 lines.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import provmark
import provmark.api

PACKAGE = Path(provmark.__file__).parent
#: Modules of provmark the CLI may name.
CLI_MAY_USE = {"api", "errors", "cli"}
#: provmark's own modules and subpackages (``provmark.<name>``).
SUBMODULES = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"} | {
    p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
}
DOTTED = re.compile(r"provmark(\.\w+)+(:\w+)?")


def _breaks(name: str) -> bool:
    """Whether naming ``name`` (``provmark.x.y`` or ``provmark.x:attr``) reaches past the public API."""
    parts = name.split(":")[0].split(".")
    return parts[0] == "provmark" and len(parts) > 1 and parts[1] in SUBMODULES and parts[1] not in CLI_MAY_USE


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for an attribute chain rooted at a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def layering_breaks(source: str) -> list[str]:
    """Each place in ``source`` (a CLI module) that names a provmark module outside the public API."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            package = "provmark.cli".rsplit(".", node.level - 1)[0] if node.level else ""  # relative to provmark.cli
            module = ".".join(part for part in (package, node.module) if part)
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [d for d in [_dotted(node)] if d]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.fullmatch(node.value):
            names = [node.value]
        found += [f"line {node.lineno}: {name}" for name in names if _breaks(name)]
    return sorted(set(found))


CLI_MODULES = sorted((PACKAGE / "cli").glob("*.py"))


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: p.name)
def test_cli_module_uses_only_the_public_api(path: Path) -> None:
    assert layering_breaks(path.read_text()) == []


def test_the_check_finds_each_kind_of_layering_break() -> None:
    source = (
        "import provmark\n"
        "import provmark.models.training\n"
        "from provmark.concepts.catalog import walk_catalog\n"
        "from provmark import io\n"
        "def f():\n"
        "    from provmark.cluster import map_ordered\n"
        "    provmark.concepts.marker.mark_concepts(1)\n"
        "    importlib.import_module('provmark.serve')\n"
        "COMMANDS = {'x': 'provmark.detect.verify:verify'}\n"
        "from ..keys import load_keys\n"
    )
    assert {b.split(": ", 1)[1] for b in layering_breaks(source)} == {
        "provmark.models.training",
        "provmark.concepts.catalog",
        "provmark.concepts.catalog.walk_catalog",
        "provmark.io",
        "provmark.cluster",
        "provmark.cluster.map_ordered",
        "provmark.concepts.marker.mark_concepts",
        "provmark.concepts.marker",
        "provmark.concepts",
        "provmark.serve",
        "provmark.detect.verify:verify",
        "provmark.keys",
        "provmark.keys.load_keys",
    }
    assert not layering_breaks(
        "import provmark\nfrom provmark.api import mark_catalog\nfrom provmark.errors import ProvmarkError\n"
        "from provmark.cli.common import fail\nprovmark.embed(1)\nprovmark.api.train_model(2)\n"
        "X = 'provmark.cli.keys:keys'\nfrom provmark import Registry\nfrom .common import fail\nfrom .. import api\n"
    )


def test_every_front_door_name_is_in_the_api_table_and_resolves() -> None:
    assert set(provmark.__all__) - {"__version__"} <= set(provmark.api.__all__)
    for name in provmark.api.__all__:
        assert getattr(provmark.api, name) is not None, name
    with pytest.raises(AttributeError):
        provmark.api.not_a_public_name  # noqa: B018


def _needs_example(value: object) -> bool:
    """Calls and stateful objects need an example; result and option dataclasses, errors and constants do not."""
    if inspect.isfunction(value):
        return True
    return inspect.isclass(value) and not dataclasses.is_dataclass(value) and not issubclass(value, BaseException)


@pytest.mark.parametrize(
    "name",
    [n for n in provmark.api.__all__ if _needs_example(getattr(provmark.api, n))],
)
def test_public_calls_document_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(provmark.api, name)) or ""
    assert ">>>" in doc, f"provmark.api.{name} has no example in its docstring"


#: Most lines a module of provmark has ("no module over ~300 lines").
MAX_LINES = 310
def test_modules_stay_small() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
