import math

import numpy as np
import pytest
import torch

from colorizer.metrics import (
    PSNR_CAP,
    ab_mse,
    auc,
    baselines,
    ciede2000,
    colorization_metrics,
    colourfulness,
    psnr,
    regression_metrics,
    ssim,
)


@pytest.fixture
def lab():
    g = torch.Generator().manual_seed(0)
    L = 30 + 40 * torch.rand(3, 1, 16, 16, generator=g)
    ab = 20 * torch.randn(3, 2, 16, 16, generator=g).clamp(-2, 2)
    return L, ab


def test_identical_images_score_perfectly(lab):
    L, ab = lab
    m = colorization_metrics(L, ab, ab)
    assert m["ab_mse"] == 0 and m["ciede2000"] == pytest.approx(0, abs=1e-9)
    assert m["psnr"] == PSNR_CAP and m["ssim"] == pytest.approx(1.0)
    assert m["auc"] == pytest.approx(100.0)
    assert m["colourfulness_gap"] == 0 and m["colourfulness"] == m["colourfulness_true"] > 0


def test_constant_offset_gives_known_mse_and_auc(lab):
    L, ab = lab
    ab = ab.round()                                                 # exact differences in float32
    pred = ab + torch.tensor([3.0, 4.0])[None, :, None, None]      # L2 error 5 at every pixel
    assert torch.allclose(ab_mse(pred, ab), torch.full((3,), 12.5))
    # right at thresholds 5, 6, ..., 150: 146 of the 151
    assert torch.allclose(auc(pred, ab), torch.full((3,), 146 / 151 * 100))
    assert (ciede2000(L, pred, ab) > 0).all()


def test_psnr_of_one_level_everywhere():
    a = np.full((2, 8, 8, 3), 100, dtype=np.uint8)
    got = psnr(a + 1, a)
    expected = torch.full((2,), 20 * math.log10(255), dtype=torch.float64)     # MSE = 1
    assert torch.allclose(got, expected, atol=1e-6)
    assert psnr(a, a).tolist() == [PSNR_CAP, PSNR_CAP]
    assert ssim(a, a).tolist() == pytest.approx([1.0, 1.0])


def test_colourfulness_by_hand():
    gray = np.full((1, 4, 4, 3), 128, dtype=np.uint8)
    red = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert colourfulness(gray).item() == 0
    # constant red: rg = 255, yb = 127.5, no spread -> 0.3 * sqrt(255^2 + 127.5^2)
    assert colourfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5))


def test_regression_r2(lab):
    _, ab = lab
    true_mean = ab.mean(dim=(2, 3))
    train_mean = [1.0, -2.0]
    assert regression_metrics(true_mean, ab, train_mean) == {"mean_ab_mse": 0.0, "r2": 1.0}
    half_way = (true_mean + torch.tensor(train_mean)) / 2       # a quarter of the squared error
    m = regression_metrics(half_way, ab, train_mean)
    const = float(((true_mean - torch.tensor(train_mean)) ** 2).mean())
    assert m["mean_ab_mse"] == pytest.approx(const / 4, rel=1e-5)
    assert m["r2"] == pytest.approx(0.75, rel=1e-5)


def test_baselines_on_a_tiny_fixture(lab):
    L, ab = lab
    b = baselines(L, ab, ab.mean(dim=(0, 2, 3)).tolist())
    assert set(b) == {"gray", "train_mean", "oracle_image_mean"}
    assert b["gray"]["ab_mse"] == pytest.approx(float(ab.square().mean()), rel=1e-5)
    assert b["gray"]["colourfulness"] == pytest.approx(0, abs=0.5)
    # each image's own mean is never worse than one mean for all images
    assert b["oracle_image_mean"]["ab_mse"] <= b["train_mean"]["ab_mse"] <= b["gray"]["ab_mse"]
