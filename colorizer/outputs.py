"""A finished run's files: history, metrics, loss plot, image triples, the regressor's table."""

import csv

import torch

from .data import chunks
from .evaluation import PLAIN, predict
from .files import write_json
from .models import head
from .viz import plot_loss, save_triples

MAX_TRIPLES = 200         # image triples written per run: every test image of the face set


def write_outputs(out_dir, model, test, history, metrics):
    """history.json, metrics.json, loss.png, triples/ (of the first MAX_TRIPLES test images) and,
    for a regressor, predictions.csv."""
    write_json(out_dir / "history.json", history)
    write_epochs(out_dir / "metrics.csv", history)
    write_json(out_dir / "metrics.json", metrics)
    if history["train_loss"]:
        plot_loss(history, out_dir / "loss.png", title=f"{model.kind} / {model.head}",
                  ylabel=head(model.head).loss_name)
    first = test.lab[:MAX_TRIPLES]
    save_triples(first[:, :1], first[:, 1:], predict(model, first[:, :1], tta=PLAIN),
                 test.names[:MAX_TRIPLES], out_dir / "triples")
    if model.kind == "regressor":
        pred, true = zip(*((predict(model, lab[:, :1], tta=PLAIN), lab[:, 1:].mean(dim=(2, 3)))
                           for lab in chunks(test.lab, 256)))
        write_predictions(out_dir / "predictions.csv", test.names, torch.cat(pred),
                          torch.cat(true))


def write_epochs(path, history):
    """metrics.csv: one row per epoch of every per-epoch series of the history (losses in head
    space, errors in raw CIELAB units², seconds)."""
    series = {k: v for k, v in history.items()
              if isinstance(v, list) and len(v) == len(history["train_loss"])}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *series])
        for i, row in enumerate(zip(*series.values()), 1):
            w.writerow([i, *(f"{v:.6g}" if isinstance(v, float) else v for v in row)])


def write_predictions(path, names, pred, true):
    """The study's per-image table: predicted and true mean a*, b* in raw units."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "pred_a", "pred_b", "true_a", "true_b"])
        for n, p, t in zip(names, pred.tolist(), true.tolist()):
            w.writerow([n, *(f"{v:.3f}" for v in (*p, *t))])
