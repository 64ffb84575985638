"""Colorization metrics, per image, and the baselines to read them against.

Every figure is computed per image and then averaged over the split. a*b* errors are in raw
CIELAB units (scikit-image's Lab); image metrics compare 8-bit sRGB made from the true L* and
the predicted a*b* against sRGB made from the true L*a*b*.
"""

import numpy as np
import torch

from .data import lab_to_rgb

UNITS = {
    "loss": "MSE in the head's output space (not comparable across heads)",
    "ab_mse": "raw CIELAB units^2, per pixel and channel", "psnr": "dB, 8-bit sRGB",
    "ssim": "8-bit sRGB, Wang et al.'s Gaussian window (sigma 1.5), as papers and torchmetrics "
            "report it; 1 = identical", "ciede2000": "mean Delta E 2000 per pixel",
    "auc": "% (a*b* accuracy averaged over thresholds 0..150)",
    "colourfulness": "Hasler & Suesstrunk 2003, of the generated images",
    "colourfulness_true": "the same, of the ground truth",
    "colourfulness_gap": "mean |generated - true| colourfulness per image",
    "mean_ab_mse": "raw CIELAB units^2 of the image's mean a*, b*",
    "r2": "1 - mean_ab_mse / that of the training-mean prediction",
}
# The figure that stands for a model of each kind: in logs, histories and the CLI's last line.
HEADLINE = {"colorizer": "ab_mse", "regressor": "mean_ab_mse"}
PSNR_CAP = 100.0          # dB, for identical images (an infinite PSNR would poison the average)
AUC_MAX = 150             # AuC thresholds 0, 1, ..., 150 units (Zhang et al. 2016, Sec. 3.1)


def ab_mse(pred_ab, true_ab):
    """Per-image mean squared a*b* error in raw CIELAB units^2: (N, 2, H, W) x2 -> (N,)."""
    return ((pred_ab - true_ab) ** 2).flatten(1).mean(1)


def mean_ab_mse(pred_mean, true_ab):
    """Per-image squared error of the mean a*, b* (N, 2) against images (N, 2, H, W), units^2."""
    return ((pred_mean - true_ab.mean(dim=(2, 3))) ** 2).mean(1)


def summarize(per_image):
    """The split's figure: the average of the per-image values, as a float."""
    return float(torch.as_tensor(per_image, dtype=torch.float64).mean())


def auc(pred_ab, true_ab, top=AUC_MAX):
    """Per-image area under the curve of per-pixel a*b* accuracy, in %.

    A pixel is right at threshold t when its a*b* error (L2, raw units) is at most t; the share of
    right pixels is averaged over t = 0, 1, ..., `top` (Zhang, Isola & Efros 2016). For whole t,
    error <= t exactly when ceil(error) <= t, so a cumulative count of ceil(error) gives every
    threshold at once, without an (images x thresholds x pixels) comparison.
    """
    err = (pred_ab - true_ab).norm(dim=1).flatten(1)                     # (N, H*W)
    bins = err.ceil().clamp(max=top + 1).long()                         # top + 1: never right
    offsets = torch.arange(len(err), device=err.device)[:, None] * (top + 2)
    counts = torch.bincount((bins + offsets).flatten(), minlength=len(err) * (top + 2))
    acc = counts.view(len(err), top + 2)[:, :top + 1].cumsum(1) / err.shape[1]     # (N, T)
    return acc.float().mean(1) * 100


