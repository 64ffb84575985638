"""Shipping a run's colorizer as the package's model, a maintainer's command: int8 weights, the
model card written from the run's own data and settings, and the figures of its test faces and
of photos that are not faces (`python -m research.shipping RUN_DIR`)."""

import argparse
import platform
from dataclasses import fields
from pathlib import Path

import torch

from colorizer.checkpoint import CHECKPOINT, load_checkpoint, load_model
from colorizer.config import PLACE_SETTINGS, ColorizerError, Config
from colorizer.data import lab_to_rgb, load_images, resolve_data_dir
from colorizer.evaluation import PLAIN, evaluate, predict
from colorizer.files import atomic_write, write_json
from colorizer.models import head
from colorizer.packing import compact, write_shipped
from colorizer.serving import hub
from colorizer.serving.pretrained import CARD, WEIGHTS

from . import out_of_domain

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "pretrained.png"
OUT_OF_DOMAIN_FIGURE = ROOT / "docs" / "out_of_domain.png"
CARD_METRICS = ("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness",
                "colourfulness_gap")


def _output_side(cfg):
    """Where the model predicts a*b*, in words."""
    return head(cfg.head).output_side(cfg.ab_stride)


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


def export(checkpoint, data=None, weights=WEIGHTS, card=CARD, figure=FIGURE,
           out_of_domain_figure=OUT_OF_DOMAIN_FIGURE):
    """Ship a run: compact weights, then judge *those* on the run's test split for the card; a
    model folder (hub's layout: its config.json beside them)."""
    ckpt = load_checkpoint(checkpoint)
    cfg = Config.from_dict(ckpt["config"])
    if cfg.model != "colorizer":
        raise ColorizerError("the shipped model is a colorizer; this checkpoint holds a "
                             f"{cfg.model}")
    weights.parent.mkdir(parents=True, exist_ok=True)
    write_shipped(weights, compact(ckpt["model"]),
                  {k: ckpt[k] for k in ("config", "split", "train_ab_mean", "epoch", "history")})
    write_json(weights.with_name(hub.CONFIG), ckpt["config"])
    model, _ = load_model(weights, torch.device("cpu"))
    folder = resolve_data_dir(data or cfg.data)
    test = load_images(folder, cfg.image_size, names=ckpt["split"]["test"])
    shipped = evaluate(model, test.lab, train_mean=ckpt["train_ab_mean"], tta=PLAIN)
    full, _ = load_model(checkpoint, torch.device("cpu"))
    before = evaluate(full, test.lab, tta=PLAIN)["ab_mse"]
    others = out_of_domain.photos(cfg.image_size)
    away = out_of_domain.scores(model, others, ckpt["train_ab_mean"])
    text = model_card(ckpt, (shipped, before, away), weights, folder)
    atomic_write(card, lambda tmp: tmp.write_text(text))
    figure.parent.mkdir(parents=True, exist_ok=True)
    save_figure(model, test, figure)
    if out_of_domain_figure is not None:
        save_figure(model, others, out_of_domain_figure)
    return shipped


def save_figure(model, test, path, n=6):
    """grayscale / colorized / original, one row per test face, as one PNG."""
    from torchvision.utils import make_grid, save_image  # here only: see colorize.colorize

    L, ab = test.L[:n], test.ab[:n]
    columns = [torch.zeros_like(ab), predict(model, L, tta=PLAIN), ab]
    rows = [torch.from_numpy(lab_to_rgb(L, c)).permute(0, 3, 1, 2) for c in columns]
    grid = torch.stack(rows, dim=1).flatten(0, 1).float() / 255           # (n * k, 3, H, W)
    atomic_write(path, lambda tmp: save_image(make_grid(grid, nrow=len(columns), padding=2,
                                                        pad_value=1), tmp, format="png"))


def model_card(ckpt, figures, weights, folder):
    """The card's markdown, Hugging Face's metadata block first: what the model is, how it was
    made (the checkpoint's own settings, its data folder and that folder's licence), its test
    figures, what it is for and where it fails, with figures. `figures`: (the shipped model's
    test metrics, its ab MSE before int8 compaction, the out-of-domain scores)."""
    m, before, away = figures
    cfg = Config.from_dict(ckpt["config"])
    seconds = sum(ckpt["history"]["seconds"])
    n_test = len(ckpt["split"]["test"])
    return "\n".join([
        *metadata_block(m),
        "# Model card: the shipped colorizer", "",
        f"`{weights.name}` ({weights.stat().st_size / 2**20:.2f} MiB, safetensors): a "
        f"{cfg.head}-head colorizer, widths {cfg.widths}{_stem(cfg)}, "
        f"{_output_side(cfg)}, {ckpt['epoch']} epochs, and its hint part (colour points, "
        "below). Load it with `colorizer.pretrained()`; `python -m colorizer colorize PHOTO "
        "--out DIR` and `evaluate` use it when no `--checkpoint` is given; "
        "`colorizer.from_pretrained(FOLDER)` loads this folder (config.json, the weights, "
        "this card).", "",
        "## How it was made", "",
        f"    {train_command(cfg)}", "",
        data_line(folder, ckpt, cfg),
        f"- training seed {cfg.seed}, {ckpt['epoch']} epochs of {cfg.augment_factor} augmented "
        f"passes, {seconds:.0f} s of training; exported on {platform.machine()} with "
        f"torch {torch.__version__}",
        "- shipped as int8 weights with a float32 scale per output channel "
        f"(`colorizer.packing.compact`): test ab MSE {before:.3f} before, "
        f"{m['ab_mse']:.3f} after", "",
        f"## Test figures ({n_test} test images, split seed {ckpt['split']['seed']})", "",
        "ab MSE in raw CIELAB units² (scikit-image Lab), PSNR in dB on 8-bit sRGB, AuC in %; "
        "colourfulness after Hasler & Süsstrunk (ground truth "
        f"{m['colourfulness_true']:.1f}); the plain forward pass (no flip averaging). Written by "
        "`python -m research.shipping`.", "",
        *_metric_rows(m), "",
        "oracle_image_mean paints each test image's own mean a*b*: it sees the answer.", "",
        *_uses(cfg, len(ckpt["split"]["train"]), away), "",
        *HINTS_SECTION])


