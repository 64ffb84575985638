"""Predictions in raw a*b* units and a model's test figures."""

import torch

from .metrics import (
    ab_mse,
    baselines,
    colorization_metrics,
    mean_ab_mse,
    regression_metrics,
    regressor_baselines,
    summarize,
)
from .models import loss_fn


@torch.no_grad()
def predict(model, L, batch_size=128):
    """Raw a*b* for L (N, 1, H, W), on the CPU: (N, 2, H, W), or (N, 2) for a regressor."""
    return _outputs(model, L, None, batch_size)[0]


@torch.no_grad()
def _outputs(model, L, ab, batch_size):
    """Predictions (raw units, CPU) and, when `ab` is given, the mean loss, in one pass."""
    model.eval()
    device = next(model.parameters()).device
    preds, loss = [], 0.0
    for i in range(0, len(L), batch_size):
        x = L[i:i + batch_size].to(device)
        out = model(x)
        preds.append(model.decode(out, x.shape[-2:]).cpu())
        if ab is not None:
            loss += float(loss_fn(model, out, ab[i:i + batch_size].to(device))) * len(x)
    return torch.cat(preds), (loss / len(L) if ab is not None else None)


def evaluate(model, lab, batch_size=128, train_mean=None):
    """Test figures for images `lab` (N, 3, H, W): the training loss and the raw-unit error.

    With `train_mean`, the training split's mean a*, b*, also every metric of colorizer.metrics
    and the baselines, scored by the same code on the same images.
    """
    pred, loss = _outputs(model, lab[:, :1], lab[:, 1:], batch_size)
    L, ab = lab[:, :1].cpu(), lab[:, 1:].cpu()
    out = {"loss": loss}
    if model.kind == "regressor":
        out["mean_ab_mse"] = summarize(mean_ab_mse(pred, ab))
        if train_mean is not None:
            out.update(regression_metrics(pred, ab, train_mean))
            out["baselines"] = regressor_baselines(ab, train_mean)
    elif train_mean is None:
        out["ab_mse"] = summarize(ab_mse(pred, ab))
    else:
        out.update(colorization_metrics(L, pred, ab))
        out["baselines"] = baselines(L, ab, train_mean)
    return out
