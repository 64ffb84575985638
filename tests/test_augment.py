import torch

from colorizer import random_resized_crop


def _lab(B=6, H=32):
    g = torch.Generator().manual_seed(1)
    L = torch.rand(B, 1, H, H, generator=g) * 100
    return torch.cat([L, L - 50, 2 * L], dim=1)     # a*b* a known function of L*


def test_keeps_l_and_ab_aligned():
    out = random_resized_crop(_lab(), torch.Generator().manual_seed(0))
    L = out[:, :1]
    assert torch.allclose(out[:, 1:2], L - 50, atol=1e-3)
    assert torch.allclose(out[:, 2:3], 2 * L, atol=1e-3)


def test_shape_and_changes_the_images():
    lab = _lab()
    out = random_resized_crop(lab, torch.Generator().manual_seed(0))
    assert out.shape == lab.shape
    per_image_change = (out - lab).abs().flatten(1).mean(1)
    assert (per_image_change > 0.5).all()


def test_identity_when_crop_is_whole_and_no_flip():
    lab = _lab()
    out = random_resized_crop(lab, torch.Generator().manual_seed(0), scale=(1, 1), ratio=(1, 1),
                              flip=False)
    assert torch.allclose(out, lab, atol=1e-3)


def test_flip_only_mirrors_about_half():
    lab = _lab(B=64)
    out = random_resized_crop(lab, torch.Generator().manual_seed(0), scale=(1, 1), ratio=(1, 1))
    flipped = torch.isclose(out, lab.flip(-1), atol=1e-3).flatten(1).all(1)
    same = torch.isclose(out, lab, atol=1e-3).flatten(1).all(1)
    assert (flipped | same).all()
    assert 16 < int(flipped.sum()) < 48


def test_seeded():
    lab = _lab()
    a = random_resized_crop(lab, torch.Generator().manual_seed(3))
    b = random_resized_crop(lab, torch.Generator().manual_seed(3))
    c = random_resized_crop(lab, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
