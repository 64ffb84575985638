"""The study's runs as run profiles, and the tables the notebook shows."""

import os
from dataclasses import dataclass, replace

from .config import ARCHS, Config, get_device

# The study's two hyper-parameter cases, at its full epoch counts.
CASES = {"case 1": dict(epochs=100, lr=5e-3, weight_decay=1e-7),
         "case 2": dict(epochs=400, lr=1e-4, weight_decay=1e-5)}


@dataclass
class Profile:
    """How much of the study to run: epochs per run, passes per epoch, images used."""
    name: str
    epochs: int                 # the regressor and the colorizers
    case_epochs: tuple          # the two hyper-parameter cases, in the study's 1 : 4 ratio
    arch_epochs: int | None = None  # Architecture 1 against 2 (None: `epochs`)
    augment_factor: int = 10
    limit: int | None = None
    write_outputs: bool = True  # into output_sigmoid/ and output_tanh/

    def config(self, **kw):
        return Config(augment_factor=self.augment_factor, limit=self.limit, **kw)


PROFILES = {
    # A GPU: the study's settings.
    "full": Profile("full", epochs=100, case_epochs=(100, 400)),
    # This project's 2-core CPU: the whole notebook well under 20 minutes (README has the time).
    # Six epochs of x10 passes: the budget at which every head here beats the baselines
    # (benchmarks/quality.py); the 6x costlier Architecture 1 is compared at three.
    "cpu": Profile("cpu", epochs=6, case_epochs=(2, 8), arch_epochs=3),
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


def compare_widths(profile, run, data):
    """Architecture 1 against 2 with `run`'s other settings, at the profile's budget for it.

    `run` itself stands for its own widths when its budget is the same.
    """
    from .train import fit

    runs = {}
    for k in sorted(ARCHS):
        cfg = replace(run.cfg, widths=ARCHS[k], epochs=profile.arch_epochs or profile.epochs)
        runs[f"Architecture {k}"] = (run if cfg == run.cfg else
                                     fit(cfg, data=data, progress=False, log=None))
    return runs


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


# --- classification or regression? ---------------------------------------------------------------

TEMPERATURES = (0.01, 0.2, 0.38, 0.7, 1.0)
HEAD_COLUMNS = ["run", "T", "ab_mse", "psnr", "auc", "ciede2000", "colourfulness",
                "colourfulness_gap"]


def at_temperature(run, temperature):
    """A classify run's test metrics when decoded at another annealed-mean temperature."""
    from .train import evaluate

    model, before = run.model, run.model.temperature
    try:
        model.temperature = temperature
        return evaluate(model, run.test.lab, train_mean=run.train.ab.mean(dim=(0, 2, 3)).tolist())
    finally:
        model.temperature = before


def head_rows(runs, temperatures=TEMPERATURES):
    """Rows comparing heads: each run once, classify runs once per temperature."""
    rows = []
    for name, run in runs.items():
        if run.cfg.head != "classify":
            rows.append({"run": name, "T": "-", **run.metrics})
            continue
        for t in temperatures:
            m = run.metrics if t == run.cfg.temperature else at_temperature(run, t)
            rows.append({"run": name, "T": t, **m})
    rows.append({"run": "ground truth", "T": "-",
                 "colourfulness": next(iter(runs.values())).metrics["colourfulness_true"]})
    return rows


def side_by_side(runs, test, n=4):
    """A figure: for the first `n` test images, the original and each run's colorization."""
    from matplotlib.figure import Figure

    from .data import lab_to_rgb
    from .train import predict

    n = min(n, len(test))
    cols = [("original", lab_to_rgb(test.L[:n], test.ab[:n]))]
    cols += [(name, lab_to_rgb(test.L[:n], predict(run.model, test.L[:n])))
             for name, run in runs.items()]
    fig = Figure(figsize=(1.7 * len(cols), 1.8 * n))
    axes = fig.subplots(n, len(cols), squeeze=False)
    for j, (name, imgs) in enumerate(cols):
        for i in range(n):
            axes[i, j].imshow(imgs[i])
            axes[i, j].set_axis_off()
        axes[0, j].set_title(name, fontsize=8)
    fig.tight_layout()
    return fig


def claims(regression, classify, plain=None):
    """The study's essay, claim by claim, checked against measured test metrics.

    regression: {name: Run} of sigmoid / tanh runs; classify: the rebalanced classify Run;
    plain: the same without rebalancing. Returns markdown lines: claim, verdict, the numbers.
    """
    truth = classify.metrics["colourfulness_true"]
    reg_name, reg = min(regression.items(), key=lambda kv: kv[1].metrics["ab_mse"])
    r, c = reg.metrics, classify.metrics
    lines = []

    def say(claim, held, evidence):
        verdict = {True: "held", False: "did not hold"}.get(held, held)
        lines.append(f"- **{claim}** -> {verdict}: {evidence}")

    say("Regression (MSE) gives desaturated colours",
        all(run.metrics["colourfulness"] < truth for run in regression.values()),
        ", ".join(f"colourfulness {n} {run.metrics['colourfulness']:.1f}"
                  for n, run in regression.items()) + f" vs ground truth {truth:.1f}")
    wins = [r["ab_mse"] < c["ab_mse"], r["psnr"] > c["psnr"], r["auc"] > c["auc"]]
    say("Regression is the safe choice: lower error than classification",
        True if all(wins) else False if not any(wins) else "mixed",
        f"ab MSE {reg_name} {r['ab_mse']:.2f} vs classify {c['ab_mse']:.2f} raw units^2; "
        f"PSNR {r['psnr']:.2f} vs {c['psnr']:.2f} dB; AuC {r['auc']:.1f} vs {c['auc']:.1f} %")
    say("Classification can produce more vivid colours",
        c["colourfulness"] > r["colourfulness"],
        f"colourfulness classify {c['colourfulness']:.1f} vs {reg_name} {r['colourfulness']:.1f}"
        f" (truth {truth:.1f}); gap to truth per image {c['colourfulness_gap']:.1f} vs "
        f"{r['colourfulness_gap']:.1f}")
    if plain is not None:
        p = plain.metrics
        say("...if class imbalance is handled (rebalancing makes the colours more vivid)",
            c["colourfulness"] > p["colourfulness"],
            f"colourfulness with rebalancing {c['colourfulness']:.1f}, without "
            f"{p['colourfulness']:.1f}; the price in ab MSE: {c['ab_mse']:.2f} vs "
            f"{p['ab_mse']:.2f} raw units^2")
    lines.append(f"- (one seed, {c['n_test']} test images: read differences of a few units^2 "
                 "as within run-to-run spread)")
    return "\n".join(lines)
