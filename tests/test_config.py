import argparse
import math
from dataclasses import fields

import pytest
import torch

from colorizer import ARCHS, ColorizerError, Config, build_model
from colorizer.cli import build_parser, config_from_args
from colorizer.config import PRESETS, preset

from .test_cli import cli, one_line_error


@pytest.mark.parametrize("field,value,says", [
    ("epochs", 0, "--epochs takes a whole number >= 1"),
    ("lr", 0.0, "--lr takes a positive finite number"),
    ("lr", math.nan, "--lr takes a positive finite number"),
    ("lr", math.inf, "--lr takes a positive finite number"),
    ("weight_decay", -1e-3, "--weight-decay takes a finite number >= 0"),
    ("batch_size", 1, "--batch-size takes a whole number >= 2"),
    ("augment_factor", 0, "--augment-factor takes a whole number >= 1"),
    ("limit", 1, "--limit takes a whole number >= 2"),
    ("crop_scale", (0.9, 0.5), "crop_scale takes MIN,MAX"),     # (a settings file's name)
    ("crop_ratio", (0.0, 1.0), "crop_ratio takes MIN,MAX"),
    ("temperature", -0.1, "temperature takes a positive finite number"),
    ("widths", (8, 0, 4), "--widths takes one or more whole numbers from 1 to 1024"),
    ("widths", (8, 4096), "--widths takes one or more whole numbers from 1 to 1024"),
    ("image_size", 2048, "image_size takes a power of 2 from 64 (one halving per width at "
                         "least) to 1024"),
    ("head", "softmax", "--head takes one of sigmoid, tanh, classify"),
    ("device", "gpu-please", "--device takes auto, cpu, cuda or cuda:N"),
    ("seed", -1, "--seed takes a whole number >= 0"),
    ("ab_stride", 3, "--ab-stride takes a power of 2 below the image size"),
    ("ab_stride", 128, "--ab-stride takes a power of 2 below the image size"),
])
def test_each_bad_value_is_named_with_what_it_accepts(field, value, says):
    with pytest.raises(ColorizerError) as e:
        Config(**{field: value})
    assert str(e.value).startswith(says)
    assert repr(value) in str(e.value)


def test_classify_is_for_the_colorizer_only():
    with pytest.raises(ColorizerError, match="--head takes sigmoid or tanh for the regressor"):
        Config(model="regressor", head="classify")


@pytest.mark.parametrize("other", [dict(model="regressor"), dict(head="classify")])
def test_ab_stride_leaves_the_regressor_and_the_classify_head_as_they_are(other):
    torch.manual_seed(0)
    plain = build_model(Config(ab_stride=1, **other))
    torch.manual_seed(0)
    strided = build_model(Config(ab_stride=2, **other))
    assert str(plain) == str(strided)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                 strided.state_dict().values()))


def test_a_saved_config_without_a_newer_setting_gets_the_value_it_trained_with(monkeypatch):
    saved = Config().to_dict()
    del saved["ab_stride"]
    monkeypatch.setattr("colorizer.config.SINCE_ADDED", {"ab_stride": 4})
    assert Config.from_dict(saved).ab_stride == 4
    assert Config.from_dict({**saved, "ab_stride": 2}).ab_stride == 2


def test_data_must_not_be_a_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(ColorizerError, match="--data takes a folder"):
        Config(data=str(tmp_path / "x.jpg"))


def test_every_field_is_an_option_or_a_file_setting_and_round_trips(tmp_path):
    options = {a.dest for a in _train_parser()._actions}
    for f in fields(Config):
        assert (f.name in options) != bool(f.metadata.get("file_only")), f.name
    (tmp_path / "s.toml").write_text("crop_scale = [0.5, 0.9]\ncheckpoint_every = 5\n")
    args = build_parser().parse_args(
        ["train", "--epochs", "3", "--lr", "0.002", "--widths", "4,8,8", "--no-flip",
         "--config", str(tmp_path / "s.toml"), "--no-rebalance", "--head", "classify",
         "--limit", "40"])
    cfg = config_from_args(args)
    assert cfg == Config(epochs=3, lr=0.002, widths=(4, 8, 8), flip=False, crop_scale=(0.5, 0.9),
                         checkpoint_every=5, rebalance=False, head="classify", limit=40)
    assert config_from_args(build_parser().parse_args(["train"])) == Config()
    assert config_from_args(build_parser().parse_args(["train", "--arch", "1"])).widths == ARCHS[1]


def test_the_study_preset_is_one_flag_away_and_options_win_over_it():
    parse = build_parser().parse_args
    assert config_from_args(parse(["train", "--preset", "study-short"])) == preset("study-short")
    study = config_from_args(parse(["train", "--preset", "study-short", "--head", "sigmoid"]))
    assert (study.head, study.schedule, study.optimizer) == ("sigmoid", "constant", "adam")


# The study's table of hyper-parameters, as its report prints it: (widths, epochs, lr, wd)
STUDY_TABLE = {"study-case1": ((32, 64, 128, 256, 256, 512), 100, 5e-3, 1e-7),
               "study-case2": ((32, 64, 128, 256, 256, 512), 400, 1e-4, 1e-5),
               "study-arch2": ((8, 16, 32, 64, 128, 256), 50, 5e-3, 1e-7)}


def test_the_study_presets_are_the_studys_table():
    parse = build_parser().parse_args
    for name, (widths, epochs, lr, wd) in STUDY_TABLE.items():
        c = config_from_args(parse(["train", "--preset", name]))
        assert (c.widths, c.epochs, c.lr, c.weight_decay) == (widths, epochs, lr, wd)
        # the study's optimizer, encoder and output: Adam at a constant rate, stride-2
        # convolutions from L*, a*b* at the full side, in float32
        assert (c.optimizer, c.schedule, c.stem, c.ab_stride, c.precision) == (
            "adam", "constant", "conv", 1, "float32")
    assert "study" not in PRESETS      # the old name trained none of the study's settings


def test_cli_refuses_bad_settings_before_reading_data(tmp_path):
    # The data folder does not exist: a refusal that names it would mean the data was read first.
    for args, says in [(["--epochs", "0"], "--epochs"), (["--lr", "nan"], "--lr"),
                       (["--arch", "1", "--widths", "4,8"], "--arch or --widths")]:
        r = cli("train", *args, "--data", tmp_path / "nowhere", "--out", tmp_path / "o")
        assert r.returncode == 2
        assert says in one_line_error(r)
    (tmp_path / "file").write_text("")
    r = cli("train", "--out", tmp_path / "file", "--data", tmp_path / "nowhere")
    assert r.returncode == 2 and "--out takes a folder" in one_line_error(r)


def test_a_config_saved_before_the_stem_option_loads_with_the_conv_stem():
    saved = Config().to_dict()
    del saved["stem"]
    assert Config.from_dict(saved).stem == "conv"
    assert Config.from_dict({**saved, "stem": "space_to_depth"}).stem == "space_to_depth"




def _train_parser():
    return next(a for a in build_parser()._actions
                if isinstance(a, argparse._SubParsersAction)).choices["train"]
