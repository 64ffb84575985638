"""Error figures in raw CIELAB units, per image (average them for a split)."""

import torch


def ab_mse(pred_ab, true_ab):
    """Per-image mean squared a*b* error in raw CIELAB units^2: (N, 2, H, W) x2 -> (N,)."""
    return ((pred_ab - true_ab) ** 2).flatten(1).mean(1)


def mean_ab_mse(pred_mean, true_ab):
    """Per-image squared error of the mean a*, b* (N, 2) against the images' (N, 2, H, W), units^2."""
    return ((pred_mean - true_ab.mean(dim=(2, 3))) ** 2).mean(1)


def summarize(per_image):
    """The split's figure: the average of the per-image values, as a float."""
    return float(torch.as_tensor(per_image, dtype=torch.float64).mean())
