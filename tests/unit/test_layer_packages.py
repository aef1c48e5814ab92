"""Packages by audience: the Lambda layer holds exactly what the deployed functions import, and never
imports the client SDK, the operator tools or the devstack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

LAYER = ROOT / "layers" / "backbeat"
FORBIDDEN = ("backbeat_client", "backbeat_ops", "tqdm", "devstack")


def _module_name(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in (LAYER / "backbeat").rglob("*.py")}


def _imports(path: Path, module: str) -> set[str]:
    """Every module name an import statement in the file names (anywhere in it, lazy imports
    included), with `from a import b` counted as both `a` and `a.b`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _reached_from_functions(modules: dict[str, Path]) -> set[str]:
    pending = [name for app in ROOT.glob("functions/*/app.py") for name in _imports(app, "app")]
    reached: set[str] = set()
    while pending:
        parts = pending.pop().split(".")
        for length in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
            name = ".".join(parts[:length])
            if name in modules and name not in reached:
                reached.add(name)
                pending.extend(_imports(modules[name], name))
    return reached


def test_every_layer_module_is_imported_by_a_deployed_function() -> None:
    modules = _layer_modules()
    assert "backbeat.playlists.service" in modules  # the walk sees the layer
    unused = sorted(set(modules) - _reached_from_functions(modules))
    assert unused == [], f"layer modules no function imports (move them to packages/): {unused}"


@pytest.mark.parametrize("module", sorted(_layer_modules()))
def test_the_layer_imports_no_client_ops_or_devstack_code(module: str) -> None:
    path = _layer_modules()[module]
    imported = _imports(path, module)
    wrong = sorted(name for name in imported if name.split(".")[0] in FORBIDDEN)
    assert wrong == [], f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_walk_finds_a_module_only_a_tool_imports(tmp_path: Path) -> None:
    """The check itself can fail: the operator tools' modules are not reached from any function."""
    modules = _layer_modules()
    modules["backbeat.orphan"] = tmp_path / "orphan.py"
    (tmp_path / "orphan.py").write_text("import backbeat.plain\n", encoding="utf-8")
    assert "backbeat.orphan" not in _reached_from_functions(modules)
