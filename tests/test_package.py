"""The package's own shape: no import cycle among its modules, a version."""

import ast
import subprocess
import sys
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
    from colorizer import models

    assert set(models.HEADS) == set(__import__("colorizer.config").config.HEADS)
    for name, head in models.HEADS.items():
        assert head.name == name and isinstance(head, models.Head)
    # the modules that only pass a head through never test its name
    for path in [*(PACKAGE / f"{m}.py" for m in ("train", "outputs", "cli", "evaluation",
                                                 "colorize", "demo")),
                 *(PACKAGE.parent / "research" / f"{m}.py" for m in ("shipping", "report"))]:
        assert '"classify"' not in path.read_text(), path


def test_import_colorizer_loads_none_of_the_studys_bookkeeping():
    """The package is what users run: `import colorizer` (and its CLI) pulls in no module of
    the research record, and nothing in the package names it."""
    code = ("import sys, colorizer, colorizer.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('research', 'benchmarks')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]"
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        assert "import research" not in text and "from research" not in text, path
        assert "benchmarks/results" not in text, path


def test_only_devices_asks_torch_about_cuda():
    """Every question to torch.cuda goes through colorizer.devices, so the suite's guard (which
    patches torch's own answer) sees every path that could pick a GPU by itself."""
    asks = ("torch.cuda.is_available", "torch.cuda.device_count", "torch.cuda.get_device",
            "torch.cuda.is_bf16")
    for path in PACKAGE.glob("*.py"):
        if path.name != "devices.py":
            text = path.read_text()
            assert not any(a in text for a in asks), path
