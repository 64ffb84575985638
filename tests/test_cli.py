import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import load_checkpoint, load_images, load_model, predict, rgb_to_lab

from .conftest import child_env, make_folder, smooth_face

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    env = child_env(**(env or {}))
    return subprocess.run([sys.executable, "-m", "colorizer", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def one_line_error(r):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("colorizer: error:")]
    assert lines, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(real_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = cli("train", "--model", "colorizer", "--head", "tanh", "--arch", "2", "--epochs", "1",
            "--augment-factor", "2", "--limit", "20", "--data", real_data, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "test ab_mse" in r.stdout and "raw CIELAB" in r.stdout
    return out


def test_train_writes_run_folder(trained):
    for name in ("checkpoint.pt", "history.json", "metrics.json", "split.json", "loss.png"):
        assert (trained / name).is_file()
    assert len(list((trained / "triples").glob("*.png"))) == 2      # 10 % of 20 images


def test_evaluate_json_is_the_only_stdout(trained, real_data):
    r = cli("evaluate", "--checkpoint", trained / "checkpoint.pt", "--data", real_data, "--json",
            "--tta", "none")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["n_test"] == 2 and metrics["split"] == "test" and metrics["tta"] == "none"
    model, ckpt = load_model(trained / "checkpoint.pt", torch.device("cpu"))
    test = load_images(real_data, names=ckpt["split"]["test"])
    by_hand = float((predict(model, test.L, tta="none") - test.ab).square().mean())
    assert metrics["ab_mse"] == pytest.approx(by_hand, rel=1e-4)
    for key in ("psnr", "ssim", "ciede2000", "auc", "colourfulness", "colourfulness_true",
                "colourfulness_gap"):
        assert isinstance(metrics[key], float), key
    assert set(metrics["baselines"]) == {"gray", "train_mean", "oracle_image_mean"}
    assert metrics["baselines"]["gray"]["colourfulness"] < 1
    saved = json.loads((trained / "metrics.json").read_text())
    assert metrics["ab_mse"] == pytest.approx(saved["ab_mse"], rel=1e-4)


def test_evaluate_averages_flips_by_default(trained, real_data):
    r = cli("evaluate", "--checkpoint", trained / "checkpoint.pt", "--data", real_data, "--json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    model, ckpt = load_model(trained / "checkpoint.pt", torch.device("cpu"))
    test = load_images(real_data, names=ckpt["split"]["test"])
    by_hand = float((predict(model, test.L, tta="flip") - test.ab).square().mean())
    assert metrics["tta"] == "flip" and metrics["ab_mse"] == pytest.approx(by_hand, rel=1e-4)


def test_colorize_any_size_keeps_l_and_survives_bad_inputs(trained, tmp_path):
    rng = np.random.default_rng(0)
    odd = smooth_face(rng, 128)[:97, :61]
    Image.fromarray(odd).save(tmp_path / "odd.png")
    Image.fromarray(odd[..., 0]).convert("L").resize((150, 90)).save(tmp_path / "gray.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    r = cli("colorize", "--checkpoint", trained / "checkpoint.pt", tmp_path / "odd.png",
            tmp_path / "bad.jpg", tmp_path / "gray.jpg", tmp_path / "missing.png", "--out", out)
    assert r.returncode == 1
    assert "bad.jpg" in r.stderr and "missing.png" in one_line_error(r)
    res = np.asarray(Image.open(out / "odd.png"))
    assert res.shape == (97, 61, 3)
    L_in, L_out = rgb_to_lab(odd)[0], rgb_to_lab(res)[0]
    assert (L_in - L_out).abs().mean() < 1.0          # the input's own L*, up to gamut clipping
    assert np.asarray(Image.open(out / "gray.png")).shape == (90, 150, 3)


def test_colorize_a_folder(trained, tmp_path):
    folder = make_folder(tmp_path / "in", n=3, size=40)
    r = cli("colorize", "--checkpoint", trained / "checkpoint.pt", folder, "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [f"img00{i}.png" for i in range(3)]


def test_regressor_end_to_end(real_data, tmp_path):
    r = cli("train", "--model", "regressor", "--arch", "1", "--epochs", "1",
            "--augment-factor", "1", "--limit", "20", "--data", real_data, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    # the table holds the plain predictions: evaluate's default averages them with the mirror's
    r = cli("evaluate", "--checkpoint", tmp_path / "checkpoint.pt", "--json", "--tta", "none")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    # the study's table holds the same predictions: its squared errors give the same figure
    with open(tmp_path / "predictions.csv") as f:
        rows = [{k: float(v) for k, v in r.items() if k != "image"} for r in csv.DictReader(f)]
    by_hand = np.mean([((r["pred_a"] - r["true_a"]) ** 2 + (r["pred_b"] - r["true_b"]) ** 2) / 2
                       for r in rows])
    assert len(rows) == metrics["n_test"] == 2
    # the table has 3 decimals: each difference is off by at most 0.001, each square by 2|d| 0.001
    rounding = np.mean([(abs(r["pred_a"] - r["true_a"]) + abs(r["pred_b"] - r["true_b"])) * 1e-3
                        for r in rows]) + 1e-6
    assert metrics["mean_ab_mse"] == pytest.approx(by_hand, abs=rounding)
    mean_a, mean_b = load_checkpoint(tmp_path / "checkpoint.pt")["train_ab_mean"]
    const = np.mean([((mean_a - r["true_a"]) ** 2 + (mean_b - r["true_b"]) ** 2) / 2 for r in rows])
    assert metrics["baselines"]["train_mean"]["mean_ab_mse"] == pytest.approx(const, abs=1e-2)
    assert metrics["r2"] == pytest.approx(1 - by_hand / const, rel=1e-3)     # idem


def test_missing_data_folder_is_one_line(tmp_path):
    r = cli("train", "--data", tmp_path / "nowhere", "--out", tmp_path / "o", "--epochs", "1")
    assert r.returncode == 2
    assert "data folder not found" in one_line_error(r) and "nowhere" in r.stderr


def test_empty_and_unreadable_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    r = cli("train", "--data", tmp_path / "empty", "--out", tmp_path / "o")
    assert "empty" in one_line_error(r)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.jpg").write_text("no")
    r = cli("train", "--data", tmp_path / "junk", "--out", tmp_path / "o")
    assert "no readable image" in one_line_error(r)


def test_missing_checkpoint(tmp_path):
    r = cli("evaluate", "--checkpoint", tmp_path / "none.pt")
    assert r.returncode == 2 and "checkpoint not found" in one_line_error(r)


def test_classify_end_to_end(real_data, tmp_path):
    r = cli("train", "--head", "classify", "--arch", "2", "--epochs", "1", "--augment-factor", "1",
            "--limit", "20", "--data", real_data, "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    ckpt = tmp_path / "run" / "checkpoint.pt"
    mse = {}
    for t in ("0.01", "1.0"):
        r = cli("evaluate", "--checkpoint", ckpt, "--temperature", t, "--json")
        assert r.returncode == 0, r.stderr
        metrics = json.loads(r.stdout)
        assert metrics["temperature"] == float(t) and metrics["rebalance"] is True
        mse[t] = metrics["ab_mse"]
    assert mse["0.01"] != mse["1.0"]
    Image.fromarray(smooth_face(np.random.default_rng(1), 128)[:50, :70]).save(tmp_path / "x.png")
    r = cli("colorize", "--checkpoint", ckpt, "--temperature", "0.5", tmp_path / "x.png",
            "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(tmp_path / "o" / "x.png")).shape == (50, 70, 3)


def test_temperature_needs_the_classify_head(trained):
    r = cli("evaluate", "--checkpoint", trained / "checkpoint.pt", "--temperature", "0.3")
    assert "classify" in one_line_error(r)


def test_a_run_is_run_again_from_its_config_json_to_the_same_figure(tiny_folder, tmp_path):
    from colorizer.cli import main

    tiny = ["--widths", "4,8,8", "--epochs", "2", "--augment-factor", "2", "--batch-size", "8",
            "--device", "cpu", "--no-progress", "--data", str(tiny_folder)]
    assert main(["train", *tiny, "--out", str(tmp_path / "a")]) == 0
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["widths"] == [4, 8, 8] and saved["epochs"] == 2
    with open(tmp_path / "a" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "test_error" in rows[0]
    assert main(["train", "--config", str(tmp_path / "a" / "config.json"), "--no-progress",
                 "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in "ab")
    assert a["ab_mse"] == b["ab_mse"] and a["psnr"] == b["psnr"]          # bit for bit
    history = [json.loads((tmp_path / r / "history.json").read_text()) for r in "ab"]
    assert history[0]["train_loss"] == history[1]["train_loss"]


def test_a_toml_settings_file_with_options_over_it(tmp_path, capsys):
    from colorizer.cli import build_parser, config_from_args, main

    (tmp_path / "s.toml").write_text('widths = [4, 8, 8]\nepochs = 3\nhead = "tanh"\n')
    cfg = config_from_args(build_parser().parse_args(
        ["train", "--config", str(tmp_path / "s.toml"), "--epochs", "5"]))
    assert (cfg.widths, cfg.epochs, cfg.head) == ((4, 8, 8), 5, "tanh")
    (tmp_path / "bad.toml").write_text("colour = 3\n")
    assert main(["train", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "no such setting: colour" in capsys.readouterr().err


def test_tensorboard_logs_each_epochs_figures(tiny_folder, tmp_path):
    import importlib.util
    import os

    if importlib.util.find_spec("tensorboard") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI installs the track extra; tensorboard is missing")
        pytest.skip("the track extra (tensorboard) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from colorizer.cli import main

    assert main(["train", "--widths", "4,8,8", "--epochs", "2", "--augment-factor", "1",
                 "--batch-size", "8", "--device", "cpu", "--no-progress", "--data",
                 str(tiny_folder), "--out", str(tmp_path / "run"), "--tensorboard"]) == 0
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert {"train_loss", "test_error", "seconds"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("test_error")] == [1, 2]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [e.value for e in events.Scalars("test_error")] == pytest.approx(
        history["test_error"], rel=1e-6)


def test_every_command_prints_its_help(capsys):
    from colorizer.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0
        assert f"usage: python -m colorizer {name}" in capsys.readouterr().out
