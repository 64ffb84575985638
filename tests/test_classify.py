import itertools
import math

import numpy as np
import pytest
import torch

from colorizer import (
    Colorizer,
    ColorizerError,
    Config,
    fit,
    load_images,
    load_model,
    predict,
    quantize,
)
from colorizer.checkpoint import CHECKPOINT
from colorizer.console import QUIET
from colorizer.models import loss_fn
from colorizer.train import Training, train_one_epoch

from .conftest import tiny_config


def test_bins_cover_every_srgb_colour():
    from skimage.color import rgb2lab

    v = np.linspace(0, 1, 33)
    rgb = np.array(list(itertools.product(v, v, v)))
    rgb = np.concatenate([rgb, np.random.default_rng(0).random((20000, 3))])[None]
    ab = torch.tensor(rgb2lab(rgb)[0, :, 1:], dtype=torch.float32)
    d = torch.cdist(ab, quantize.bin_centres()).min(1).values
    assert d.max() <= quantize.GRID / math.sqrt(2) + 1e-3    # every colour's own bin is a class
    assert 250 <= len(quantize.bin_centres()) <= 320          # Zhang et al. count 313


def test_soft_encoding_sums_to_one_and_picks_nearest_bins():
    ab = torch.randn(2, 2, 8, 8) * 25
    index, weight = quantize.encode(ab)
    assert index.shape == weight.shape == (2, 5, 8, 8)
    assert torch.allclose(weight.sum(1), torch.ones(2, 8, 8))
    centres = quantize.bin_centres()
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    # Compared by distance, not by index: two bins can be equally near. The tolerance is float32
    # rounding of a distance (~1e-6 units), not a share of pixels allowed to be wrong.
    best = torch.cdist(flat, centres, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
    chosen = (flat - centres[index[:, 0].reshape(-1)]).norm(dim=1)
    assert torch.allclose(chosen, best, rtol=0, atol=1e-5)
    assert (weight[:, :-1] >= weight[:, 1:]).all()            # nearest first, heaviest


def test_encode_then_annealed_mean_at_small_t_returns_each_bin_centre():
    centres = quantize.bin_centres()
    ab = centres.T[None, :, None, :]                          # (1, 2, 1, Q): one pixel per bin
    index, weight = quantize.encode(ab)
    dist = torch.zeros(1, len(centres), 1, len(centres)).scatter_(1, index, weight)
    decoded = quantize.annealed_mean(torch.log(dist + 1e-12), temperature=0.01)
    assert torch.allclose(decoded, ab, atol=1e-3)
    mean = quantize.annealed_mean(torch.log(dist + 1e-12), temperature=1.0)
    assert (mean - ab).abs().max() < quantize.GRID            # T = 1: the mean, near the centre


def test_rebalancing_weights_have_expectation_one_and_stay_finite():
    q = len(quantize.bin_centres())
    prior = torch.zeros(q)
    prior[:10] = torch.rand(10) + 0.1                          # most bins never occur
    prior /= prior.sum()
    w = quantize.rebalance_weights(prior)
    assert torch.isfinite(w).all() and (w > 0).all()
    assert float((prior * w).sum()) == pytest.approx(1.0, abs=1e-5)
    assert w[prior == 0].min() > w[prior > 0].max()            # rare colours weigh more


def test_smoothed_prior_is_a_distribution():
    ab = torch.randn(3, 2, 8, 8) * 10 + 10
    p = quantize.smoothed_prior(ab)
    assert p.shape == (len(quantize.bin_centres()),)
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5) and (p >= 0).all()


def test_classify_shapes_and_decoding():
    model = Colorizer(widths=(8, 16, 32, 64, 128, 256), head="classify")
    L = torch.rand(2, 1, 128, 128) * 100
    out = model(L)
    assert out.shape == (2, len(quantize.bin_centres()), 32, 32)
    ab = predict(model, L)
    assert ab.shape == (2, 2, 128, 128) and torch.isfinite(ab).all()


def test_cross_entropy_and_its_gradient_equal_log_softmax_through_autograd():
    torch.manual_seed(0)
    scores = (torch.randn(3, 4, 5, 40) * 4).requires_grad_()
    index = torch.randint(0, 40, (3, 4, 5, quantize.NEIGHBOURS))
    weight = torch.softmax(torch.randn(3, 4, 5, quantize.NEIGHBOURS), dim=-1)
    scale = torch.rand(3, 4, 5)         # per-pixel weights, as rebalancing gives them
    by_autograd = -(weight * torch.log_softmax(scores, -1).gather(-1, index)).sum(-1)
    ours = quantize.cross_entropy(scores, index, weight)
    torch.testing.assert_close(ours, by_autograd)
    expected = torch.autograd.grad((scale * by_autograd).sum(), scores)[0]
    got = torch.autograd.grad((scale * ours).sum(), scores)[0]
    torch.testing.assert_close(got, expected)


def test_classify_loss_is_finite_and_falls_when_overfitting(tiny_folder):
    data = load_images(tiny_folder, size=16)
    cfg = tiny_config(head="classify", lr=1e-2, flip=False, crop_scale=(1.0, 1.0),
                      crop_ratio=(1.0, 1.0), augment_factor=8)
    torch.manual_seed(0)
    model = Colorizer(widths=cfg.widths, head="classify")
    model.class_weights.copy_(quantize.rebalance_weights(quantize.smoothed_prior(data.ab)))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(0)
    losses = [train_one_epoch(Training(model, opt, g), data.lab[:4], cfg) for _ in range(15)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]


def test_fit_stores_prior_and_weights_in_the_checkpoint(tiny_folder, tmp_path):
    data = load_images(tiny_folder, size=16)
    run = fit(tiny_config(head="classify", epochs=1), tmp_path, data=data, report=QUIET)
    by_hand = float((predict(run.model, run.test.L, tta="none") - run.test.ab).square().mean())
    assert run.metrics["ab_mse"] == pytest.approx(by_hand, rel=1e-5)
    model, _ = load_model(tmp_path / CHECKPOINT, torch.device("cpu"))
    assert torch.equal(model.prior, run.model.prior) and model.prior.sum() == pytest.approx(1)
    assert float((model.prior * model.class_weights).sum()) == pytest.approx(1.0, abs=1e-4)
    plain = fit(tiny_config(head="classify", epochs=1, rebalance=False), tmp_path / "plain",
                data=data, report=QUIET)
    assert (plain.model.class_weights == 1).all()


def test_classify_is_for_the_colorizer():
    with pytest.raises(ColorizerError, match="classify"):
        Config(model="regressor", head="classify")


def test_loss_fn_mse_heads_unchanged():
    model = Colorizer(widths=(4, 8, 8), head="tanh")
    ab = torch.randn(2, 2, 16, 16) * 20
    out = torch.zeros(2, 2, 16, 16)
    assert float(loss_fn(model, out, ab)) == pytest.approx(float((ab / 128).square().mean()))
