"""Hostile files and odd arguments, case by case: each is one line (ColorizerError, exit 2),
refused before anything of its size is allocated or any file is written."""

import json
import os
import time
import warnings

import pytest
import torch

from colorizer import ColorizerError, Config, build_model, from_pretrained, load_model
from colorizer.checkpoint import save_checkpoint
from colorizer.packing import SHIPPED_FORMAT, write_shipped
from colorizer.serving.hub import save_pretrained

from .test_cli import cli, one_line_error

TINY = Config(widths=(4, 8, 8), device="cpu")


def _facts(**over):
    return {"config": TINY.to_dict(), "split": {"train": [], "test": []}, **over}


def test_a_scale_that_would_broadcast_into_gigabytes_is_refused_before_any_product(tmp_path):
    """An int8 tensor (30000, 1) beside a scale (1, 30000): 150 KB on disk, 3.6 GB multiplied."""
    path = tmp_path / "model.safetensors"
    write_shipped(path, {"encoder.0.weight": {"int8": torch.zeros(30000, 1, dtype=torch.int8),
                                              "scale": torch.ones(1, 30000)}}, _facts())
    assert path.stat().st_size < 400_000
    t0 = time.perf_counter()
    with pytest.raises(ColorizerError, match="one scale per output channel"):
        load_model(path, "cpu")
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("config, says", [("{not json", "not JSON"),
                                          ("[" * 200_000 + "]" * 200_000, "nested deeper"),
                                          (None, "holds no settings")],
                         ids=["not-json", "nested-deep", "no-settings"])
def test_weights_metadata_that_does_not_parse_is_one_line(tmp_path, config, says):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    metadata = {"format": SHIPPED_FORMAT, "split": "{}",
                **({"config": config} if config is not None else {})}
    save_file({k: v.contiguous() for k, v in build_model(TINY).state_dict().items()}, str(path),
              metadata=metadata)
    with pytest.raises(ColorizerError, match=says):
        load_model(path, "cpu")


def test_a_scale_without_its_int8_tensor_is_one_line(tmp_path):
    path = tmp_path / "model.safetensors"
    state = dict(build_model(TINY).state_dict())
    state["encoder.0.weight"] = {"scale": torch.ones(4, 1, 4, 4)}
    write_shipped(path, state, _facts())
    with pytest.raises(ColorizerError, match="neither a tensor nor an int8 tensor"):
        load_model(path, "cpu")


@pytest.mark.parametrize("model", [[1, 2, 3], 7])
def test_a_checkpoint_whose_weights_are_not_a_table_is_one_line(tmp_path, model):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": model, "config": TINY.to_dict()})
    with pytest.raises(ColorizerError, match="weights must be a table of tensors"):
        load_model(path, "cpu")


def test_a_model_folder_with_a_config_nested_200000_deep_is_one_line(tmp_path):
    folder = save_pretrained(build_model(TINY), tmp_path / "m")
    (folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ColorizerError, match="nested deeper"):
        from_pretrained(folder, "cpu")


@pytest.mark.parametrize("setting, value", [("epochs", "five"), ("image_size", 128.0),
                                            ("widths", 5), ("epochs", 1e9)])
def test_a_setting_of_the_wrong_kind_is_refused_before_anything_is_read_or_written(
        tmp_path, setting, value):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({setting: value}))
    out = tmp_path / "run"
    line = one_line_error(cli("train", "--config", settings, "--data", tmp_path / "nowhere",
                              "--out", out))
    given = "image_size" if setting == "image_size" else f"--{setting}"    # (a file's setting)
    assert f"{given} takes" in line
    assert not out.exists()                         # no config.json, no split.json


def test_a_settings_file_nested_deep_is_one_line(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text("{\"epochs\": " + "[" * 200_000 + "]" * 200_000 + "}")
    assert "nested deeper" in one_line_error(cli("train", "--config", settings))


@pytest.mark.parametrize("count", ["inf", "1e400", "nan"])
def test_max_pixels_that_is_no_count_is_one_line(tmp_path, count):
    r = cli("colorize", tmp_path, "--out", tmp_path / "o", "--max-pixels", count)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "expected a positive number of pixels" in r.stderr


@pytest.mark.parametrize("command", ["colorize", "evaluate"])
def test_a_device_that_does_not_exist_is_one_line(tmp_path, command):
    args = [tmp_path, "--out", tmp_path / "o"] if command == "colorize" else []
    assert "--device takes" in one_line_error(cli(command, *args, "--device", "bogus"))


def test_a_fifo_named_on_the_command_line_is_refused_not_read(tmp_path, shipped_folder):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    r = cli("colorize", fifo, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu")
    assert r.returncode == 1 and "not a regular file or folder" in r.stderr      # not a hang
    settings = tmp_path / "settings.json"
    os.mkfifo(settings)
    assert "not a regular file" in one_line_error(cli("train", "--config", settings))


@pytest.fixture
def shipped_folder(tmp_path):
    """A model folder as save_pretrained writes it (a tiny colorizer)."""
    return save_pretrained(build_model(TINY), tmp_path / "model")


def test_a_model_folder_is_taken_wherever_a_checkpoint_is(tmp_path, shipped_folder, real_data):
    model, _ = load_model(shipped_folder, "cpu")
    assert model.kind == "colorizer"
    photo = next(real_data.glob("*.jpg"))
    r = cli("colorize", photo, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / photo.with_suffix(".png").name).is_file()


def test_a_jpeg_with_malformed_exif_is_colorized_without_pillows_warnings(tmp_path,
                                                                          shipped_folder):
    import struct

    import numpy as np
    from PIL import Image

    from colorizer.colorize import output_metadata
    from colorizer.data import read_image

    path = tmp_path / "bad-exif.jpg"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8")).save(
        path)
    data = path.read_bytes()
    ifd = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", 3) + b"".join(
        struct.pack("<HHII", tag, 2, 5000, 60000) for tag in (0x010F, 0x0110, 0x8769))
    app1 = b"Exif\x00\x00" + ifd + struct.pack("<I", 0)
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # any warning fails the test
        assert read_image(path).shape == (32, 32, 3)
        output_metadata(path, "m")
    r = cli("colorize", path, "--out", tmp_path / "o", "--checkpoint", shipped_folder,
            "--device", "cpu", "--no-progress")
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
