"""The validation split: carved from the training split, never from test, and what a run scored
on it reports."""

from colorizer import fit, load_images
from colorizer.console import QUIET
from colorizer.data import split_names, validation_names
from research.runs import at_temperature, rescore

from .conftest import make_folder, tiny_config


def test_validation_is_a_fixed_tenth_of_the_training_split_and_never_test():
    names = [f"img{i:03d}.jpg" for i in range(750)]
    train, test = split_names(names)
    fit_names, val = validation_names(train)
    assert len(val) == round(0.1 * len(train)) and len(fit_names) + len(val) == len(train)
    assert set(fit_names) | set(val) == set(train)
    assert not set(val) & set(test) and not set(val) & set(fit_names)
    assert validation_names(train) == (fit_names, val)           # seeded: the same every time


def test_a_run_scored_on_validation_trains_without_it_and_reports_test_beside(tmp_path):
    data = load_images(make_folder(tmp_path / "faces", n=40), size=16)
    run = fit(tiny_config(epochs=2, holdout="val"), tmp_path / "run", data=data, report=QUIET)
    train, val, test = (set(s.names) for s in (run.train, run.val, run.test))
    assert len(train) + len(val) + len(test) == 40 and not (train & val or val & test)
    assert run.scored is run.val
    assert run.metrics["split"] == "val" and run.metrics["n_test"] == len(val)
    assert run.metrics["test"]["split"] == "test" and run.metrics["test"]["n_test"] == len(test)
    assert len(run.history["val_error"]) == 2 and "test_error" not in run.history
    assert run.history["val_error"][-1] == run.metrics["ab_mse"]
    resumed = fit(tiny_config(epochs=2, holdout="val"), tmp_path / "run",
                  resume=True, data=data, report=QUIET)
    assert resumed.val.names == run.val.names and resumed.metrics["test"]["ab_mse"] == \
        run.metrics["test"]["ab_mse"]


def test_a_run_scored_on_test_has_no_validation(tmp_path):
    data = load_images(make_folder(tmp_path / "faces", n=20), size=16)
    run = fit(tiny_config(epochs=1), data=data, report=QUIET)
    assert run.val is None and run.scored is run.test and "test" not in run.metrics
    assert len(run.train) + len(run.test) == 20


def test_another_decoding_is_scored_on_validation_and_test(tmp_path):
    data = load_images(make_folder(tmp_path / "faces", n=40), size=16)
    run = fit(tiny_config(epochs=1, holdout="val", head="classify"), data=data, report=QUIET)
    same = rescore(run)
    assert same["ab_mse"] == run.metrics["ab_mse"]
    assert same["test"]["ab_mse"] == run.metrics["test"]["ab_mse"]
    hot = at_temperature(run, 1.0)
    assert hot["test"]["ab_mse"] != run.metrics["test"]["ab_mse"]
