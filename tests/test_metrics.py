import math

import numpy as np
import pytest
import torch

from colorizer.metrics import (
    PSNR_CAP,
    ab_mse,
    auc,
    baseline_predictions,
    ciede2000,
    colourfulness,
    mean_ab_mse,
    per_image_metrics,
    psnr,
    r2,
    ssim,
    summarize,
)


def averaged(L, pred, true):
    """The split's figures as evaluate makes them: per image, then the mean."""
    return {k: summarize(v) for k, v in per_image_metrics(L, pred, true).items()}


@pytest.fixture
def lab():
    g = torch.Generator().manual_seed(0)
    L = 30 + 40 * torch.rand(3, 1, 16, 16, generator=g)
    ab = 20 * torch.randn(3, 2, 16, 16, generator=g).clamp(-2, 2)
    return L, ab


def test_identical_images_score_perfectly(lab):
    L, ab = lab
    m = averaged(L, ab, ab)
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
    train_mean = torch.tensor([1.0, -2.0])
    const = summarize(mean_ab_mse(train_mean.expand(3, 2), ab))
    assert summarize(mean_ab_mse(true_mean, ab)) == 0.0
    half_way = (true_mean + train_mean) / 2       # a quarter of the squared error
    mse = summarize(mean_ab_mse(half_way, ab))
    assert mse == pytest.approx(const / 4, rel=1e-5)
    assert r2(mse, const) == pytest.approx(0.75, rel=1e-5) and r2(0.0, const) == 1.0


def test_baselines_on_a_tiny_fixture(lab):
    L, ab = lab
    b = {name: averaged(L, pred, ab)
         for name, pred in baseline_predictions(ab, ab.mean(dim=(0, 2, 3)).tolist()).items()}
    assert set(b) == {"gray", "train_mean", "oracle_image_mean"}
    assert b["gray"]["ab_mse"] == pytest.approx(float(ab.square().mean()), rel=1e-5)
    assert b["gray"]["colourfulness"] == pytest.approx(0, abs=0.5)
    # each image's own mean is never worse than one mean for all images
    assert b["oracle_image_mean"]["ab_mse"] <= b["train_mean"]["ab_mse"] <= b["gray"]["ab_mse"]


def test_ssim_uses_wang_et_als_gaussian_window():
    from skimage.metrics import structural_similarity

    from colorizer.metrics import ssim

    rng = np.random.default_rng(0)
    true = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    pred = np.clip(true.astype(int) + rng.integers(-20, 21, true.shape), 0, 255).astype(np.uint8)
    gaussian = structural_similarity(true[0], pred[0], channel_axis=-1, data_range=255,
                                     gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    uniform = structural_similarity(true[0], pred[0], channel_axis=-1, data_range=255)
    assert float(ssim(pred, true)[0]) == pytest.approx(gaussian, rel=1e-12)
    assert gaussian != pytest.approx(uniform, rel=1e-6)          # the two windows differ
