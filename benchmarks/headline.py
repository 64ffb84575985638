"""The README's results table: the chosen training (today `--preset auto-precision`), the one
before it (`--preset quarter-side`) and the shipped model, next to the baselines and the
study's own figure.

The trained rows come from committed result files (today's default: its arm of the timed study
questions study_time-10min / study_time-5min / study_precision-10min, float32 on an AVX2 CPU and
bfloat16 on an AVX512-BF16 one, chosen on validation and scored on test once, beside float32
there; the settings before it: design_10min, design_5min; regressor_wsd: mean ±
sd over their training seeds; the classify head is compared in study_classify, its temperature
chosen on validation), each named by the `train` options it was trained with; the shipped model
is scored now, by `evaluate`, on the same split.

    python -m benchmarks.headline
"""

import json
import statistics
from dataclasses import replace

import torch

from colorizer import Config, ab_mean, evaluate, findings, pretrained
from colorizer.hub import CONFIG
from colorizer.pretrained import SHIPPED
from colorizer.shipping import train_command

from .common import RESULTS, command, machine, train_split, write_result
from .quality import STUDY, mean_sd
from .time_to_quality import label

COLUMNS = ["model", "training", "test error (units²)", "PSNR (dB)", "SSIM", "colourfulness"]


# (timed study question, the precision its arm trained with, the README's name for the row):
# today's default (`--precision auto`) is float32 on the AVX2 CPU, bfloat16 on the AVX512-BF16 one
DEFAULT_ROWS = [("time-10min", "float32", "colorizer"),
                ("time-5min", "float32", "... in five minutes"),
                ("precision-10min", "bfloat16", "... in ten minutes of an AVX512-BF16 CPU"),
                ("precision-10min", "float32", "... there with `--precision float32`"),
                ("budget-5min", "float32", "... `--precision float32` in five minutes there")]


def default_rows():
    """Today's default at ten and five minutes of the AVX2 CPU it was chosen on, where it trains
    in float32, and at ten of an AVX512-BF16 one, where it trains in bfloat16, beside float32
    there: its arm of the timed study questions, scored on test once (trained on the training
    split less validation, chosen on validation)."""
    rows = []
    for name, precision, model in DEFAULT_ROWS:
        arm = next(a for a in findings.load(name)["arms"].values()
                   if _is_default(a["config"], precision))
        runs = [{**r["test"], "train_seconds": arm["quiet_epoch_s"] * len(r["history"]["seconds"]),
                 "config": arm["config"], "epochs": arm["config"]["epochs"]} for r in arm["runs"]]
        rows.append(_row(model, runs, f"{_training(runs)} (quiet clock), "
                         f"{arm['runs'][0]['n_train']} training images (validation held out)"))
    return rows


def _is_default(config, precision):
    """Whether a run's settings are today's default but for its epochs, holdout and seed, with
    --precision auto as `precision`."""
    default, cfg = replace(Config(), precision=precision), Config.from_dict(config)
    return replace(cfg, epochs=default.epochs, holdout=default.holdout,
                   seed=default.seed).trains_like(default)


def trained_rows():
    """Rows of the committed multi-seed results, and their baselines."""
    ten = json.loads((RESULTS / "design_10min.json").read_text())
    five = json.loads((RESULTS / "design_5min.json").read_text())
    regressor = json.loads((RESULTS / "regressor_wsd.json").read_text())
    rows = [*default_rows(),
            _row("before: the conv stem", _runs(ten, "default")),
            _row("... with `--tta flip`", _runs(ten, "default+tta=flip"), "the same weights"),
            _row("... in five minutes", _runs(five, "default+epochs=14"))]
    baselines = [{"model": f"baseline: {name}", "training": "-",
                  "test error (units²)": f"{m['ab_mse']:.2f}", "PSNR (dB)": f"{m['psnr']:.2f}",
                  "colourfulness": f"{m['colourfulness']:.1f}"}
                 for name, m in ten["baselines"]["colorizer"].items()]
    reg = regressor["runs"]["regressor"]
    reg_rows = [{"model": "regressor (mean a\\*, b\\*)", "training": _training(reg),
                 "test error (units²)": mean_sd([r["mean_ab_mse"] for r in reg], "{:.2f}")},
                {"model": STUDY["regressor"]["name"], "training": "the study's",
                 "test error (units²)": f"{STUDY['regressor']['mean_ab_mse']:.2f}"}]
    return rows, baselines, reg_rows, len(ten["seeds"])


def _training(runs):
    """How the runs were trained: the `train` options, epochs, and training minutes."""
    minutes = statistics.mean(r["train_seconds"] for r in runs) / 60
    return (f"`train {label(runs[0]['config'])}`, {runs[0]['epochs']} epochs, "
            f"{minutes:.1f} min")


def _runs(result, configuration):
    return [r for r in result["runs"]["colorizer"] if r["configuration"] == configuration]


def _row(model, runs, training=None):
    return {"model": model, "training": training or _training(runs),
            "test error (units²)": mean_sd([r["ab_mse"] for r in runs], "{:.2f}"),
            "PSNR (dB)": mean_sd([r["psnr"] for r in runs], "{:.2f}"),
            "colourfulness": mean_sd([r["colourfulness"] for r in runs], "{:.1f}")}


def shipped_rows():
    """The shipped colorizer scored now, plain and flip-averaged, on the fixed test split."""
    train, test = train_split()
    model, mean = pretrained(torch.device("cpu")), ab_mean(train)
    rows = []
    cfg = Config.from_dict(json.loads((SHIPPED / CONFIG).read_text()))
    shipped_as = f"seed {cfg.seed} of `{train_command(cfg)}`, int8"
    for tta, training in (("none", shipped_as),
                          ("flip", "the same weights")):
        m = evaluate(model, test.lab, train_mean=mean, tta=tta)
        rows.append({"model": "shipped colorizer" if tta == "none" else "... with `--tta flip`",
                     "training": training, "test error (units²)": f"{m['ab_mse']:.2f}",
                     "PSNR (dB)": f"{m['psnr']:.2f}", "SSIM": f"{m['ssim']:.4f}",
                     "colourfulness": f"{m['colourfulness']:.1f}"})
    return rows, m["colourfulness_true"], len(test)


def main(argv=None):
    from colorizer.report import markdown_table

    rows, baselines, reg_rows, seeds = trained_rows()
    shipped, truth, n_test = shipped_rows()
    m = machine()
    text = "\n".join([
        f"Test split: the fixed seed-0 one ({n_test} of the 750 faces). Trained rows: mean ± sd "
        f"over {seeds} training seeds; the colorizers' error is ab MSE per pixel, the "
        "regressor's the MSE of the image's mean a\\*, b\\*, all in raw CIELAB units²; PSNR on "
        "8-bit sRGB; SSIM with Wang et al.'s Gaussian window (sigma 1.5), scored now for the "
        "shipped model only (the result files of the trained rows measured skimage's uniform "
        f"window: not comparable, left out); colourfulness of the truth {truth:.1f}. Training "
        "minutes: today's default on the quiet clock (its epochs times the epoch time measured "
        "alone, which set them); the conv-stem rows as measured when they trained, on a machine "
        "that other work shared. Shipped model scored "
        f"{m['date']} on {m['cores']} cores ({m['cpu']}), torch {m['torch']}; "
        f"`{command('benchmarks.headline', argv)}`", "",
        markdown_table(rows + shipped + baselines + reg_rows, COLUMNS)])
    print(text)
    write_result("headline", {"machine": m, "rows": rows + shipped + baselines + reg_rows},
                 text)


if __name__ == "__main__":
    main()