# The card's colour-hints section: the hints benchmark's figures for the shipped model, kept
# current by `python -m benchmarks.readme` (the hint part is fitted after export:
# research.hint_fit)
HINTS_SECTION = ["## Colour hints", "",
                 "<!-- results: benchmarks/results/design/hints_card.md -->",
                 "<!-- end results -->", ""]


def _stem(cfg):
    return " after a space-to-depth stem" if cfg.stem == "space_to_depth" else ""


def metadata_block(m):
    """The YAML block the Hugging Face Hub reads (hub.card_metadata), its results `m`'s."""
    return [*hub.card_metadata([("mse", "ab MSE (raw CIELAB units^2)", f"{m['ab_mse']:.3f}"),
                                ("psnr", "PSNR (dB on 8-bit sRGB)", f"{m['psnr']:.2f}"),
                                ("ssim", "SSIM (Gaussian window, sigma 1.5, 8-bit sRGB)",
                                 f"{m['ssim']:.4f}")]), ""]


def _metric_rows(m):
    base = m["baselines"]
    return ["| metric | shipped model | " + " | ".join(base) + " |",
            "|---|---:|" + "---:|" * len(base),
            *(f"| {k} | {m[k]:.3f} | " + " | ".join(f"{base[b][k]:.3f}" for b in base) + " |"
              for k in CARD_METRICS)]


def _uses(cfg, n_train, away):
    """Intended use, limitations and out-of-scope use, with the out-of-domain figures."""
    worse = [r["photo"] for r in away if r["model"] > min(r["gray"], r["face mean"])]
    return [
        "## Intended use", "",
        f"Colorizing grayscale photos of faces like its training set ({n_train} frontal face "
        f"crops at {cfg.image_size} px): research, teaching, and as a baseline to compare "
        "colorization methods against. Each output keeps the input's own L* at full "
        "resolution; only a*b* is predicted.", "",
        "## Limitations", "",
        "- It predicts a plausible chroma, not the true one: a face's colours are learnt from "
        f"{n_train} faces, and other subjects get face-like colours (brownish, skin tones).",
        "- It regresses with MSE, so uncertain regions come out desaturated (its colourfulness "
        "is below the truth's: see the table above).",
        "- No FID or LPIPS: both need network weights (Inception, AlexNet / VGG) that this "
        "project cannot download at run time, so the card reports pixel and colour figures "
        "only (ab MSE, PSNR, SSIM, CIEDE2000, AuC, colourfulness).",
        "- Scores on photos that are not faces of this set (scikit-image's own colour photos, "
        f"fitted to {cfg.image_size} px; ab MSE in raw CIELAB units²; "
        "`docs/out_of_domain.png` shows them):", "",
        "| photo | what | model | gray | face mean |", "|---|---|---:|---:|---:|",
        *(f"| {r['photo']} | {r['what']} | {r['model']:.1f} | {r['gray']:.1f} | "
          f"{r['face mean']:.1f} |" for r in away), "",
        f"The model does worse than the better of gray and the faces' mean colour on "
        f"{len(worse)} of {len(away)}" + (f" ({', '.join(worse)})" if worse else "") + ".", "",
        "## Out of scope", "",
        "Restoring the true colours of historical photos, documents or medical images; any "
        "use that takes its colours as evidence of what was there; subjects other than faces.",
    ]


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
    val = len(split.get("val", ()))
    return (f"- data: {len(split['train']) + val + len(split['test'])} images of `{shown}/` at "
            f"{cfg.image_size} px ({terms}); split seed {split['seed']}: {len(split['train'])} "
            f"train, " + (f"{val} validation (held out), " if val else "")
            + f"{len(split['test'])} test images")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m research.shipping", description=__doc__)
    p.add_argument("run", metavar="RUN_DIR", help="the run folder (its checkpoint.pt)")
    p.add_argument("--data", help="image folder (default: the checkpoint's, then ./face_images)")
    args = p.parse_args(argv)
    m = export(Path(args.run) / CHECKPOINT, args.data)
    print(f"shipped {WEIGHTS}: test ab_mse {m['ab_mse']:.3f} raw CIELAB units^2, PSNR "
          f"{m['psnr']:.2f} dB; card {CARD} (fit its hint part next: research.hint_fit)")


if __name__ == "__main__":
    main()
