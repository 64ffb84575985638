"""Predictions in raw a*b* units (optionally averaged with the mirrored image's) and a model's
test figures."""

import torch

from .config import ColorizerError
from .data import chunks
from .devices import configure_backends
from .hints import CHANNELS as HINT_CHANNELS
from .hints import add_points, as_maps, worst_centres
from .metrics import (
    UNITS,
    ab_mse,
    baseline_predictions,
    mean_ab_mse,
    per_image_metrics,
    r2,
    summarize,
)
from .models import loss_fn

# Test-time augmentation: "none", or "flip": the mean of the prediction for L* and the mirrored
# prediction for mirrored L* (a face's colours do not depend on which way it looks). A picture
# made for a user is flip-averaged: it is the better one (README's results) at twice the forward
# passes. A run scores the plain pass (PLAIN), as the study did, so that every result page
# compares like with like.
TTA = ("none", "flip")
TTA_DEFAULT, PLAIN = "flip", "none"


@torch.no_grad()
def predict(model: torch.nn.Module, L: torch.Tensor, batch_size: int = 128,
            tta: str = TTA_DEFAULT, saturation: float = 1.0, hints=None) -> torch.Tensor:
    """Raw a*b* for L (N, 1, H, W), on the CPU: (N, 2, H, W), or (N, 2) for a regressor;
    `saturation` a gain on them (1: as predicted).

    `hints`: colour points, colorizer.hints.Hint (x, y in L's pixels), a list of them for each
    image (for one image, the list itself), or hint maps (N, 3, H, W) as hints.maps makes them;
    the colorizer's hint part (colorizer.spread) carries them over the prediction. No point
    (None, empty lists): the prediction itself."""
    maps = as_maps(hints, L.shape, model.kind == "colorizer")
    ab = _outputs(model, L, None, batch_size, tta, maps)[0]
    return ab * saturation if saturation != 1 else ab


@torch.no_grad()
def _outputs(model, L, ab, batch_size, tta, hints=None):
    """Predictions (raw units, CPU) and, when `ab` is given, the mean loss of the model's plain
    forward pass (the training loss, without test-time augmentation), in one pass."""
    if tta not in TTA:
        raise ColorizerError(f"--tta takes one of {', '.join(TTA)}; got {tta!r}")
    model.eval()
    device = next(model.parameters()).device
    preds, loss = [], 0.0
    for i in range(0, len(L), batch_size):
        x = L[i:i + batch_size].to(device)
        h = None if hints is None else hints[i:i + batch_size].to(device)
        out = model(x)
        preds.append(with_mirror(_predict_one(model, x, out), x, h, tta).cpu())
        if ab is not None:
            loss += float(loss_fn(model, out, ab[i:i + batch_size].to(device))) * len(x)
    return torch.cat(preds), (loss / len(L) if ab is not None else None)


@torch.no_grad()
def corrective_sequence(model, lab, points, batch_size=128, tta=TTA_DEFAULT):
    """A simulated person correcting a result (Zhang et al. 2017): predictions for images `lab`
    (N, 3, H, W) with 0, 1, ..., `points` hints, each next point at the centre of the worst
    9 x 9 error of the prediction before it, of the true mean colour there. Yields (hint maps or
    None, prediction) for each count."""
    L, ab = lab[:, :1], lab[:, 1:]
    maps = None
    for k in range(points + 1):
        pred = predict(model, L, batch_size, tta, hints=maps)
        yield maps, pred
        if k < points:
            base = maps if maps is not None else torch.zeros(len(lab), HINT_CHANNELS,
                                                             *lab.shape[-2:])
            maps = add_points(base, ab, *worst_centres(pred, ab))


def with_mirror(predict_one, L, hint_maps, tta):
    """predict_one(L, hint_maps) -> a*b*; with `tta` "flip", averaged with its prediction for
    the mirrored image (its points mirrored with it), mirrored back. The one place test-time
    augmentation is done, for a torch model and an ONNX export alike."""
    pred = predict_one(L, hint_maps)
    if tta == "flip":
        mirrored = predict_one(L.flip(-1), None if hint_maps is None else hint_maps.flip(-1))
        pred = (pred + _unmirror(mirrored)) / 2
    return pred


def _predict_one(model, L, out):
    """(image, hint maps) -> raw a*b* of `model`, reusing `out`, its output for `L` already
    computed (the loss's), when the image is `L` itself."""
    def one(image, hint_maps):
        raw = out if image is L else model(image)
        return _hinted(model, image, model.decode(raw, image.shape[-2:]), hint_maps)
    return one


