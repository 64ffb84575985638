"""The colorizer the package ships: loading it, and making it (weights, model card, figure) from
a run of the project's own `train` command."""

import platform
from dataclasses import fields
from pathlib import Path

import torch

from .checkpoint import compact, load_checkpoint, load_model, save_checkpoint
from .config import PLACE_SETTINGS, ColorizerError, Config
from .data import lab_to_rgb, load_images
from .devices import get_device
from .evaluation import evaluate, predict
from .files import atomic_write

WEIGHTS = Path(__file__).resolve().parent / "weights" / "colorizer.pt"
CARD = WEIGHTS.with_name("MODEL_CARD.md")
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "pretrained.png"
CARD_METRICS = ("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness",
                "colourfulness_gap")


def shipped_weights():
    """The shipped checkpoint's path, or one clear line where this copy of the package has none."""
    if not WEIGHTS.is_file():
        raise ColorizerError(f"no shipped model at {WEIGHTS} (this copy of the package has none)")
    return WEIGHTS


def pretrained(device=None):
    """The shipped colorizer in eval mode, on `device` (default: CUDA if present, else CPU)."""
    model, _ = load_model(shipped_weights(), device or get_device())
    return model


def train_command(cfg):
    """The `train` command line that gives `cfg`: the options that differ from the defaults."""
    default, words = Config(), ["python -m colorizer train"]
    implied = {"image_size": Config(widths=cfg.widths).image_size}      # follows from the widths
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if (f.name in PLACE_SETTINGS
                or value == implied.get(f.name, getattr(default, f.name))):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        else:
            words += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return " ".join(words)


def export(checkpoint, data=None, weights=WEIGHTS, card=CARD, figure=FIGURE):
    """Ship a run: compact weights, then judge *those* on the run's test split for the card."""
    ckpt = load_checkpoint(checkpoint)
    cfg = Config.from_dict(ckpt["config"])
    if cfg.model != "colorizer":
        raise ColorizerError("the shipped model is a colorizer; this checkpoint holds a "
                             f"{cfg.model}")
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(weights, {
        "model": compact(ckpt["model"]), "config": ckpt["config"], "split": ckpt["split"],
        "train_ab_mean": ckpt["train_ab_mean"], "epoch": ckpt["epoch"],
        "history": ckpt["history"]})
    model, _ = load_model(weights, torch.device("cpu"))
    test = load_images(data or cfg.data, cfg.image_size, names=ckpt["split"]["test"])
    shipped = evaluate(model, test.lab, train_mean=ckpt["train_ab_mean"])
    full, _ = load_model(checkpoint, torch.device("cpu"))
    before = evaluate(full, test.lab)["ab_mse"]
    atomic_write(card, lambda tmp: tmp.write_text(model_card(ckpt, cfg, shipped, before, weights)))
    figure.parent.mkdir(parents=True, exist_ok=True)
    save_figure(model, test, figure)
    return shipped


def save_figure(model, test, path, n=6):
    """grayscale / colorized / original, one row per test face, as one PNG."""
    from torchvision.utils import make_grid, save_image  # here only: see colorize.colorize

    L, ab = test.L[:n], test.ab[:n]
    columns = [torch.zeros_like(ab), predict(model, L), ab]
    rows = [torch.from_numpy(lab_to_rgb(L, c)).permute(0, 3, 1, 2) for c in columns]
    grid = torch.stack(rows, dim=1).flatten(0, 1).float() / 255           # (n * 3, 3, H, W)
    atomic_write(path, lambda tmp: save_image(make_grid(grid, nrow=3, padding=2, pad_value=1),
                                              tmp, format="png"))


def model_card(ckpt, cfg, m, before, weights):
    base = m["baselines"]
    rows = ["| metric | shipped model | " + " | ".join(base) + " |",
            "|---|---:|" + "---:|" * len(base)]
    rows += [f"| {k} | {m[k]:.3f} | " + " | ".join(f"{base[b][k]:.3f}" for b in base) + " |"
             for k in CARD_METRICS]
    seconds = sum(ckpt["history"]["seconds"])
    return "\n".join([
        "# Model card: the shipped colorizer", "",
        f"`{weights.name}` ({weights.stat().st_size / 2**20:.2f} MiB): a {cfg.head}-head "
        f"colorizer, widths {cfg.widths}, {ckpt['epoch']} epochs. Load it with "
        "`colorizer.pretrained()`; `python -m colorizer colorize PHOTO --out DIR` and `evaluate` "
        "use it when no `--checkpoint` is given.", "",
        "## How it was made", "",
        f"    {train_command(cfg)}", "",
        f"- data: the 750 faces of `face_images/` (128x128 JPEG; MIT licence, Copyright (c) 2016 "
        f"Muthu Chidambaram, `face_images/LICENSE`); split seed {ckpt['split']['seed']}: "
        f"{len(ckpt['split']['train'])} train, {len(ckpt['split']['test'])} test images",
        f"- training seed {cfg.seed}, {ckpt['epoch']} epochs of {cfg.augment_factor} augmented "
        f"passes, {seconds:.0f} s of training; exported on {platform.machine()} with "
        f"torch {torch.__version__}",
        "- shipped as int8 weights with a float32 scale per output channel "
        f"(`colorizer.checkpoint.compact`): test ab MSE {before:.3f} before, "
        f"{m['ab_mse']:.3f} after", "",
        f"## Test figures ({m['n_test'] if 'n_test' in m else len(ckpt['split']['test'])} test "
        "images, the seed-0 split)", "",
        "ab MSE in raw CIELAB units² (scikit-image Lab), PSNR in dB on 8-bit sRGB, AuC in %; "
        "colourfulness after Hasler & Süsstrunk (ground truth "
        f"{m['colourfulness_true']:.1f}). Written by `python -m colorizer export`.", "",
        *rows, "",
        "oracle_image_mean paints each test image's own mean a*b*: it sees the answer.", ""])
