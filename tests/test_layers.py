"""Layer import rules: which package may import which (issue 17, item 3).

The table lives once, in docs/model.md ("## Layers"); this test reads it. A module may import its
own layer and layers of a lower rank, never a layer of the same or a higher rank, and never a
``_private`` name of another layer. Every ``import`` / ``from ... import`` statement counts, wherever
it is (module level, in a function, under ``if TYPE_CHECKING:``); imports by computed name
(``importlib.import_module``, ``lazy_module``) do not.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
MODEL_DOC = ROOT / "docs" / "model.md"


@dataclass(frozen=True)
class Layer:
    rank: int
    name: str
    prefixes: tuple[str, ...]


def _table_rows(text: str, header: str) -> list[list[str]]:
    """The body rows of the first Markdown table after the line starting with ``header``."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(header))
    rows, seen_table = [], False
    for line in lines[start:]:
        if line.startswith("|"):
            seen_table = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif seen_table:
            break
    return rows[1:]  # without the header row


def _names(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def read_table(text: str | None = None) -> tuple[list[Layer], list[tuple[str, str, str]]]:
    """The layers and the allowed exceptions (importer, imported, reason) of docs/model.md."""
    text = MODEL_DOC.read_text() if text is None else text
    section = text[text.index("## Layers"):]
    layers = [Layer(int(rank), name, _names(modules))
              for rank, name, modules, *_ in _table_rows(section, "| Rank | Layer")]
    exceptions = [(_names(importer)[0], _names(imported)[0], reason)
                  for importer, imported, reason in _table_rows(section, "| Importer |")]
    return layers, exceptions


LAYERS, EXCEPTIONS = read_table()


def layer_of(module: str, layers: list[Layer] = LAYERS) -> Layer | None:
    """The layer whose longest prefix matches ``module`` (None: not in the table)."""
    best, length = None, -1
    for layer in layers:
        for prefix in layer.prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = SOURCE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(module: str, source: str, is_package: bool = False) -> list[tuple[str, str | None, int]]:
    """Every zerosim import in ``source``: (imported module, imported name or None, line)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] == "zerosim"]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([target] if target else []))
            if target.split(".")[0] != "zerosim":
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.append((full, None, node.lineno) if _is_module(full) else (target, alias.name, node.lineno))
    return found


def _excepted(importer: str, target: str, name: str | None, exceptions) -> bool:
    imported = f"{target}.{name}" if name else target
    for who, what, _ in exceptions:
        if (who == "*" or importer == who or importer.startswith(who + ".")) and \
                (imported == what or imported.startswith(what + ".")):
            return True
    return False


def violations(module: str, source: str, is_package: bool = False, layers: list[Layer] = LAYERS,
               exceptions=EXCEPTIONS) -> list[str]:
    """The layer-rule breaches of one module's imports, one line each."""
    own = layer_of(module, layers)
    assert own is not None, f"{module}: in no layer; add a row for it to docs/model.md's layer table"
    problems = []
    for target, name, line in imports_of(module, source, is_package):
        other = layer_of(target, layers)
        shown = f"{target}.{name}" if name else target
        if other is None:
            problems.append(f"{module}:{line} imports {shown}, which is in no layer")
            continue
        if other.name == own.name or _excepted(module, target, name, exceptions):
            continue
        if other.rank >= own.rank:
            problems.append(f"{module}:{line} ({own.name}, rank {own.rank}) imports {shown} "
                            f"({other.name}, rank {other.rank}): points {'up' if other.rank > own.rank else 'sideways'}")
        elif name is not None and name.startswith("_"):
            problems.append(f"{module}:{line} ({own.name}) imports the private name {shown} of layer {other.name}")
    return problems


def source_modules() -> list[tuple[str, Path]]:
    return [(module_name(path), path) for path in sorted((SOURCE / "zerosim").rglob("*.py"))]


def test_no_import_points_up_or_sideways_or_takes_a_private_name():
    problems = []
    for module, path in source_modules():
        problems += violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    assert not problems, "layer rules (docs/model.md#layers) broken:\n" + "\n".join(problems)


def test_the_table_names_real_modules_and_every_module_has_a_layer():
    modules = [module for module, _ in source_modules()]
    for layer in LAYERS:
        for prefix in layer.prefixes:
            assert _is_module(prefix), f"docs/model.md layer table: {prefix} is not a module"
    assert all(layer_of(module) is not None for module in modules)
    for importer, imported, reason in EXCEPTIONS:
        assert reason, f"exception {importer} -> {imported} gives no reason"
        assert importer == "*" or _is_module(importer), importer
    # the ranks the issue fixes: the engine sits below every component layer and above the state
    rank = {layer.name: layer.rank for layer in LAYERS}
    assert rank["population"] < rank["engine"] < rank["disease"] < rank["transmission"] < rank["policy"]
    assert rank["policy"] == rank["behaviour"] == rank["ledger"] < rank["io"] < rank["api"] < rank["experiments"]


@pytest.mark.parametrize(("module", "source", "expected"), [
    # the violations issue 17 named, put back: each must be caught
    ("zerosim.engine.simulation", "from zerosim.population.synthesis import release_freed_memory", "sideways"),
    ("zerosim.ledger.components", "def f():\n    from zerosim.policy.testing import TestingCounter\n", "sideways"),
    ("zerosim.region.results", "def f():\n    from zerosim.api import _finish\n", "private name zerosim.api._finish"),
    ("zerosim.engine.ensemble", "from zerosim.api import run", "points up"),
    ("zerosim.io.problems", "from zerosim.region import config as regions", "points up"),
    ("zerosim.engine.simulation", "import zerosim.policy.zoning", "points up"),
    ("zerosim.engine", "from . import simulation\nfrom ..policy import zoning\n", "points up"),
])
def test_the_check_catches_an_upward_sideways_or_private_import(module, source, expected):
    problems = violations(module, source, is_package=module == "zerosim.engine")
    assert len(problems) == 1 and expected in problems[0], problems


def test_allowed_imports_pass():
    assert violations("zerosim.api", "from zerosim.engine.simulation import Simulation\nfrom zerosim import __version__") == []
    assert violations("zerosim.policy.testing", "from zerosim.population.testing_counts import TestingCounter") == []
    assert violations("zerosim.viz.region_figures", "from zerosim.viz.figures import _INK") == []  # own layer
    # an exception covers only what it names
    assert violations("zerosim.behaviour.components", "from zerosim.ledger.config import BehaviourConfig") == []
    assert violations("zerosim.behaviour.components", "from zerosim.ledger.kernels import x")


def test_the_table_is_read_from_the_document():
    text = """## Layers

| Rank | Layer | Modules | Holds |
|---:|---|---|---|
| 0 | low | `zerosim.errors` | x |
| 1 | high | `zerosim.api`, `zerosim.cli` | y |

| Importer | Imported | Reason |
|---|---|---|
| `zerosim.errors` | `zerosim.api.run` | because |
"""
    layers, exceptions = read_table(text)
    assert [(layer.rank, layer.name, layer.prefixes) for layer in layers] == [
        (0, "low", ("zerosim.errors",)), (1, "high", ("zerosim.api", "zerosim.cli"))]
    assert exceptions == [("zerosim.errors", "zerosim.api.run", "because")]
    assert violations("zerosim.errors", "from zerosim.api import run", layers=layers, exceptions=exceptions) == []
    assert violations("zerosim.errors", "from zerosim.cli import app", layers=layers, exceptions=exceptions)
