"""The README's results table: one row per thing a user asks. What does `train` give (today's
default, scored on test once), the shipped model (scored now), the study's own figure beside the
project's run of it, and the constants every model must beat.

The trained rows come from committed result files, mean ± sd over their training seeds: the
default from its arm of the timed study question `recipe-confirm` (the epochs five minutes of
the CPU it was chosen on buy, where `--precision auto` is bfloat16), the shipped model given colour
points from benchmarks.hints (`hints_spread`), the regressor from `regressor-2x2`
(the study's Architecture 1 case 2 at a tenth of its epochs); the baselines are that default's
(the training mean of its training split). The shipped model is scored now, by `evaluate`.

    python -m benchmarks.headline
"""

import argparse
import json
from dataclasses import replace

import torch

from colorizer import Config, ab_mean, evaluate, load_model
from colorizer.serving.hub import CONFIG_FILE
from colorizer.serving.pretrained import SHIPPED_DIR
from research import findings
from research.shipping import train_command

from .common import command, machine, train_split, write_result
from .quality import mean_sd
from .study import BEST, STUDY_FRACTION

COLUMNS = ["model", "training", "test error (units²)", "PSNR (dB)", "SSIM", "colourfulness"]


def default_row():
    """Today's default (`python -m colorizer train`) on the CPU that chose it: its arm of
    recipe-confirm (the epochs five minutes of that CPU buy), trained on the training split less
    validation, scored on test once; and that question's test baselines."""
    result = findings.load("recipe-confirm")
    arm = next(a for a in result["arms"].values() if _is_default(a["config"]))
    runs, cfg = [r["test"] for r in arm["runs"]], arm["config"]
    minutes = arm["quiet_epoch_s"] * cfg["epochs"] / 60
    cpu, seeds = result["machine"], ", ".join(str(r["seed"]) for r in arm["runs"])
    row = _row("colorizer, the default", runs,
               f"`python -m colorizer train --holdout val --epochs {cfg['epochs']}`, `--seed` "
               f"{seeds} ({minutes:.1f} min of a {cpu['cores']}-core {cpu['cpu']}, "
               f"`--precision {cfg['precision']}`; {arm['runs'][0]['n_train']} training images, "
               "validation held out)")
    return row, (result["baselines"]["test"], arm["runs"][0]["n_train"]), len(arm["runs"])


def _is_default(config):
    """Whether a run's settings are today's default but for its holdout, seed and epochs, with
    --precision auto as what it resolved to."""
    cfg = Config.from_dict(config)
    default = replace(Config(), precision=cfg.precision, holdout=cfg.holdout, seed=cfg.seed,
                      epochs=cfg.epochs)
    return cfg.trains_like(default)


def regressor_rows():
    """The study's own regressor figure beside the project's run of that cell (test split)."""
    result = findings.load("regressor-2x2")
    runs = result["arms"][BEST]["runs"]
    values = [r["test"]["mean_ab_mse"] for r in runs]
    epochs = result["arms"][BEST]["config"]["epochs"]
    seeds = ", ".join(str(r["seed"]) for r in runs)
    return [{"model": f"regressor (mean a\\*, b\\*), {BEST}",
             "training": f"the study's training at {STUDY_FRACTION:.0%} of its epochs "
                         f"({epochs}; `benchmarks.study regressor-2x2`), seeds {seeds}; "
                         f"{runs[0]['n_train']} training images, validation held out; "
                         f"{result['machine']['cores']}-core {result['machine']['cpu']}",
             "test error (units²)": mean_sd(values, "{:.2f}")},
            {"model": "... the study's own figure", "training": "its own split and 400 epochs "
             f"({findings.STUDY_REGRESSOR_MSE[findings.STUDY_BEST]} x 255²)",
             "test error (units²)": f"{findings.STUDY_REGRESSOR[findings.STUDY_BEST]:.2f}"},
            {"model": "... baseline: train_mean", "training": "-",
             "test error (units²)":
                 f"{result['baselines']['test']['train_mean']['mean_ab_mse']:.2f}"}]


