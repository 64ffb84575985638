from dataclasses import replace
from types import SimpleNamespace

import pytest

from colorizer import fit, load_images
from colorizer.checkpoint import CHECKPOINT
from colorizer.console import QUIET
from research import report
from research import runs as study

from .conftest import tiny_config


def _run(**m):
    base = {"ab_mse": 20.0, "psnr": 32.0, "auc": 96.0, "colourfulness": 28.0,
            "colourfulness_gap": 3.0, "colourfulness_true": 31.0, "n_test": 75}
    return SimpleNamespace(metrics={**base, **m})


def test_profile_choice(monkeypatch):
    monkeypatch.setenv("COLORIZER_FAST", "1")
    assert study.pick_profile().name == "fast"
    assert study.pick_profile("cpu").name == "cpu"
    monkeypatch.delenv("COLORIZER_FAST")
    assert study.pick_profile(device="cpu").name == "cpu"
    fast = study.PROFILES["fast"]
    assert not fast.write_outputs and fast.limit and fast.epochs == 1


def test_cases_keep_the_study_settings():
    for name in study.PROFILES:     # whatever the profile trains its other runs with
        profile = study.PROFILES[name]
        cases = study.case_configs(profile, profile.config())
        assert [(c.optimizer, c.schedule, c.lr, c.weight_decay) for c in cases.values()] == [
            ("adam", "constant", 5e-3, 1e-7), ("adam", "constant", 1e-4, 1e-5)]
        assert tuple(c.epochs for c in cases.values()) == profile.case_epochs
    full = study.case_configs(study.PROFILES["full"], study.PROFILES["full"].config())
    assert [c.epochs for c in full.values()] == [100, 400]


def test_a_finished_run_is_reused_and_a_changed_one_trained(tiny_folder, tmp_path, capsys):
    data = load_images(tiny_folder, size=16)
    cfg, folder = tiny_config(epochs=2), tmp_path / "run"
    first = study.fit_or_reuse(cfg, folder, data, log=None)
    trained_at = (folder / CHECKPOINT).stat().st_mtime_ns
    assert "reused" not in capsys.readouterr().out

    again = study.fit_or_reuse(replace(cfg, device="cpu"), folder, data, log=None)  # same run
    assert "reused the finished run in" in capsys.readouterr().out
    assert again.history == first.history
    assert again.metrics["ab_mse"] == first.metrics["ab_mse"]
    assert (folder / CHECKPOINT).stat().st_mtime_ns == trained_at      # not trained again

    for changed in (replace(cfg, lr=cfg.lr / 2), replace(cfg, epochs=3)):
        run = study.fit_or_reuse(changed, folder, data, log=None)
        assert "reused" not in capsys.readouterr().out
        assert run.history != first.history and len(run.history["train_loss"]) == changed.epochs


def test_the_temperature_sweep_decodes_the_same_model_at_each_temperature(tiny_folder):
    data = load_images(tiny_folder, size=16)
    run = fit(tiny_config(head="classify", epochs=1), data=data, report=QUIET)
    own = run.cfg.temperature
    sweep = study.temperature_sweep(run, temperatures=(0.05, own, 1.0))
    assert sweep[own] is run.metrics
    again = study.at_temperature(run, own)           # the run's own decoding, recomputed
    for key in ("ab_mse", "psnr", "colourfulness"):
        assert again[key] == pytest.approx(run.metrics[key], rel=1e-6)
    assert sweep[0.05]["colourfulness"] > sweep[1.0]["colourfulness"]   # the mode is more vivid
    assert all(m["baselines"] == run.metrics["baselines"] for m in sweep.values())
    assert run.model.temperature == own


def _with_baselines(**m):
    run = _run(**m)
    run.metrics |= {"epochs": 2, "train_seconds": 10.0,
                    "baselines": {"train_mean": {"ab_mse": 42.4},
                                  "oracle_image_mean": {"ab_mse": 31.0}}}
    return run


def test_short_runs_name_no_winner_and_the_full_profile_applies_the_rule():
    runs = {"Architecture 1": _with_baselines(ab_mse=44.0), "Architecture 2": _with_baselines()}
    short = report.short_runs_finding(runs, study.PROFILES["cpu"])
    assert "name no winner" in short and "better" not in short
    full = report.short_runs_finding(runs, study.PROFILES["full"])
    assert "Architecture 2 better: Architecture 1 is still at the baselines" in full
    close = {"a": _with_baselines(ab_mse=15.0), "b": _with_baselines(ab_mse=14.0)}
    assert "cannot tell" in report.short_runs_finding(close, study.PROFILES["full"])


def test_markdown_table_shows_missing_and_nan_as_dash():
    rows = [{"run": "a", "x": 1.23456, "y": float("nan")}, {"run": "b", "x": 2}]
    assert report.markdown_table(rows, ["run", "x", "y"], numeric_right=True).splitlines() == [
        "| run | x | y |", "|---|---:|---:|", "| a | 1.235 | - |", "| b | 2 | - |"]
