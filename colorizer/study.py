"""The study's runs as run profiles, and the tables the notebook shows."""

import os
from dataclasses import dataclass, replace

from .config import Config, get_device

# The study's two hyper-parameter cases, at its full epoch counts.
CASES = {"case 1": dict(epochs=100, lr=5e-3, weight_decay=1e-7),
         "case 2": dict(epochs=400, lr=1e-4, weight_decay=1e-5)}


@dataclass
class Profile:
    """How much of the study to run: epochs per run, passes per epoch, images used."""
    name: str
    epochs: int                 # the regressor, the colorizers and the width comparison
    case_epochs: tuple          # the two hyper-parameter cases, in the study's 1 : 4 ratio
    augment_factor: int = 10
    limit: int | None = None
    write_outputs: bool = True  # into output_sigmoid/ and output_tanh/

    def config(self, **kw):
        return Config(augment_factor=self.augment_factor, limit=self.limit, **kw)


PROFILES = {
    # A GPU: the study's settings.
    "full": Profile("full", epochs=100, case_epochs=(100, 400)),
    # This project's 2-core CPU: the whole notebook in well under 20 minutes (README has the figure).
    "cpu": Profile("cpu", epochs=8, case_epochs=(4, 16), augment_factor=5),
    # COLORIZER_FAST=1: a smoke run of every cell, a few images, one epoch, a temporary folder.
    "fast": Profile("fast", epochs=1, case_epochs=(1, 1), augment_factor=1, limit=30,
                    write_outputs=False),
}


def pick_profile(name=None, device=None):
    """An explicit name, else 'fast' under COLORIZER_FAST=1, else 'full' on CUDA, else 'cpu'."""
    if name is None:
        if os.environ.get("COLORIZER_FAST", "") not in ("", "0"):
            name = "fast"
        else:
            name = "full" if get_device(device or "auto").type == "cuda" else "cpu"
    return PROFILES[name]


def case_configs(profile, base):
    """The study's two hyper-parameter cases, with this profile's epochs."""
    return {name: replace(base, **{**case, "epochs": epochs})
            for (name, case), epochs in zip(CASES.items(), profile.case_epochs)}


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def markdown_table(rows, columns, fmt="{:.3f}"):
    """rows: a list of dicts; columns: the keys to show, in order. Missing values show as '-'."""
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [r.get(c, "-") for c in columns]
        out.append("| " + " | ".join(fmt.format(v) if isinstance(v, float) else str(v)
                                     for v in cells) + " |")
    return "\n".join(out)


def run_row(name, run, keys=("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness")):
    """One row of a results table for a finished Run."""
    row = {"run": name, "widths": "/".join(map(str, run.cfg.widths)), "epochs": run.cfg.epochs,
           "lr": f"{run.cfg.lr:g}", "wd": f"{run.cfg.weight_decay:g}",
           "params": count_parameters(run.model),
           "train s": round(run.metrics["train_seconds"], 1)}
    row.update({k: run.metrics[k] for k in keys if k in run.metrics})
    return row


def baseline_rows(run, keys=("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness")):
    return [{"run": f"baseline: {name}", **{k: m[k] for k in keys if k in m}}
            for name, m in run.metrics["baselines"].items()]


def prediction_table(names, pred_mean, true_ab, n=10):
    """The study's per-image regressor table, first `n` rows, in raw units (markdown)."""
    true_mean = true_ab.mean(dim=(2, 3))
    rows = [{"image": name, "pred a*": p[0], "pred b*": p[1], "true a*": t[0], "true b*": t[1]}
            for name, p, t in zip(names[:n], pred_mean.tolist(), true_mean.tolist())]
    return markdown_table(rows, ["image", "pred a*", "pred b*", "true a*", "true b*"], "{:.2f}")


def summary(run):
    """One line of a run's test figures, with units."""
    m = run.metrics
    if "mean_ab_mse" in m:
        return (f"test MSE of mean a*, b*: {m['mean_ab_mse']:.2f} raw CIELAB units^2, R^2 "
                f"{m['r2']:.2f} (training-mean prediction: "
                f"{m['baselines']['train_mean']['mean_ab_mse']:.2f}); {m['n_test']} test images")
    return (f"test ab MSE {m['ab_mse']:.2f} raw CIELAB units^2, PSNR {m['psnr']:.2f} dB, SSIM "
            f"{m['ssim']:.3f}, CIEDE2000 {m['ciede2000']:.2f}, AuC {m['auc']:.1f} %, "
            f"colourfulness {m['colourfulness']:.1f} (truth {m['colourfulness_true']:.1f}); "
            f"{m['n_test']} test images, {m['train_seconds']:.0f} s of training")