def _hinted(model, L, ab, hint_maps, chunk=16):
    """`ab` with the points of `hint_maps` carried over it by the model's hint part, `chunk`
    images at a time (its weights are pixels x hinted cells a picture); no maps: `ab` itself."""
    if hint_maps is None:
        return ab
    return torch.cat([model.spread(L[i:i + chunk].float(), ab[i:i + chunk].float(),
                                   hint_maps[i:i + chunk].float())
                      for i in range(0, len(ab), chunk)])


def _unmirror(pred):
    """A prediction for mirrored L* mirrored back: per-pixel maps flip, image means stay."""
    return pred.flip(-1) if pred.dim() == 4 else pred


def evaluate(model: torch.nn.Module, lab, batch_size: int = 128,
             train_mean: list[float] | None = None, baselines: bool = True,
             tta: str = TTA_DEFAULT) -> dict:
    """Test figures for images `lab` (N, 3, H, W), a tensor or a DiskLab: the training loss and
    the raw-unit error, read and scored `batch_size` images at a time (memory stays flat).

    With `train_mean`, the training split's mean a*, b*, also every metric of colorizer.metrics
    and, unless `baselines` is False, the baselines, scored by the same code on the same images.
    `tta="flip"` scores the flip-averaged predictions (see TTA); the loss stays the plain one.
    """
    configure_backends(next(model.parameters()).device)   # (a model moved by hand: the policy)
    loss, parts = 0.0, []
    for x in chunks(lab, batch_size):
        pred, batch_loss = _outputs(model, x[:, :1], x[:, 1:], batch_size, tta)
        loss += batch_loss * len(x)
        parts.append(_per_image(model.kind, x[:, :1].cpu(), pred, x[:, 1:].cpu(), train_mean,
                                baselines))
    out = {"loss": loss / len(lab), **_averages(parts)}
    if model.kind == "regressor" and train_mean is not None:
        out["r2"] = r2(out["mean_ab_mse"], out["baselines"]["train_mean"]["mean_ab_mse"])
        out["baselines"]["train_mean"]["r2"] = 0.0
    return out


def _per_image(kind, L, pred, ab, train_mean, baselines=True):
    """{metric: per-image values} of one block of images, with the baselines' under
    "baselines" when `train_mean` is given and `baselines` asked for."""
    if kind == "regressor":
        out = {"mean_ab_mse": mean_ab_mse(pred, ab)}
        if train_mean is not None:
            const = torch.as_tensor(train_mean).expand(len(ab), 2)
            out["baselines"] = {"train_mean": {"mean_ab_mse": mean_ab_mse(const, ab)}}
        return out
    if train_mean is None:
        return {"ab_mse": ab_mse(pred, ab)}
    if not baselines:
        return per_image_metrics(L, pred, ab)
    return {**per_image_metrics(L, pred, ab),
            "baselines": {name: per_image_metrics(L, b, ab)
                          for name, b in baseline_predictions(ab, train_mean).items()}}


def _averages(parts):
    """The split's figures from each block's per-image values: the mean over all images."""
    return {k: _averages([p[k] for p in parts]) if isinstance(v, dict)
            else summarize(torch.cat([p[k] for p in parts]))
            for k, v in parts[0].items()}


_TTA_WORDS = {"flip": ", each prediction averaged with the mirrored image's (--tta flip)"}


def format_report(metrics):
    """evaluate's readable table: the model's metrics next to the baselines', with units."""
    base = metrics["baselines"]
    keys = [k for k in UNITS if k in metrics and k != "loss"]
    lines = [f"{metrics['model']} / {metrics['head']}, widths {tuple(metrics['widths'])}, epoch "
             f"{metrics['epoch']}: {metrics['n_test']} test images (split seed {metrics['seed']})"
             + _TTA_WORDS.get(metrics.get("tta", "none"), ""),
             "",
             f"{'metric':<20}{'model':>10}" + "".join(f"{b:>19}" for b in base)]
    for k in keys:
        lines.append(f"{k:<20}{metrics[k]:>10.3f}"
                     + "".join(f"{base[b].get(k, float('nan')):>19.3f}" for b in base))
    lines += ["", "units: " + "; ".join(f"{k}: {UNITS[k]}" for k in keys),
              "oracle_image_mean paints each test image's own mean a*b*: it sees the answer."
              if "oracle_image_mean" in base else ""]
    return "\n".join(lines).rstrip()
