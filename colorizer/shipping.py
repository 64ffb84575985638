"""Shipping a run's colorizer: int8 weights, the model card written from the run's own data and
settings, and the figure of its test faces (`python -m colorizer export`)."""

import platform
from dataclasses import fields
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .config import PLACE_SETTINGS, ColorizerError, Config
from .data import lab_to_rgb, load_images, resolve_data_dir
from .evaluation import evaluate, predict
from .files import atomic_write
from .pretrained import CARD, WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "pretrained.png"
CARD_METRICS = ("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness",
                "colourfulness_gap")


def compact(state):
    """A state dict for shipping: each weight matrix or kernel as int8 with one float32 scale per
    output channel (symmetric, round to nearest), the other floating tensors in float16: about
    a quarter of float32's size.
    """
    out = {}
    for name, t in state.items():
        if t.is_floating_point() and t.dim() >= 2:
            scale = t.abs().amax(dim=tuple(range(1, t.dim())), keepdim=True).clamp(min=1e-12) / 127
            out[name] = {"int8": torch.round(t / scale).to(torch.int8), "scale": scale.float()}
        else:
            out[name] = t.half() if t.is_floating_point() else t
    return out


def expand(state):
    """The float32 state dict a compacted one stands for (plain state dicts pass through)."""
    return {name: (t["int8"].float() * t["scale"] if isinstance(t, dict) else
                   t.float() if t.is_floating_point() else t)
            for name, t in state.items()}


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
    folder = resolve_data_dir(data or cfg.data)
    test = load_images(folder, cfg.image_size, names=ckpt["split"]["test"])
    shipped = evaluate(model, test.lab, train_mean=ckpt["train_ab_mean"])
    full, _ = load_model(checkpoint, torch.device("cpu"))
    before = evaluate(full, test.lab)["ab_mse"]
    text = model_card(ckpt, shipped, before, weights, folder)
    atomic_write(card, lambda tmp: tmp.write_text(text))
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


def model_card(ckpt, m, before, weights, folder):
    """The card's markdown: what the model is, how it was made (from the checkpoint's own
    settings, the data folder it was trained on and that folder's licence), its test figures."""
    cfg = Config.from_dict(ckpt["config"])
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
        data_line(folder, ckpt, cfg),
        f"- training seed {cfg.seed}, {ckpt['epoch']} epochs of {cfg.augment_factor} augmented "
        f"passes, {seconds:.0f} s of training; exported on {platform.machine()} with "
        f"torch {torch.__version__}",
        "- shipped as int8 weights with a float32 scale per output channel "
        f"(`colorizer.shipping.compact`): test ab MSE {before:.3f} before, "
        f"{m['ab_mse']:.3f} after", "",
        f"## Test figures ({len(ckpt['split']['test'])} test images, split seed "
        f"{ckpt['split']['seed']})", "",
        "ab MSE in raw CIELAB units² (scikit-image Lab), PSNR in dB on 8-bit sRGB, AuC in %; "
        "colourfulness after Hasler & Süsstrunk (ground truth "
        f"{m['colourfulness_true']:.1f}); the plain forward pass (no flip averaging). Written by "
        "`python -m colorizer export`.", "",
        *rows, "",
        "oracle_image_mean paints each test image's own mean a*b*: it sees the answer.", ""])


def data_line(folder, ckpt, cfg):
    """The card's line on the training data: the folder, its images, its licence, the split."""
    folder = Path(folder).resolve()
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder.name
    licence = next((p for p in sorted(folder.iterdir()) if p.is_file()
                    and p.name.lower().startswith(("license", "licence", "copying"))), None)
    heading = [line.strip() for line in (licence.read_text(errors="replace").splitlines()
                                          if licence else []) if line.strip()][:2]
    terms = (f"licence `{shown}/{licence.name}`: {', '.join(heading)}" if licence
             else "no licence file in the folder")
    split = ckpt["split"]
    return (f"- data: {len(split['train']) + len(split['test'])} images of `{shown}/` at "
            f"{cfg.image_size} px ({terms}); split seed {split['seed']}: {len(split['train'])} "
            f"train, {len(split['test'])} test images")
