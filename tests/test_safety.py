"""Files a user or a visitor can hand over, checked before they are trusted; memory bounded by
pixels. Each test is on a real, crafted file: a huge PNG, a checkpoint declaring a giant model,
a cache index pointing outside its folder."""

import json
import os
import stat
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.common import one_colour_png
from colorizer import Config, colorize, data, load_model, save_checkpoint
from colorizer.cli import main
from colorizer.config import ColorizerError
from colorizer.console import QUIET
from colorizer.models import build_model
from colorizer.scale.cache import cached_images
from colorizer.serving.pretrained import shipped_weights

from .conftest import smooth_face
from .test_colorize import files_below, one_line_error, photo, run


@pytest.fixture(scope="module")
def shipped():
    return load_model(shipped_weights(), torch.device("cpu"))[0]


# ---- images: refused from their header, converted in stripes ----

def test_an_image_over_the_pixel_cap_is_refused_before_decoding(tmp_path, capsys):
    big = one_colour_png(tmp_path / "big.png", 12000)       # 144 MP: over the default 100 MP
    with pytest.warns(Image.DecompressionBombWarning):      # Pillow's own check agrees
        assert Image.open(big).size == (12000, 12000)       # a real PNG
    code, out, err = run(capsys, big, "--out", tmp_path / "out")
    assert code == 1 and "0 written, 0 kept, 1 failed" in out
    assert "144 MP is over the limit of 100 MP (--max-pixels)" in err
    assert files_below(tmp_path / "out") == []


def test_max_pixels_is_the_callers_bound(tmp_path, capsys):
    photo(tmp_path / "in" / "small.png", size=(40, 30))
    photo(tmp_path / "in" / "large.png", size=(60, 50))
    code, _, err = run(capsys, tmp_path / "in", "--out", tmp_path / "out", "--max-pixels", "2000")
    assert code == 1 and "large.png: 60 x 50 = 0 MP is over the limit of 0.002 MP" in err
    assert files_below(tmp_path / "out") == ["small.png"]


def test_batches_are_formed_by_pixels(tmp_path, shipped, monkeypatch):
    monkeypatch.setattr(colorize, "BATCH_PIXELS", 3000)
    for i, size in enumerate([(40, 30), (40, 30), (60, 60), (10, 10), (10, 10)]):
        photo(tmp_path / "in" / f"{i}.png", size=size, seed=i)
    sizes = []
    hook = shipped.register_forward_hook(lambda m, x, y: sizes.append(len(x[0])))
    try:
        list(colorize.colorize_paths(shipped, [tmp_path / "in"], tmp_path / "out", tta="none",
                                     progress=False))
    finally:
        hook.remove()
    # 1200 + 1200 px; 3600 alone (over the budget by itself); 100 + 100
    assert sizes == [2, 1, 2]


def test_conversions_in_stripes_give_what_whole_images_give(monkeypatch):
    rgb = smooth_face(np.random.default_rng(3), 64)[:, :50]
    whole = data.rgb_to_lab(rgb), data.lab_to_rgb(data.lightness(rgb), torch.zeros(1, 2, 64, 50))
    monkeypatch.setattr(data, "STRIPE", 7 * 50)                 # 7 rows a stripe, a short last
    striped = data.rgb_to_lab(rgb), data.lab_to_rgb(data.lightness(rgb), torch.zeros(1, 2, 64, 50))
    assert torch.equal(whole[0], striped[0])
    assert np.array_equal(whole[1], striped[1])
    assert torch.equal(data.lightness(rgb)[0], whole[0][:1])


def test_colorizing_a_photo_holds_a_few_bytes_a_pixel(tmp_path, shipped, monkeypatch):
    """numpy's allocations (what tracemalloc sees) while one 3-MP photo is colorized: its rgb and
    output (3 bytes a pixel each), its L* (4), stripes; float64 copies of the whole photo (the
    8-byte-a-channel Lab, lab2rgb's temporaries: over 100 bytes a pixel) would be caught."""
    monkeypatch.setattr(data, "STRIPE", 2**16)
    Image.fromarray(np.asarray(photo_rgb(2000, 1500))).save(tmp_path / "in.png")
    tracemalloc.start()
    try:
        list(colorize.colorize_paths(shipped, [tmp_path / "in.png"], tmp_path / "out",
                                     progress=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "out" / "in.png").is_file()
    assert peak / (2000 * 1500) < 20


def photo_rgb(width, height):
    coarse = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BILINEAR)


