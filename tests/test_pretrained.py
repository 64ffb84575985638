import re

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import Config, build_model, load_images, pretrained
from colorizer.checkpoint import load_checkpoint
from colorizer.evaluation import evaluate
from colorizer.pretrained import CARD, WEIGHTS
from colorizer.shipping import compact, expand, train_command

from .conftest import smooth_face
from .test_cli import cli


def card_figure(metric):
    """The shipped model's figure for `metric` in the model card's table."""
    row = re.search(rf"^\| {metric} \| ([-0-9.]+) \|", CARD.read_text(), re.M)
    assert row, f"no {metric} row in {CARD}"
    return float(row.group(1))


def test_the_shipped_model_is_small_and_reproduces_its_card(real_data):
    assert WEIGHTS.stat().st_size <= 4 * 2**20
    model = pretrained(torch.device("cpu"))
    ckpt = load_checkpoint(WEIGHTS)
    test = load_images(real_data, names=ckpt["split"]["test"])
    m = evaluate(model, test.lab, train_mean=ckpt["train_ab_mean"])
    assert m["ab_mse"] == pytest.approx(card_figure("ab_mse"), abs=0.1)
    assert m["psnr"] == pytest.approx(card_figure("psnr"), abs=0.01)
    assert train_command(Config.from_dict(ckpt["config"])) in CARD.read_text()


def test_colorize_and_evaluate_need_no_checkpoint(tmp_path):
    Image.fromarray(smooth_face(np.random.default_rng(0), 90)).save(tmp_path / "face.png")
    r = cli("colorize", tmp_path / "face.png", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(tmp_path / "o" / "face.png"))
    assert out.shape == (90, 90, 3) and np.ptp(out[..., 0].astype(int) - out[..., 2]) > 0
    r = cli("evaluate", "--tta", "none")            # the card's figures are the plain model's
    assert r.returncode == 0, r.stderr
    assert f"{card_figure('ab_mse'):.3f}" in r.stdout
    r = cli("evaluate")
    assert r.returncode == 0 and "--tta flip" in r.stdout.splitlines()[0]


def test_compact_weights_round_trip_within_half_a_step():
    torch.manual_seed(0)
    state = build_model(Config(widths=(4, 8, 8))).state_dict()
    back = expand(compact(state))
    assert back.keys() == state.keys()
    for name, t in state.items():
        if t.is_floating_point() and t.dim() >= 2:
            step = t.abs().amax(dim=tuple(range(1, t.dim())), keepdim=True) / 127
            assert ((back[name] - t).abs() <= step / 2 + 1e-7).all(), name
        elif t.is_floating_point():
            assert torch.allclose(back[name], t, rtol=1e-3, atol=1e-4), name
        else:
            assert torch.equal(back[name], t), name


def test_train_command_names_what_differs_from_the_defaults():
    assert train_command(Config()) == "python -m colorizer train"
    cfg = Config(epochs=9, widths=(4, 8, 8), flip=False, data="elsewhere")
    assert train_command(cfg) == "python -m colorizer train --widths 4,8,8 --epochs 9 --no-flip"
