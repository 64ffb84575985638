"""Pages that cannot drift from the code: every `python -m colorizer` command a page shows parses
with the CLI's own parser, every benchmark's --help prints and writes nothing, every result page
the index calls current runs at HEAD as written, and the shipped model's settings are today's."""

import argparse
import importlib
import json
import re
import runpy
import shlex
import sys
from dataclasses import fields
from unittest import mock

import pytest

from benchmarks import index
from colorizer.cli import build_parser, config_from_args
from colorizer.config import Config
from colorizer.serving.pretrained import SHIPPED_DIR

from .conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), SHIPPED_DIR / "README.md"]
# `python -m colorizer ...` (or torchrun's `-m colorizer ...`) to the end of its line or backtick
COMMAND = re.compile(r"-m colorizer\b([^`\n]*)")
SYNOPSIS = ("[", "|", "...", "…")          # a usage line: its options are checked one by one
BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")
                    if p.stem not in ("__init__", "common"))
RESEARCH = sorted(p.stem for p in (ROOT / "research").glob("*.py")
                  if "__main__" in p.read_text())


def page_commands():
    """(page, the words after `-m colorizer`) of every command the pages show."""
    for page in PAGES:
        for m in COMMAND.finditer(page.read_text()):
            words = re.sub(r"\s{2,}#.*$", "", m.group(1)).strip()
            yield page.relative_to(ROOT), words


def subparser(name):
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


@pytest.mark.parametrize("page, words", list(page_commands()), ids=lambda v: str(v)[:60])
def test_every_command_a_page_shows_parses_with_the_clis_own_parser(page, words):
    if any(mark in words for mark in SYNOPSIS):
        name = words.split()[0]
        known = {o for a in subparser(name)._actions for o in a.option_strings}
        unknown = [w for w in re.findall(r"--[a-z][a-z0-9-]*", words) if w not in known]
        assert not unknown, f"{page}: `{name}` has no {', '.join(unknown)}"
    else:
        try:
            build_parser().parse_args(shlex.split(words))
        except SystemExit:
            pytest.fail(f"{page}: `python -m colorizer {words}` does not parse today")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")    # runpy: a module imported before
@pytest.mark.parametrize("module", [f"benchmarks.{m}" for m in BENCHMARKS]
                         + [f"research.{m}" for m in RESEARCH])
def test_every_benchmarks_help_prints_and_writes_nothing(module, capsys, monkeypatch):
    before = _snapshot()
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out
    assert _snapshot() == before


class _Parsed(Exception):
    """Raised once a benchmark's own parser has taken its command line: nothing runs."""


def _parse_only(parse_args):
    def parse(self, args=None, namespace=None):
        parse_args(self, args, namespace)
        raise _Parsed
    return parse


CURRENT = [r for r in index.rows() if r[5].startswith("current")]


@pytest.mark.parametrize("row", [r for r in CURRENT if r[3] != "-"], ids=lambda r: r[1])
def test_a_current_result_pages_command_runs_at_head_as_written(row):
    """Its benchmark takes its command line as the page gives it (names of questions, levers and
    configurations included); a page whose command no longer runs is marked lost in the index,
    with the commit that ran it."""
    folder, name, _, command, _, _ = row
    words = shlex.split(command)
    module, argv = words[2], words[3:]
    if module == "colorizer":
        build_parser().parse_args(argv)
        return
    main = importlib.import_module(module).main
    with mock.patch.object(argparse.ArgumentParser, "parse_args",
                           _parse_only(argparse.ArgumentParser.parse_args)):
        with pytest.raises(_Parsed):
            main(argv)


@pytest.mark.parametrize("row", CURRENT, ids=lambda r: r[1])
def test_a_current_pages_train_options_are_todays_or_said_retired(row):
    """Every `train` option a current page names is one train takes today, or the index says
    beside the page what runs in its place (index.RETIRED)."""
    folder, name = row[:2]
    known = {o for a in subparser("train")._actions for o in a.option_strings}
    named = index.train_options((index.RESULTS / folder / f"{name}.md").read_text())
    assert not [o for o in named if o not in known and o not in index.RETIRED
                and o not in {a for c in ("evaluate", "colorize")
                              for a in _options_of(c)}], name


def _options_of(command):
    return {o for a in subparser(command)._actions for o in a.option_strings}


def test_the_shipped_models_settings_are_todays_and_train_takes_them():
    """`train --config colorizer/weights/config.json` (the Hub's way to retrain a model from its
    card) runs the shipped model's recipe: exactly today's settings, none removed."""
    settings = json.loads((SHIPPED_DIR / "config.json").read_text())
    assert list(settings) == [f.name for f in fields(Config)]
    args = build_parser().parse_args(["train", "--config", str(SHIPPED_DIR / "config.json")])
    assert config_from_args(args) == Config.from_dict(settings)


def _snapshot():
    """Every file under the folders a benchmark writes, with its size and modification time."""
    folders = [ROOT / "benchmarks" / "results", ROOT / "docs", SHIPPED_DIR]
    return {p: (p.stat().st_size, p.stat().st_mtime_ns)
            for f in folders for p in f.rglob("*") if p.is_file()}
