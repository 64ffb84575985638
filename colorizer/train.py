"""Training and evaluation as plain functions, checkpoints as plain dicts."""

import csv
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .augment import random_resized_crop
from .config import ColorizerError, Config, get_device
from .data import LabImages, load_images, save_split, split_names, write_json
from . import quantize
from .metrics import (UNITS, ab_mse, baselines, colorization_metrics, mean_ab_mse,
                      regression_metrics, regressor_baselines, summarize)
from .models import CLASSIFY_DOWNSAMPLE, build_model, loss_fn
from .viz import plot_loss, save_triples

CHECKPOINT = "checkpoint.pt"


def batch_indices(n, batch_size, repeats, generator):
    """Shuffled indices covering 0..n-1 `repeats` times, cut into batches.

    A last batch of one image is folded into the one before: BatchNorm at the 1x1
    bottleneck cannot normalise a single value.
    """
    idx = torch.randperm(n * repeats, generator=generator) % n
    batches = list(idx.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train_one_epoch(model, optimizer, lab, cfg, generator, progress=False, desc="train"):
    """One pass of `cfg.augment_factor` augmented copies of `lab` (N, 3, H, W); mean loss."""
    model.train()
    total, count = 0.0, 0
    batches = batch_indices(len(lab), cfg.batch_size, cfg.augment_factor, generator)
    bar = tqdm(batches, desc=desc, disable=not progress, leave=False, unit="batch")
    for idx in bar:
        x = random_resized_crop(lab[idx.to(lab.device)], generator, cfg.crop_scale,
                                cfg.crop_ratio, cfg.flip)
        L = x[:, :1].contiguous(memory_format=torch.channels_last)
        loss = loss_fn(model, model(L), x[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
        count += len(idx)
        bar.set_postfix(loss=f"{total / count:.5f}")
    return total / count


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


# --- checkpoints ---------------------------------------------------------------------------------

def save_checkpoint(path, ckpt):
    """torch.save to a temporary file, then os.replace: a crash never leaves half a checkpoint."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location="cpu"):
    """The checkpoint dict at `path` (weights_only: plain tensors and Python values)."""
    path = Path(path)
    if not path.is_file():
        raise ColorizerError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:          # torch raises many kinds here: pickle, zip, runtime errors
        raise ColorizerError(f"not a readable checkpoint: {path} ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or not {"model", "config"} <= ckpt.keys():
        raise ColorizerError(f"not a colorizer checkpoint: {path}")
    return ckpt


def restore(model, ckpt):
    """Load a checkpoint's weights into `model`, refusing another model type, head or width."""
    cfg = ckpt["config"]
    if (cfg["model"], cfg["head"]) != (model.kind, model.head):
        raise ColorizerError(
            f"checkpoint holds a {cfg['model']} with a {cfg['head']} head; "
            f"cannot load it into a {model.kind} with a {model.head} head")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError:
        raise ColorizerError(
            f"checkpoint widths {tuple(cfg['widths'])} do not fit this model's layers") from None
    return model


def load_model(path, device=None):
    """Rebuild the model a checkpoint describes, with its weights, in eval mode: (model, ckpt)."""
    device = device or get_device()
    ckpt = load_checkpoint(path)
    model = restore(build_model(Config.from_dict(ckpt["config"])), ckpt).to(device)
    return model.eval(), ckpt


# --- a whole run ---------------------------------------------------------------------------------

@dataclass
class Run:
    """What fit() leaves behind, for the notebook and the CLI."""
    cfg: Config
    model: torch.nn.Module
    history: dict
    metrics: dict
    train: LabImages
    test: LabImages
    out_dir: Path | None


def fit(cfg, out_dir=None, progress=True, resume=False, data=None, log=print):
    """Train the model `cfg` describes on its seeded split; write a run's files into `out_dir`.

    `data` (LabImages) skips reading the folder again; `resume` continues from
    `out_dir/checkpoint.pt` up to `cfg.epochs`, with the split, weights, optimizer and RNG
    state saved there. Returns a Run.
    """
    log = log or (lambda *a, **k: None)
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = None
    if resume:
        if out_dir is None:
            raise ColorizerError("resume needs the run's output folder")
        ckpt = load_checkpoint(out_dir / CHECKPOINT)
        cfg = replace(Config.from_dict(ckpt["config"]), epochs=cfg.epochs,
                      data=cfg.data or ckpt["config"]["data"])
    device = get_device(cfg.device)

    if data is None:
        names = ckpt["split"]["train"] + ckpt["split"]["test"] if ckpt else None
        data = load_images(cfg.data, cfg.image_size, limit=None if ckpt else cfg.limit,
                           names=names)
    if ckpt:
        train_names, test_names = ckpt["split"]["train"], ckpt["split"]["test"]
    else:
        train_names, test_names = split_names(data.names, cfg.test_fraction, cfg.seed)
    train, test = data.subset(train_names), data.subset(test_names)
    train_mean = train.ab.mean(dim=(0, 2, 3)).tolist()       # for the baselines

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    history = {"train_loss": [], "test_loss": [], "test_error": [], "seconds": []}
    start = 0
    if cfg.head == "classify":          # the class prior of this training split (Sec. 3.2)
        prior = quantize.smoothed_prior(F.avg_pool2d(train.ab, CLASSIFY_DOWNSAMPLE))
        model.prior.copy_(prior)
        if cfg.rebalance:
            model.class_weights.copy_(quantize.rebalance_weights(prior))
    if ckpt:
        restore(model, ckpt)
        optimizer.load_state_dict(ckpt["optimizer"])
        generator.set_state(ckpt["rng"])
        history, start = ckpt["history"], ckpt["epoch"]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_split(out_dir / "split.json", train_names, test_names, cfg.seed)

    error_key = "mean_ab_mse" if cfg.model == "regressor" else "ab_mse"
    log(f"{cfg.model}/{cfg.head} widths={cfg.widths} on {device}: {len(train)} train x "
        f"{cfg.augment_factor} augmented, {len(test)} test images")
    train_lab = train.lab.to(device)
    test_lab = test.lab.to(device)
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        train_loss = train_one_epoch(model, optimizer, train_lab, cfg, generator, progress,
                                     desc=f"epoch {epoch + 1}/{cfg.epochs}")
        seconds = time.perf_counter() - t0
        metrics = evaluate(model, test_lab)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(metrics["loss"])
        history["test_error"].append(metrics[error_key])
        history["seconds"].append(seconds)
        log(f"epoch {epoch + 1:3d}/{cfg.epochs}  train loss {train_loss:.6f}  test loss "
            f"{metrics['loss']:.6f}  test {error_key} {metrics[error_key]:.2f} units^2  "
            f"({seconds:.1f} s)")
        if out_dir is not None:
            save_checkpoint(out_dir / CHECKPOINT, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "config": cfg.to_dict(), "epoch": epoch + 1, "history": history,
                "split": {"seed": cfg.seed, "train": train_names, "test": test_names},
                "rng": generator.get_state(), "train_ab_mean": train_mean})

    metrics = {**evaluate(model, test_lab, train_mean=train_mean), "split": "test",
               "n_test": len(test), "seed": cfg.seed, "epochs": len(history["train_loss"]),
               "train_seconds": sum(history["seconds"]), "units": UNITS}
    if out_dir is not None:
        write_outputs(out_dir, model, test, history, metrics)
    return Run(cfg, model, history, metrics, train, test, out_dir)


def write_outputs(out_dir, model, test, history, metrics):
    """history.json, metrics.json, loss.png, triples/ and, for a regressor, predictions.csv."""
    write_json(out_dir / "history.json", history)
    write_json(out_dir / "metrics.json", metrics)
    if history["train_loss"]:
        plot_loss(history, out_dir / "loss.png", title=f"{model.kind} / {model.head}",
                  ylabel="cross-entropy" if model.head == "classify" else "MSE (head space)")
    pred = predict(model, test.L)
    save_triples(test.L, test.ab, pred, test.names, out_dir / "triples")
    if model.kind == "regressor":
        write_predictions(out_dir / "predictions.csv", test.names, pred, test.ab.mean(dim=(2, 3)))


def write_predictions(path, names, pred, true):
    """The study's per-image table: predicted and true mean a*, b* in raw units."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "pred_a", "pred_b", "true_a", "true_b"])
        for n, p, t in zip(names, pred.tolist(), true.tolist()):
            w.writerow([n, *(f"{v:.3f}" for v in (*p, *t))])
