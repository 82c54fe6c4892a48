"""The package's layers: every import, at module level or inside a function, points down (or sideways).

The table is the one in docs/architecture.md. A module belongs to the layer of
the longest prefix that names it; a module no prefix names fails the test, so
a new package has to take its place in the table first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "genotx"

# Lower numbers are lower layers; a module may import from its own layer or any below it.
LAYERS = {
    "genotx": 0, "genotx.errors": 0, "genotx.runtime": 0, "genotx.progress": 0, "genotx.presets": 0,
    "genotx.shipped": 0,
    "genotx.io": 1,
    "genotx.tokenizers": 2,
    "genotx.ops": 3,
    "genotx.models": 4,
    "genotx.tasks": 5, "genotx.taxon": 5,
    "genotx.objectives": 6,
    "genotx.inference": 7, "genotx.taxon.classifier": 7, "genotx.motifs": 7,
    "genotx.train": 8,
    "genotx.grid": 9, "genotx.scaling": 9,
    "genotx.cli": 10, "genotx.__main__": 10,
    "genotx.tools": 11,
}


def layer(module: str) -> int | None:
    """Layer of the longest prefix of ``module`` in the table (None: outside genotx, or not in the table)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS and (n > 1 or module == "genotx"):
            return LAYERS[prefix]
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str | None = None):
    """(line, module) of every import in the file, wherever it sits; relative ones resolved."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from genotx.train import loop` imports genotx.train.loop: judge the submodule too.
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert [str(p.relative_to(REPO)) for p in SOURCES if layer(module_name(p)) is None] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_points_to_a_higher_layer(path):
    own = layer(module_name(path))
    upward = []
    for line, target in imported_modules(path):
        if not target.startswith("genotx"):
            continue
        theirs = layer(target)
        if theirs is not None and theirs > own:
            upward.append(f"line {line}: {target} (layer {theirs} > {own})")
    assert upward == []


def test_the_layer_walk_sees_imports_inside_functions(tmp_path):
    """The check must be able to fail: imports of higher layers hidden in a function of io/ are found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from genotx.train.loop import pretrain\n    from ..objectives import windows\n")
    targets = [t for _, t in imported_modules(probe, "genotx.io.probe")]
    assert "genotx.train.loop" in targets and "genotx.objectives.windows" in targets
    assert min(layer(t) for t in targets) > layer("genotx.io.probe")


def test_inference_needs_nothing_from_training():
    for path in (PACKAGE / "inference").rglob("*.py"):
        assert not [t for _, t in imported_modules(path) if t.startswith("genotx.train")], path


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_module_is_under_400_lines(path):
    assert len(path.read_text().splitlines()) < 400