def test_a_name_near_the_file_systems_limit_is_written(tmp_path, capsys):
    name = "p" * 247 + ".jpg"                                   # 251 bytes: the output 251 too
    photo(tmp_path / "in" / name)
    code, out, _ = run(capsys, tmp_path / "in", "--out", tmp_path / "out")
    assert code == 0 and files_below(tmp_path / "out") == ["p" * 247 + ".png"]


# ---- checkpoints: settings bounded, shapes compared, before anything large is built ----

def crafted_checkpoint(path, config, model=None):
    save_checkpoint(path, {"config": config, "model": model or {}, "split": {}})
    return path


def evaluate_one_line(capsys, path):
    code = main(["evaluate", "--checkpoint", str(path), "--device", "cpu"])
    return code, one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("config, says", [
    ({**Config().to_dict(), "widths": [4096] * 7}, "--widths takes one or more whole numbers "
                                                   "from 1 to 1024"),
    ({**Config().to_dict(), "widths": [1024] * 9, "image_size": 1024}, "over the 50 M"),
    ({**Config().to_dict(), "image_size": 2**20}, "image_size takes a power of 2"),
    ({**Config().to_dict(), "widths": "abc"}, "--widths takes a list of whole numbers"),
    ({**Config().to_dict(), "epochs": "many"}, "--epochs takes a whole number"),
    (["not", "a", "mapping"], "settings must be a mapping"),
])
def test_a_checkpoint_declaring_what_no_model_here_has_is_one_line(tmp_path, capsys, config,
                                                                  says):
    path = crafted_checkpoint(tmp_path / "bomb.pt", config)
    assert path.stat().st_size < 4096                           # a few KB on disk
    code, line = evaluate_one_line(capsys, path)
    assert code == 2 and says in line and "bomb.pt" in line


def test_tensor_shapes_are_compared_before_the_model_is_built(tmp_path, capsys, monkeypatch):
    cfg = Config()
    state = build_model(cfg).state_dict()
    name = next(iter(state))
    wrong = {**state, name: torch.zeros(3, 3)}
    path = crafted_checkpoint(tmp_path / "wrong.pt", cfg.to_dict(), wrong)
    built = []
    monkeypatch.setattr("colorizer.checkpoint.build_model",
                        lambda c: built.append(torch.empty(0).device) or build_model(c))
    code, line = evaluate_one_line(capsys, path)
    assert code == 2 and f"{name} (3, 3), expected" in line
    assert all(d.type == "meta" for d in built)                 # only the skeleton was built


# ---- the cache: its index names its own files, its rows inside its array ----

@pytest.mark.parametrize("edit, why", [
    (lambda i: {**i, "array": "../../outside.npy"}, "not a plain .npy file name"),
    (lambda i: {**i, "array": "/etc/passwd"}, "not a plain .npy file name"),
    (lambda i: {**i, "rows": [-1, *i["rows"][1:]]}, "rows outside"),
    (lambda i: {**i, "rows": [10**6, *i["rows"][1:]]}, "rows outside"),
    (lambda i: {**i, "rows": [0.5, *i["rows"][1:]]}, "rows outside"),
])
def test_a_crafted_cache_index_is_rebuilt_never_followed(tiny_folder, tmp_path, edit, why):
    images = cached_images(tiny_folder, 16, report=QUIET)
    entry = images.lab.path.parent
    index = json.loads((entry / "index.json").read_text())
    decoy = np.full(tuple(index["shape"]), 99, np.float16)       # what the index would point at
    np.save(entry.parent.parent / "outside.npy", decoy)
    (entry / "index.json").write_text(json.dumps(edit(index)))
    with pytest.warns(UserWarning, match=why):
        again = cached_images(tiny_folder, 16, report=QUIET)
    assert torch.equal(again.lab[:], images.lab[:])


def test_cache_entries_are_private_to_their_owner(tiny_folder):
    old = os.umask(0o022)                                        # the usual umask
    try:
        images = cached_images(tiny_folder, 16, report=QUIET)
    finally:
        os.umask(old)
    entry = images.lab.path.parent
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    for f in entry.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


# ---- the floors that keep the loaders safe ----

def test_the_install_floors_are_releases_with_safe_loaders():
    import tomllib

    from .test_cli import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    floors = {d.split(">=")[0]: tuple(map(int, d.split(">=")[1].split(".")))
              for d in listed if ">=" in d}
    assert floors["torch"] >= (2, 6)                             # CVE-2025-32434
    assert floors["onnx"] >= (1, 21)                             # CVE-2026-27489, -34445
    assert "onnxruntime" in floors


def test_errors_are_colorizer_errors():
    with pytest.raises(ColorizerError):
        Config.from_dict({"widths": [0]})
