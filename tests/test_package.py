"""The package's own shape: no import cycle among its modules, a version."""

import ast
from pathlib import Path

import colorizer

PACKAGE = Path(colorizer.__file__).parent


def imports_of(path):
    """The package modules a module imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & {p.stem for p in PACKAGE.glob("*.py")}


def test_the_modules_import_one_another_without_a_cycle():
    graph = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    state = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join(path + [module])
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            if other != "__init__":
                visit(other, path + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])


def test_the_package_has_one_version_the_changelog_names():
    import tomllib

    root = PACKAGE.parent
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "colorizer.__version__"}
    assert f"## {colorizer.__version__} " in (root / "CHANGELOG.md").read_text()


def test_a_head_is_one_class_and_one_registry_line():
    from colorizer import heads

    assert set(heads.HEADS) == set(__import__("colorizer.config").config.HEADS)
    for name, head in heads.HEADS.items():
        assert head.name == name and isinstance(head, heads.Head)
    # the modules that only pass a head through never test its name
    for module in ("train", "outputs", "shipping", "report", "cli", "evaluation", "colorize",
                   "demo"):
        assert '"classify"' not in (PACKAGE / f"{module}.py").read_text(), module