def colourfulness(rgb):
    """Hasler & Suesstrunk (2003) colourfulness of (N, H, W, 3) uint8 sRGB images -> (N,)."""
    rgb = torch.as_tensor(np.asarray(rgb), dtype=torch.float64)
    r, g, b = rgb.unbind(-1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    std = (rg.var(1, correction=0) + yb.var(1, correction=0)).sqrt()
    mean = (rg.mean(1) ** 2 + yb.mean(1) ** 2).sqrt()
    return std + 0.3 * mean


# scikit-image's metrics are imported where they are used: they bring scipy.stats (~50 MB),
# which a training process then carries only for its final evaluation, not through training.


def psnr(pred_rgb, true_rgb):
    """Per-image PSNR in dB on 8-bit sRGB, capped at PSNR_CAP for identical images."""
    from skimage.metrics import peak_signal_noise_ratio

    out = []
    for p, t in zip(pred_rgb, true_rgb):
        out.append(PSNR_CAP if np.array_equal(p, t) else
                   min(PSNR_CAP, peak_signal_noise_ratio(t, p, data_range=255)))
    return torch.tensor(out, dtype=torch.float64)


def ssim(pred_rgb, true_rgb):
    """Per-image SSIM on 8-bit sRGB, channels averaged, with Wang et al.'s (2004) Gaussian window
    (sigma 1.5, population covariances): the figure papers and torchmetrics report, not
    scikit-image's default 7x7 uniform window."""
    from skimage.metrics import structural_similarity

    side = min(pred_rgb.shape[-3:-1])
    win = min(11, side if side % 2 else side - 1)   # 11: the window of sigma 1.5; a smaller
    return torch.tensor([structural_similarity(t, p, channel_axis=-1, data_range=255,  # image:
                                               gaussian_weights=True, sigma=1.5,      # cut to
                                               use_sample_covariance=False, win_size=win)  # it
                         for p, t in zip(pred_rgb, true_rgb)], dtype=torch.float64)


def ciede2000(L, pred_ab, true_ab):
    """Per-image mean CIEDE2000 colour difference between true and predicted L*a*b*."""
    from skimage.color import deltaE_ciede2000

    true = torch.cat([L, true_ab], 1).permute(0, 2, 3, 1).double().cpu().numpy()
    pred = torch.cat([L, pred_ab], 1).permute(0, 2, 3, 1).double().cpu().numpy()
    return torch.from_numpy(deltaE_ciede2000(true, pred, channel_axis=-1)).flatten(1).mean(1)


def per_image_metrics(L, pred_ab, true_ab, chunk=25):
    """Every per-pixel metric of a colorizer's predictions, one value per image, `chunk` images at
    a time (scikit-image's colour conversions keep several float64 copies).

    L (N, 1, H, W), pred_ab and true_ab (N, 2, H, W), raw units."""
    L, pred_ab, true_ab = (t.detach().cpu().float() for t in (L, pred_ab, true_ab))
    parts = [_metrics(L[i:i + chunk], pred_ab[i:i + chunk], true_ab[i:i + chunk])
             for i in range(0, len(L), chunk)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _metrics(L, pred_ab, true_ab):
    pred_rgb, true_rgb = lab_to_rgb(L, pred_ab), lab_to_rgb(L, true_ab)
    c_pred, c_true = colourfulness(pred_rgb), colourfulness(true_rgb)
    return {
        "ab_mse": ab_mse(pred_ab, true_ab).double(),
        "psnr": psnr(pred_rgb, true_rgb),
        "ssim": ssim(pred_rgb, true_rgb),
        "ciede2000": ciede2000(L, pred_ab, true_ab),
        "auc": auc(pred_ab, true_ab).double(),
        "colourfulness": c_pred,
        "colourfulness_true": c_true,
        "colourfulness_gap": (c_pred - c_true).abs(),
    }


def r2(mse, const_mse):
    """1 - the model's error over that of always predicting the training mean."""
    return 1 - mse / const_mse


def baseline_predictions(true_ab, train_mean):
    """The trivial colorizers' a*b* for images (N, 2, H, W): gray, the training mean, and (an
    oracle) each image's own mean a*b* painted everywhere."""
    N, _, H, W = true_ab.shape
    train_mean = torch.as_tensor(train_mean, dtype=torch.float32)[None, :, None, None]
    own_mean = true_ab.mean(dim=(2, 3), keepdim=True)
    return {"gray": torch.zeros_like(true_ab), "train_mean": train_mean.expand(N, 2, H, W),
            "oracle_image_mean": own_mean.expand(N, 2, H, W)}
