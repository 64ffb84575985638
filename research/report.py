"""Tables and verdicts from finished runs: markdown for the notebook, README and benchmarks."""

import math
import os

from colorizer.devices import cpu_name
from colorizer.models import head

from .verdict import compare

METRIC_COLUMNS = ("ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness")
HEAD_COLUMNS = ["run", "T", "ab_mse", "psnr", "auc", "ciede2000", "colourfulness",
                "colourfulness_gap"]


def markdown_table(rows, columns, fmt="{:.3f}", numeric_right=False):
    """rows: dicts; columns: the keys to show, in order. Missing or NaN values show as '-'.

    `numeric_right` aligns every column but the first to the right.
    """
    rule = "---|" + ("---:|" if numeric_right else "---|") * (len(columns) - 1)
    out = ["| " + " | ".join(columns) + " |", "|" + rule]
    for r in rows:
        cells = [_cell(r.get(c), fmt) for c in columns]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _cell(v, fmt):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v) if isinstance(v, float) else str(v)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def run_row(name, run, keys=METRIC_COLUMNS):
    """One row of a results table for a finished Run."""
    row = {"run": name, "widths": "/".join(map(str, run.cfg.widths)), "epochs": run.cfg.epochs,
           "lr": f"{run.cfg.lr:g}", "wd": f"{run.cfg.weight_decay:g}",
           "params": count_parameters(run.model),
           "train s": round(run.metrics["train_seconds"], 1)}
    row.update({k: run.metrics[k] for k in keys if k in run.metrics})
    return row


def baseline_rows(run, keys=METRIC_COLUMNS):
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


def head_rows(runs, metrics_at):
    """Rows comparing heads: each run once, classify runs once per temperature.

    `metrics_at(run)` gives {temperature: metrics} for a classify run (study.temperature_sweep).
    """
    rows = []
    for name, run in runs.items():
        if not head(run.cfg.head).decodes_at_temperature:
            rows.append({"run": name, "T": "-", **run.metrics})
            continue
        for t, m in metrics_at(run).items():
            rows.append({"run": name, "T": t, **m})
    rows.append({"run": "ground truth", "T": "-",
                 "colourfulness": next(iter(runs.values())).metrics["colourfulness_true"]})
    return rows


# What each notebook section found, in words made from its numbers (so that a run with another
# profile states its own results).

def provenance(device, profile):
    """Where, when and at which commit the notebook runs, for its first output."""
    import subprocess
    import time

    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    cpu = cpu_name()
    return (f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {device} "
            f"({os.cpu_count()} cores, {cpu}), torch {torch.__version__}, at commit {commit}, "
            f"profile {profile.name}.")


def regressor_finding(run):
    """The regressor against the training-mean constant."""
    m = run.metrics
    const = m["baselines"]["train_mean"]["mean_ab_mse"]
    return (f"**Found:** the regressor predicts an image's mean a\\*, b\\* to "
            f"{m['mean_ab_mse']:.2f} raw units² of squared error (R² {m['r2']:.2f}) after "
            f"{m['epochs']} epochs; always predicting the training split's mean gives "
            f"{const:.2f}, so it is {_better(m['mean_ab_mse'], const)} than that constant.")


def colorizer_finding(name, run):
    """A colorizer against the constant and the oracle baselines."""
    m, base = run.metrics, run.metrics["baselines"]
    oracle, const = base["oracle_image_mean"]["ab_mse"], base["train_mean"]["ab_mse"]
    return (f"**Found:** the {name} colorizer reaches {m['ab_mse']:.2f} raw units² "
            f"({m['psnr']:.2f} dB) after {m['epochs']} epochs ({m['train_seconds']:.0f} s of "
            f"training): {_better(m['ab_mse'], const)} than the training-mean constant "
            f"({const:.2f}) and {_better(m['ab_mse'], oracle)} than the oracle that paints each "
            f"image's own mean a\\*b\\* ({oracle:.2f}); colourfulness "
            f"{m['colourfulness']:.1f} against the truth's {m['colourfulness_true']:.1f}.")


def short_runs_finding(runs, profile):
    """What the notebook's own runs of a comparison ({name: Run}) may say: on a GPU (`full`
    profile, the study's own budget) the verdict rule on them, one seed each; in a shorter
    profile nothing about a winner, only their budget."""
    budget = "; ".join(f"{n} {r.metrics['ab_mse']:.2f} units² ({r.metrics['epochs']} epochs, "
                       f"{r.metrics['train_seconds']:.0f} s)" for n, r in runs.items())
    if profile.name == "full":
        (a, ra), (b, rb) = runs.items()
        base = {k: ra.metrics["baselines"][k]["ab_mse"] for k in ("train_mean",
                                                                   "oracle_image_mean")}
        v = compare({a: [ra.metrics["ab_mse"]], b: [rb.metrics["ab_mse"]]}, base)
        return f"**This run's verdict** (one seed, test split): {v.text}."
    return (f"These runs are short ({budget}; profile {profile.name}): they show the pipeline "
            "working and name no winner. The comparison at a budget where it means something, "
            "over three training seeds, is the committed one below.")


def shipped_finding(metrics, runs):
    """The shipped model against the best run of the notebook."""
    best, run = min(runs.items(), key=lambda kv: kv[1].metrics["ab_mse"])
    return (f"**Found:** the shipped colorizer scores {metrics['ab_mse']:.2f} raw units² "
            f"({metrics['psnr']:.2f} dB, colourfulness {metrics['colourfulness']:.1f}) on the "
            f"same test split, against {run.metrics['ab_mse']:.2f} for this notebook's best run "
            f"({best}, {run.metrics['epochs']} epochs): it is "
            f"{_better(metrics['ab_mse'], run.metrics['ab_mse'])} than that run.")


def _better(error, reference):
    return "better" if error < reference else "no better"
