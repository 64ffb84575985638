import re

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import (
    ColorizerError,
    Config,
    build_model,
    load_images,
    predict,
    pretrained,
)
from colorizer.checkpoint import load_checkpoint
from colorizer.evaluation import evaluate
from colorizer.packing import compact, expand, write_shipped
from colorizer.serving.pretrained import CARD, WEIGHTS
from research import out_of_domain
from research.shipping import ROOT, train_command

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
    m = evaluate(model, test.lab, train_mean=ckpt["train_ab_mean"], tta="none")   # the card's
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


def test_the_shipped_weights_load_without_unpickling(monkeypatch):
    assert WEIGHTS.suffix == ".safetensors"

    def no_pickles(*args, **kwargs):
        raise AssertionError("torch.load called")

    monkeypatch.setattr(torch, "load", no_pickles)
    model = pretrained(torch.device("cpu"))
    assert predict(model, torch.full((1, 1, 128, 128), 50.0)).shape == (1, 2, 128, 128)


def test_shipped_weights_round_trip_through_safetensors(tmp_path):
    torch.manual_seed(0)
    state = compact(build_model(Config(widths=(4, 8, 8))).state_dict())
    facts = {"config": Config(widths=(4, 8, 8)).to_dict(), "epoch": 3,
             "split": {"seed": 0, "train": ["a"], "test": ["b"]}}
    write_shipped(tmp_path / "w.safetensors", state, facts)
    back = load_checkpoint(tmp_path / "w.safetensors")
    assert back["epoch"] == 3 and back["split"] == facts["split"]
    for name, t in expand(state).items():
        assert torch.equal(back["model"][name], t), name
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(ColorizerError, match="safetensors"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_the_card_says_what_the_model_is_for_and_where_it_fails():
    text = CARD.read_text()
    front = text.split("---")[1]
    for key in ("license: mit", "library_name:", "tags:", "pipeline_tag: image-to-image",
                "metrics:", "model-index:", "value:"):
        assert key in front, key
    for section in ("## Intended use", "## Limitations", "## Out of scope"):
        assert section in text, section
    rows = re.findall(r"^\| (\w+\.(?:png|jpg)) \| [^|]+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$",
                      text, re.M)
    assert len(rows) == len(out_of_domain.PHOTOS)
    assert (ROOT / "docs" / "out_of_domain.png").is_file()
