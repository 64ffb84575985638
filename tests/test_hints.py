"""Colour hints: the points a person gives, their maps, the simulated people, the hint part that
carries points over a prediction, and hints through predict, colorize_rgb, the command line and
ONNX."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import ColorizerError, Hint, fit, predict, pretrained
from colorizer import hints as H
from colorizer.cli import main
from colorizer.colorize import colorize_rgb
from colorizer.config import Config
from colorizer.console import QUIET
from colorizer.data import rgb_to_lab
from colorizer.models import build_model
from colorizer.spread import Spread

from .conftest import require_onnx, tiny_config


def hinted_model(seed=0, **kw):
    """A tiny colorizer (every colorizer takes hints: its hint part)."""
    torch.manual_seed(seed)
    return build_model(tiny_config(**kw)).eval()


def test_a_hint_takes_a_hex_colour_or_ab_and_parses_from_the_command_line():
    red = Hint.at(3, 4, "#c0392b")
    a, b = rgb_to_lab(np.array([[[0xc0, 0x39, 0x2b]]], np.uint8))[1:, 0, 0].tolist()
    assert red.ab == pytest.approx((a, b), abs=1e-4) and red.ab[0] > 40      # red: a* high
    assert Hint.parse("3,4,#c0392b") == red
    assert Hint.parse("3, 4, 10, -20") == Hint(3.0, 4.0, (10.0, -20.0))
    assert Hint.of({"x": 3, "y": 4, "colour": "#c0392b"}) == red
    assert Hint.of([3, 4, [10, -20]]).ab == (10.0, -20.0)


@pytest.mark.parametrize("text", ["3,4", "3,4,#c0392", "3,4,red", "x,4,#c0392b", "3,4,300,0",
                                  "nan,4,#c0392b", "3,4,1,2,3"])
def test_a_bad_hint_is_one_line(text):
    with pytest.raises(ColorizerError) as e:
        Hint.parse(text)
    assert "\n" not in str(e.value)


def test_a_point_lands_where_it_was_given_on_the_networks_grid():
    # a 200 x 100 (W x H) photo on a 16 px grid: x 150 -> column 12, y 25 -> row 4
    m = H.maps([Hint.at(150, 25, (40, -20))], (100, 200), (16, 16))
    assert m.shape == (1, 3, 16, 16)
    rows, cols = torch.nonzero(m[0, 2], as_tuple=True)
    assert set(rows.tolist()) == {3, 4, 5} and set(cols.tolist()) == {11, 12, 13}
    assert m[0, 0, 4, 12] == pytest.approx(40 / H.AB_SCALE)
    assert m[0, 1, 4, 12] == pytest.approx(-20 / H.AB_SCALE)
    assert m[0, :, 0, 0].abs().sum() == 0
    with pytest.raises(ColorizerError, match="outside the 200 x 100 image"):
        H.maps([Hint.at(200, 25, (1, 1))], (100, 200), (16, 16))


def test_simulated_points_follow_colorization_pytorch():
    g = torch.Generator().manual_seed(0)
    ab = torch.randn(512, 2, 32, 32) * 30
    maps = H.simulate(ab, g)
    mask = maps[:, 2]
    none = float((mask.flatten(1).sum(1) == 0).double().mean())
    assert 0.08 < none < 0.17                            # 1/8 of images get no point
    # where one patch is alone, its colour is the truth's mean over it
    again = H.simulate(ab, torch.Generator().manual_seed(0))
    assert torch.equal(maps, again)                      # seeded: the same points
    b, y, x = (torch.tensor([0]), torch.tensor([5]), torch.tensor([7]))
    size = torch.tensor([3])
    values = H.patch_means(ab, b, y, x, size)
    assert torch.allclose(values[0], ab[0, :, 5:8, 7:10].mean((1, 2)), atol=1e-5)
    painted = H.stamp((1, 32, 32), b, y, x, size, values)
    assert torch.allclose(painted[0, :2, 6, 8] * H.AB_SCALE, values[0], atol=1e-5)
    assert painted[0, 2].sum() == 9


def test_a_corrective_point_goes_to_the_worst_region():
    ab = torch.zeros(2, 2, 32, 32)
    pred = ab.clone()
    pred[0, :, 20:29, 3:12] = 9.0          # image 0 is wrong around (24, 7)
    pred[1, :, 0:2, 30:32] = 50.0          # image 1 in its top right corner
    y, x = H.worst_centres(pred, ab)
    assert (int(y[0]), int(x[0])) == (24, 7)
    assert 0 <= int(y[1]) <= 5 and 26 <= int(x[1]) <= 31
    maps = H.add_points(torch.zeros(2, 3, 32, 32), ab + 5, y, x)
    assert maps[0, 2, 23:26, 6:9].sum() == 9 and maps[0, 2].sum() == 9
    assert torch.allclose(maps[0, 0, 24, 7] * H.AB_SCALE, torch.tensor(5.0))


def two_regions(side=64):
    """L* dark on the left half, light on the right, and a prediction of no colour."""
    L = torch.full((1, 1, side, side), 30.0)
    L[..., side // 2:] = 70.0
    return L, torch.zeros(1, 2, side, side)


def test_no_point_changes_nothing_and_a_point_sticks_within_its_region():
    L, base = two_regions()
    spread = Spread()
    assert torch.equal(spread(L, base, torch.zeros(1, 3, 64, 64)), base)      # zero maps
    maps = H.maps([Hint.at(16, 32, (40.0, -20.0))], (64, 64), (64, 64))
    out = spread(L, base, maps)
    assert (out[0, :, 32, 16] - torch.tensor([40.0, -20.0])).norm() < 5   # where it was placed
    assert out[0, 0, 32, 8] > 20                      # its region (dark), 8 px away, follows
    assert out[0, :, 32, 48].norm() < 1               # the light half, 32 px away, stays


def test_the_hint_part_is_fitted_apart_from_training(tiny_data, tmp_path):
    run = fit(tiny_config(epochs=1), tmp_path, data=tiny_data, report=QUIET)
    assert torch.equal(run.model.spread.log_xy, Spread().log_xy)       # training leaves it be
    # ... and every one of its numbers can learn from a person's points (research.hint_fit)
    spread = Spread()
    L, base = two_regions()
    base[:, 0] = torch.linspace(-10, 10, 64)          # the model's colours vary across the photo
    maps = H.maps([Hint.at(16, 32, (40.0, -20.0)), Hint.at(40, 10, (5.0, 5.0))], (64, 64),
                  (64, 64))
    wanted = base + torch.tensor([30.0, -10.0])[:, None, None]
    ((spread(L, base, maps) - wanted) ** 2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in spread.parameters())


def test_a_model_trained_with_the_removed_hints_setting_is_one_line():
    with pytest.raises(ColorizerError, match="--hints random, removed in 0.9.0"):
        Config.from_dict({**Config().to_dict(), "hints": "random"})
    assert Config.from_dict({**Config().to_dict(), "hints": "none"}) == Config()


def test_predict_takes_points_per_image_or_for_one_image():
    model = hinted_model()
    L = torch.rand(1, 1, 16, 16) * 100
    plain = predict(model, L)
    one = predict(model, L, hints=[Hint.at(8, 8, "#d02020")])
    assert not torch.allclose(plain, one)
    assert torch.equal(one, predict(model, L, hints=[[(8, 8, "#d02020")]]))
    assert torch.equal(plain, predict(model, L, hints=[]))
    with pytest.raises(ColorizerError, match="takes no colour hints"):
        predict(build_model(tiny_config(model="regressor")), L, hints=[(8, 8, "#d02020")])


def test_flip_averaging_mirrors_the_hints_with_the_image():
    model = hinted_model()
    L = torch.rand(1, 1, 16, 16) * 100
    maps = H.maps([Hint.at(2, 8, (60, 30))], (16, 16), (16, 16))
    both = predict(model, L, hints=maps, tta="flip")
    mirrored = predict(model, L.flip(-1), hints=maps.flip(-1)).flip(-1)
    assert torch.allclose(both, (predict(model, L, hints=maps) + mirrored) / 2, atol=1e-5)


def test_colorize_rgb_puts_photo_pixels_on_the_grid():
    model = hinted_model()
    rgb = (np.random.default_rng(0).random((40, 80, 3)) * 255).astype(np.uint8)
    plain = colorize_rgb(model, rgb, tta="none")
    hinted = colorize_rgb(model, rgb, tta="none", hints=[(70, 35, "#2040d0")])
    changed = np.abs(plain.astype(int) - hinted.astype(int)).sum(-1) > 0
    assert changed.any()
    with pytest.raises(ColorizerError, match="outside the 80 x 40 image"):
        colorize_rgb(model, rgb, hints=[(80, 35, "#2040d0")])


@pytest.fixture
def hint_run(tmp_path):
    """A photo, a colorizer's checkpoint and a regressor's."""
    rgb = (np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    for name, kw in (("hinted", {}), ("plain", dict(model="regressor"))):
        torch.manual_seed(0)
        cfg = tiny_config(**kw)
        from colorizer import save_checkpoint

        save_checkpoint(tmp_path / f"{name}.pt", {"model": build_model(cfg).state_dict(),
                                                  "config": cfg.to_dict(), "epoch": 0})
    return tmp_path


def test_hints_from_the_command_line_change_the_output(hint_run, capsys):
    d = hint_run
    ckpt = str(d / "hinted.pt")
    run = ["--checkpoint", ckpt, "--device", "cpu"]
    assert main(["colorize", str(d / "p.png"), "--out", str(d / "a"), *run]) == 0
    assert main(["colorize", str(d / "p.png"), "--out", str(d / "b"), *run,
                 "--hint", "35,5,#2040d0", "--hint", "2,20,10,40"]) == 0
    (d / "h.json").write_text(json.dumps([[35, 5, "#2040d0"], {"x": 2, "y": 20,
                                                                "colour": [10, 40]}]))
    assert main(["colorize", str(d / "p.png"), "--out", str(d / "c"), *run,
                 "--hints", str(d / "h.json")]) == 0
    (d / "none.json").write_text("[]")                 # an empty hints file: no point at all
    assert main(["colorize", str(d / "p.png"), "--out", str(d / "n"), *run,
                 "--hints", str(d / "none.json")]) == 0
    (d / "m.json").write_text(json.dumps({"p.png": [[35, 5, "#2040d0"], [2, 20, [10, 40]]]}))
    (d / "in").mkdir()
    (d / "p.png").rename(d / "in" / "p.png")
    assert main(["colorize", str(d / "in"), "--out", str(d / "e"), *run,
                 "--hints", str(d / "m.json")]) == 0
    a, b, c, n = (np.asarray(Image.open(d / x / "p.png")) for x in "abcn")
    assert not np.array_equal(a, b) and np.array_equal(b, c) and np.array_equal(a, n)
    assert np.array_equal(b, np.asarray(Image.open(d / "e" / "p.png")))


@pytest.mark.parametrize("args, says", [
    (["--hint", "40,5,#2040d0"], "outside the 40 x 30 image"),
    (["--hint", "3,5,#20zz40"], "give #rrggbb"),
    (["--hint", "3,5"], "give x,y,#rrggbb"),
    (["--hints", "{bad"], "not JSON"),
    (["--hints", '{"q.png": [[1, 1, "#ffffff"]]}'], "not an image given"),
    (["--hints", '[[1, 1, "#ffffff"], "x"]'], "give x,y"),
    (["--plain", "--hint", "3,5,#2040d0"], "is a regressor: it takes no colour hints"),
])
def test_a_bad_hint_on_the_command_line_is_one_line_and_nothing_written(hint_run, capsys, args,
                                                                        says):
    d = hint_run
    if args[0] == "--hints":
        (d / "h.json").write_text(args[1])
        args = ["--hints", str(d / "h.json")]
    ckpt = str(d / ("plain.pt" if args[0] == "--plain" else "hinted.pt"))
    args = [a for a in args if a != "--plain"]
    assert main(["colorize", str(d / "p.png"), "--out", str(d / "o"), "--checkpoint", ckpt,
                 "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not (d / "o" / "p.png").exists()


def test_onnx_export_takes_the_hints_and_agrees_with_pytorch(tmp_path):
    require_onnx()
    from colorizer.serving.deploy import OnnxColorizer, export_onnx

    model = hinted_model()
    onnx = OnnxColorizer(export_onnx(model, tmp_path / "h.onnx"))
    assert onnx.takes_hints
    L = torch.rand(3, 1, 16, 16) * 100
    maps = H.random_points(torch.randn(3, 2, 16, 16) * 30, 4, torch.Generator().manual_seed(0))
    for tta in ("none", "flip"):
        ours, theirs = onnx.predict(L, tta, hints=maps), predict(model, L, tta=tta, hints=maps)
        assert (ours - theirs).abs().max() < 1e-3
    assert (onnx.predict(L) - predict(model, L)).abs().max() < 1e-3
    assert not torch.allclose(onnx.predict(L, hints=maps), onnx.predict(L))


def test_the_shipped_model_takes_points_and_an_empty_list_is_the_plain_picture():
    model = pretrained("cpu")
    rgb = np.asarray(Image.open(sorted(Path("face_images").glob("*.jpg"))[0]).convert("RGB"))
    plain = colorize_rgb(model, rgb)
    assert np.array_equal(plain, colorize_rgb(model, rgb, hints=[]))          # byte for byte
    blue = colorize_rgb(model, rgb, hints=[(10, 10, "#2040d0")]).astype(int)
    assert (blue[8:13, 8:13, 2] - blue[8:13, 8:13, 0]).mean() > (
        plain[8:13, 8:13, 2].astype(int) - plain[8:13, 8:13, 0]).mean() + 10     # bluer there
