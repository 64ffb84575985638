"""`train --minutes N`: a run planned by the clock. The clock here is a fake one (the process's
age in seconds, advanced by each reading), so each test knows when the run must end."""

import itertools
import json
from dataclasses import replace

import pytest

from colorizer import ColorizerError, fit, load_checkpoint
from colorizer import train as T
from colorizer.checkpoint import CHECKPOINT
from colorizer.cli import build_parser, config_from_args
from colorizer.console import QUIET, Reporter

from .conftest import tiny_config
from .test_optim import Interrupt, _stop_after


def fake_age(monkeypatch, *paces):
    """The process's age: 5 s at the plan's start, then each reading `paces` seconds later
    (the last pace repeated): an epoch lasts what its pace says."""
    ages = itertools.accumulate(itertools.chain([5.0], paces, itertools.repeat(paces[-1])))
    read = []
    monkeypatch.setattr(T, "process_age", lambda: read.append(next(ages)) or read[-1])
    return read


def test_a_plan_fits_the_epochs_into_the_minutes_left(monkeypatch):
    fake_age(monkeypatch, 5.0)
    plan = T.Plan(epochs=3, steps_per_epoch=10, deadline=60)     # started at 5 s
    plan.replan(1)              # at 10 s: 5 s an epoch, 60 - 10 - END_S (12) = 38 s: 7 more
    assert plan.epochs == 8


def test_a_minutes_run_ends_by_its_deadline_and_says_what_it_chose(tiny_data, tmp_path,
                                                                     monkeypatch):
    ages = fake_age(monkeypatch, 5.0)
    said = []
    run = fit(tiny_config(epochs=3, minutes=1), tmp_path, data=tiny_data,
              report=Reporter(said.append, progress=False))
    assert len(run.history["train_loss"]) == run.cfg.epochs == 8
    assert ages[-1] + T.END_S <= 60                        # the end fits before the deadline
    assert any(s.startswith("planned by the clock: 8 epochs") for s in said)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["epochs"] == 8
    assert load_checkpoint(tmp_path / CHECKPOINT)["config"]["epochs"] == 8


def test_a_run_that_falls_behind_plans_again_instead_of_overrunning(tiny_data, monkeypatch):
    """A busy machine: epochs of 5 s, then of 15 s. The plan of 8 shrinks to what still fits."""
    ages = fake_age(monkeypatch, 5.0, 15.0)
    run = fit(tiny_config(epochs=3, minutes=1), data=tiny_data, report=QUIET)
    assert len(run.history["train_loss"]) == 3
    assert ages[-1] + T.END_S <= 60


def test_once_the_rate_decays_the_plan_never_grows(monkeypatch):
    fake_age(monkeypatch, 1.0)
    plan = T.Plan(epochs=10, steps_per_epoch=10, deadline=10_000)
    plan.replan(9)               # the decay (the last 30 % of the steps) has begun
    assert plan.epochs == 10
    plan.deadline = 0            # past the deadline: stop at the epochs done
    plan.replan(9)
    assert plan.epochs == 9


def test_a_minutes_run_resumes_to_the_epochs_it_planned(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config(epochs=3, minutes=1)
    fake_age(monkeypatch, 5.0)
    straight = fit(cfg, tmp_path / "a", data=tiny_data, report=QUIET)
    fake_age(monkeypatch, 5.0)
    with pytest.raises(Interrupt):
        fit(cfg, tmp_path / "b", data=tiny_data, report=Reporter(_stop_after(1), progress=False))
    planned = load_checkpoint(tmp_path / "b" / CHECKPOINT)["config"]["epochs"]
    assert planned == 8
    monkeypatch.setattr(T, "process_age", lambda: pytest.fail("a resumed run reads no clock"))
    resumed = fit(replace(cfg, epochs=planned), tmp_path / "b", resume=True, data=tiny_data,
                  report=QUIET)
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"],
                                                          rel=1e-5)


def test_minutes_and_epochs_are_one_or_the_other():
    parse = build_parser().parse_args
    assert config_from_args(parse(["train", "--minutes", "5"])).minutes == 5
    with pytest.raises(ColorizerError, match="--epochs or --minutes"):
        config_from_args(parse(["train", "--minutes", "5", "--epochs", "3"]))
    with pytest.raises(ColorizerError, match="--minutes takes a positive number"):
        tiny_config(minutes=0)
