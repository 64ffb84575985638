"""Loss plots and grayscale / original / generated triples.

Figures are built with matplotlib's object API (no pyplot state): they save from scripts on
any backend and display in a notebook.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import lab_to_rgb
from .evaluation import PLAIN, predict


def plot_loss(history, path=None, title=None, ylabel="MSE (head space)"):
    """Train and test loss per epoch; saved to `path` if given. Returns the figure."""
    fig = _figure(figsize=(5, 3.2))
    ax = fig.subplots()
    epochs = range(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train")
    split = heldout_split(history)
    ax.plot(epochs, history[f"{split}_loss"], label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_title(title or "loss vs epoch")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def heldout_split(history):
    """The split a run's history was scored on: "val" or "test"."""
    return "val" if any(k.startswith("val_") for k in history) else "test"


def triples(L, ab_true, ab_pred):
    """(N, H, 3W, 3) uint8: grayscale | original | generated, side by side.

    `ab_pred` is (N, 2, H, W), or (N, 2) for a regressor's mean a*b* (painted everywhere).
    """
    if ab_pred.dim() == 2:
        ab_pred = ab_pred[:, :, None, None].expand_as(ab_true)
    gray = lab_to_rgb(L, torch.zeros_like(ab_true))
    orig = lab_to_rgb(L, ab_true)
    gen = lab_to_rgb(L, ab_pred)
    return np.concatenate([gray, orig, gen], axis=2)


def save_triples(L, ab_true, ab_pred, names, out_dir, chunk=16):
    """One PNG per image, named after it, in `out_dir`, made `chunk` images at a time (the sRGB
    conversion works in float64). Returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    images = (img for i in range(0, len(L), chunk)
              for img in triples(L[i:i + chunk], ab_true[i:i + chunk], ab_pred[i:i + chunk]))
    for name, img in zip(names, images):
        # a name in a subfolder, "a/b.jpg", becomes "a__b.png": one flat folder, no clashes
        p = out_dir / (Path(name).with_suffix("").as_posix().replace("/", "__") + ".png")
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


def show_triples(L, ab_true, ab_pred, names=None, n=6):
    """A figure of the first `n` triples, for the notebook."""
    imgs = triples(L[:n], ab_true[:n], ab_pred[:n])
    fig = _figure(figsize=(6, 2.1 * len(imgs)))
    axes = fig.subplots(len(imgs), 1, squeeze=False)
    for i, (ax, img) in enumerate(zip(axes[:, 0], imgs)):
        ax.imshow(img)
        ax.set_axis_off()
        ax.set_title(f"{names[i] if names else i}: grayscale | original | generated", fontsize=8)
    fig.tight_layout()
    return fig


def show_channels(data, n=4):
    """A figure: for the first `n` images, the original, L*, a* and b* side by side."""
    n = min(n, len(data))
    rgb = lab_to_rgb(data.L[:n], data.ab[:n])
    fig = _figure(figsize=(8, 2.1 * n))
    axes = fig.subplots(n, 4, squeeze=False)
    panels = [("original", None), ("L*", (0, "gray", 0, 100)), ("a*", (1, "RdYlGn_r", -40, 40)),
              ("b*", (2, "YlGnBu_r", -40, 40))]
    for i in range(n):
        for ax, (title, spec) in zip(axes[i], panels):
            if spec is None:
                ax.imshow(rgb[i])
            else:
                c, cmap, lo, hi = spec
                im = ax.imshow(data.lab[i, c], cmap=cmap, vmin=lo, vmax=hi)
                fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_title(f"{data.names[i]} {title}" if title == "original" else title, fontsize=8)
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def show_augmented(data, n=8, seed=0, **crop):
    """A figure: one image and `n` random resized crops / flips of it, as the training sees them."""
    from .data import random_resized_crop

    g = torch.Generator().manual_seed(seed)
    lab = random_resized_crop(data.lab[:1].expand(n, -1, -1, -1).contiguous(), g, **crop)
    rgb = lab_to_rgb(torch.cat([data.L[:1], lab[:, :1]]), torch.cat([data.ab[:1], lab[:, 1:]]))
    fig = _figure(figsize=(1.6 * (n + 1), 1.9))
    for i, (ax, img) in enumerate(zip(fig.subplots(1, n + 1), rgb)):
        ax.imshow(img)
        ax.set_title("original" if i == 0 else f"augmented {i}", fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def side_by_side(runs, test, n=4):
    """A figure: for the first `n` test images, the original and each run's colorization."""
    n = min(n, len(test))
    cols = [("original", lab_to_rgb(test.L[:n], test.ab[:n]))]
    cols += [(name, lab_to_rgb(test.L[:n], predict(run.model, test.L[:n], tta=PLAIN)))
             for name, run in runs.items()]
    fig, _ = _columns(cols, n, (1.7, 1.8))
    return fig


def show_hinted(model, lab, counts=(0, 3, 10), n=1):
    """A figure: for the first `n` images of `lab`, grayscale, the colorization with each of
    `counts` corrective points (evaluation.corrective_sequence: where the result is most wrong,
    the true colour; each point a white-edged square), and the original."""
    from .evaluation import corrective_sequence

    lab = lab[:n]
    L = lab[:, :1]
    steps = list(corrective_sequence(model, lab, max(counts)))
    cols = [("grayscale", lab_to_rgb(L, torch.zeros_like(lab[:, 1:])))]
    cols += [(f"{k} point{'s' * (k != 1)}", lab_to_rgb(L, steps[k][1])) for k in counts]
    cols += [("original", lab_to_rgb(L, lab[:, 1:]))]
    fig, axes = _columns(cols, n, (1.9, 2.0))
    for j, k in enumerate(counts, start=1):          # where the points went
        maps = steps[k][0]
        for i in range(n if maps is not None else 0):
            ys, xs = torch.nonzero(maps[i, 2], as_tuple=True)
            axes[i, j].scatter(xs.float(), ys.float(), s=2, c="white", marker="s")
    fig.tight_layout()
    return fig


def _columns(cols, n, cell):
    """A figure of labelled columns [(title, n images)], one row per image, each cell `cell`
    (width, height) inches: (the figure, its axes), laid out."""
    fig = _figure(figsize=(cell[0] * len(cols), cell[1] * n))
    axes = fig.subplots(n, len(cols), squeeze=False)
    for j, (name, imgs) in enumerate(cols):
        for i in range(n):
            axes[i, j].imshow(imgs[i])
            axes[i, j].set_axis_off()
        axes[0, j].set_title(name, fontsize=8)
    fig.tight_layout()
    return fig, axes


def _figure(**kw):
    """A matplotlib Figure. matplotlib is imported on the first figure, not with the package:
    a training process then carries its ~30 MB only for the loss plot at the end."""
    from matplotlib.figure import Figure

    return Figure(**kw)