def hint_rows():
    """The shipped model given colour points, as `colorize` runs it (benchmarks.hints, test
    split, mean ± sd over the hint part's fits): ten random true-colour points, and ten
    corrective ones."""
    result = findings.load_result("hints_spread")
    runs = [r["test"] for r in result["runs"].values()]
    training = (f"its hint part fitted by `research.hint_fit` ({len(runs)} fits; "
                "`benchmarks.hints`), flip-averaged")
    rows = []
    for name, pick in (("... with 10 random true-colour points",
                        lambda r: r["random"]["10"]["ab_mse"]),
                       ("... with 10 corrective points", lambda r: r["corrective"][10])):
        rows.append({"model": name, "training": training if not rows else "as above",
                     "test error (units²)": mean_sd([pick(r) for r in runs], "{:.2f}")})
    return rows


def _row(model, runs, training):
    return {"model": model, "training": training,
            "test error (units²)": mean_sd([r["ab_mse"] for r in runs], "{:.2f}"),
            "PSNR (dB)": mean_sd([r["psnr"] for r in runs], "{:.2f}"),
            "colourfulness": mean_sd([r["colourfulness"] for r in runs], "{:.1f}")}


def shipped_rows():
    """The shipped colorizer scored now on the fixed test split: its plain forward pass, and
    flip-averaged as `colorize` runs it."""
    train, test = train_split()
    (model, ckpt), mean = load_model(SHIPPED_DIR, torch.device("cpu")), ab_mean(train)
    rows = []
    cfg = Config.from_dict(json.loads((SHIPPED_DIR / CONFIG_FILE).read_text()))
    n_train = len(ckpt["split"]["train"])
    shipped_as = f"seed {cfg.seed} of `{train_command(cfg)}`, {n_train} training images, int8"
    for tta, name, training in (("none", "shipped colorizer", shipped_as),
                                ("flip", "... as `colorize` runs it", "averaged with the "
                                 "mirror image's prediction (`--tta flip`)")):
        m = evaluate(model, test.lab, train_mean=mean, tta=tta)
        rows.append({"model": name, "training": training,
                     "test error (units²)": f"{m['ab_mse']:.2f}",
                     "PSNR (dB)": f"{m['psnr']:.2f}", "SSIM": f"{m['ssim']:.4f}",
                     "colourfulness": f"{m['colourfulness']:.1f}"})
    return rows, m["colourfulness_true"], len(test)


def baseline_rows(baselines):
    """The constants beside the default, from its split: train_mean is the mean of its training
    images (the shipped model's 675 give a slightly other one: its card)."""
    baselines, n_train = baselines
    fitted = {"train_mean": f"the mean a\\*b\\* of the default's {n_train} training images"}
    return [{"model": f"baseline: {name}", "training": fitted.get(name, "-"),
             "test error (units²)": f"{m['ab_mse']:.2f}", "PSNR (dB)": f"{m['psnr']:.2f}",
             "colourfulness": f"{m['colourfulness']:.1f}"} for name, m in baselines.items()]


def main(argv=None):
    from research.report import markdown_table

    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawTextHelpFormatter).parse_args(argv)
    default, baselines, seeds = default_row()
    shipped, truth, n_test = shipped_rows()
    rows = [default, *shipped, *hint_rows(), *baseline_rows(baselines), *regressor_rows()]
    m = machine()
    text = "\n".join([
        f"Test split: the fixed seed-0 one ({n_test} of the 750 faces). Trained rows: mean ± sd "
        f"over {seeds} training seeds. A colorizer's error is ab MSE per pixel, the regressor's "
        "the MSE of the image's mean a\\*, b\\*, both in raw CIELAB units²; PSNR on 8-bit sRGB; "
        "SSIM (Wang et al.'s Gaussian window) for the shipped model only; colourfulness of the "
        f"truth {truth:.1f}. The baselines predict a constant: the training split's mean a\\*b\\* "
        "(train_mean), gray, or each image's own mean (the oracle, which sees the answer). "
        f"Shipped model scored {m['date']} on {m['cores']} cores ({m['cpu']}), torch "
        f"{m['torch']}; `{command('benchmarks.headline', argv)}`", "",
        markdown_table(rows, COLUMNS)])
    print(text)
    write_result("headline", {"machine": m, "rows": rows}, text)


if __name__ == "__main__":
    main()
