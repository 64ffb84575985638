"""The package's own shape: no import cycle among its modules, a version."""

import ast
import subprocess
import sys
from pathlib import Path

import colorizer

PACKAGE = Path(colorizer.__file__).parent


def module_name(path):
    """colorizer/serving/demo.py -> 'serving.demo' (the package's own modules, by dotted name)."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__") or "__init__"


def modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path, top_only=False):
    """The package modules a module imports, at its top (or, unless top_only, inside a function
    too), by dotted name."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    if here == ["__init__"]:
        package = []
    nodes = ast.parse(path.read_text()).body if top_only else ast.walk(ast.parse(path.read_text()))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package[:len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            found.update(".".join([*base, *([node.module] if node.module else []), a.name])
                         for a in node.names)
    return found & set(modules())


def test_the_modules_import_one_another_without_a_cycle():
    """(a core module's reach into serving or scale, inside a function, is not an edge: the
    next test holds it there)"""
    graph = {m: {o for o in imports_of(p)
                 if "." in m or o.split(".")[0] not in ("serving", "scale")}
             for m, p in modules().items() if m != "__init__"}
    state = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join(path + [module])
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            if other not in ("__init__", "serving", "scale"):
                visit(other, path + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])


# The core modules that reach serving or scale, each inside the one function that needs it: the
# CLI's serving commands, the disk cache (data.open_images) and torchrun (train.processes)
REACHES_OUT = {"cli", "data", "train"}


def test_the_core_never_imports_serving_or_scale_at_its_top():
    core = {m: p for m, p in modules().items() if "." not in m and m not in ("serving", "scale")}
    for name, path in core.items():
        outside = {m for m in imports_of(path, top_only=True)
                   if m.split(".")[0] in ("serving", "scale")}
        assert not outside, f"{name} imports {outside} at its top"
        anywhere = {m for m in imports_of(path) if m.split(".")[0] in ("serving", "scale")}
        assert not anywhere or name in REACHES_OUT, f"{name} imports {anywhere}"


def test_train_help_loads_no_serving_or_scale_module():
    """`python -m colorizer train --help` (and so a plain run's start) loads the core alone."""
    code = ("import runpy, sys; sys.argv = ['colorizer', 'train', '--help']\n"
            "try:\n    runpy.run_module('colorizer', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('colorizer.')), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=PACKAGE.parent)
    loaded = ast.literal_eval(r.stderr.strip().splitlines()[-1])
    assert "usage: python -m colorizer train" in r.stdout
    assert loaded and not [m for m in loaded if m.startswith(("colorizer.serving",
                                                                "colorizer.scale"))], loaded


def test_research_imports_nothing_of_the_benchmarks():
    """research/ is the record the benchmarks write through, never the other way round."""
    for path in (PACKAGE.parent / "research").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [n for n in names if n.split(".")[0] == "benchmarks"], path


def test_the_package_has_one_version_the_changelog_names():
    import tomllib

    root = PACKAGE.parent
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "colorizer.__version__"}
    assert f"## {colorizer.__version__} " in (root / "CHANGELOG.md").read_text()


def test_a_head_is_one_class_and_one_registry_line():
    """heads.HEADS is the one list of head names: Config's choices (and so the CLI's) are its."""
    from dataclasses import fields

    from colorizer import heads
    from colorizer.config import Config

    head_field = next(f for f in fields(Config) if f.name == "head")
    assert head_field.metadata["choices"] == tuple(heads.HEADS)
    for name, head in heads.HEADS.items():
        assert head.name == name and isinstance(head, heads.Head)
    # the modules that only pass a head through never test its name
    for path in [*(PACKAGE / f"{m}.py" for m in ("train", "outputs", "cli", "evaluation",
                                                 "colorize", "serving/demo")),
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
