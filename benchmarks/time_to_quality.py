"""Time to quality: test ab MSE against training time, from the histories that the quality
benchmark stores for every run (benchmarks/results/NAME.json), drawn as one plot.

The clock is the *quiet* epoch time: the lowest median seconds per epoch among the runs of the
same per-epoch work (the same settings but the epochs), times the epochs done. A run that shared
the cores (the 48-epoch run did, for most of its epochs) is drawn at the pace its work takes on
the quiet machine; the errors are exact.

`--preset quarter-side` at ten and five minutes and its long run, against the screens and
`--preset full-side` (docs/time_to_quality.png):

    python -m benchmarks.time_to_quality

The heads, architectures and skip connections at about five minutes each, in one run:

    python -m benchmarks.quality --name time_to_quality --configs default+epochs=10 \
        default+head=tanh+epochs=10 default+head=classify+epochs=10 default+arch=1+epochs=3 \
        default+skips=add+epochs=10 default+skips=concat+epochs=9
    python -m benchmarks.time_to_quality --results time_to_quality wsd best \
        --out docs/time_to_quality_heads.png

The timed study questions (`python -m benchmarks.study time-5min time-10min`): each arm's
validation error, mean over its seeds, against the epochs done times the quiet epoch time that
set them (docs/time_to_quality_levers.png):

    python -m benchmarks.time_to_quality --questions time-5min time-10min \
        --out docs/time_to_quality_levers.png
"""

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

from matplotlib.figure import Figure

from colorizer import ARCHS, Config
from colorizer.config import option_words, preset
from research import findings
from research.results import result_path

ROOT = Path(__file__).resolve().parents[1]
TICKS = (8, 9, 10, 12, 15, 20, 30, 40, 60)    # test ab MSE, raw units²
DEFAULT_RESULTS = ["design_10min", "design_5min", "design_long", "screen_ab_stride",
                   "screen_round2", "wsd"]


def curves(results):
    """{configuration: (quiet seconds, mean ab MSE over seeds)} of every colorizer run in
    `results` (the clock: see the module's docstring)."""
    by_config, seen, pace = {}, set(), {}
    for name in results:
        for run in json.loads((result_path(name)).read_text())["runs"]["colorizer"]:
            h = run["history"]
            key = f"{label(run['config'])}, {run['epochs']} epochs"   # a schedule spans its run
            if run.get("tta", "none") != "none" or (key, run["seed"]) in seen:
                continue        # a decoding of a run already drawn, or a run in two files
            seen.add((key, run["seed"]))
            work = label(run["config"])                       # the same work per epoch
            pace[work] = min(pace.get(work, float("inf")), statistics.median(h["seconds"]))
            by_config.setdefault(key, []).append((work, h["test_error"]))
    out = {}
    for config, runs in by_config.items():
        n = min(len(e) for _, e in runs)
        seconds = [pace[runs[0][0]] * (i + 1) for i in range(n)]
        error = [statistics.mean(e[i] for _, e in runs) for i in range(n)]
        seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
        out[f"{config} ({seeds})"] = (seconds, error)
    return out


def question_curves(names):
    """{'question: arm (seeds)': (quiet seconds, mean validation ab MSE)} of timed questions."""
    out = {}
    for name in names:
        for arm_label, arm in findings.load(name)["arms"].items():
            errors = [r["history"]["val_error"] for r in arm["runs"]]
            n = min(len(e) for e in errors)
            out[f"{name}: {arm_label} ({len(errors)} seeds)"] = (
                [arm["quiet_epoch_s"] * (i + 1) for i in range(n)],
                [statistics.mean(e[i] for e in errors) for i in range(n)])
    return out


def label(config):
    """A run's settings (a Config's dict) by a name that never moves: `--preset quarter-side`
    and the options that differ from it, without the epochs and seed (the curve shows those)."""
    cfg, ref = Config.from_dict(config), preset("quarter-side")
    cfg = replace(cfg, epochs=ref.epochs, seed=ref.seed)
    arch = next((f"--arch {k}" for k, w in ARCHS.items() if w == cfg.widths != ref.widths), "")
    options = option_words(replace(cfg, widths=ref.widths) if arch else cfg, ref)
    return " ".join(w for w in ("--preset quarter-side", options, arch) if w)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", nargs="+", default=DEFAULT_RESULTS)
    p.add_argument("--questions", nargs="+", help="draw these timed study questions instead "
                   "(validation error)")
    p.add_argument("--out", default=str(ROOT / "docs" / "time_to_quality.png"))
    args = p.parse_args(argv)
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    drawn = question_curves(args.questions) if args.questions else curves(args.results)
    for label, (seconds, error) in drawn.items():
        ax.plot([s / 60 for s in seconds], error, marker=".", label=label)
    if args.questions:
        split, images = "validation", "validation"
        oracle = findings.load(args.questions[0])["baselines"]["val"]["oracle_image_mean"]
    else:
        split, images = "test", "75 test images"
        oracle = json.loads((result_path(args.results[0])).read_text())["baselines"][
            "colorizer"]["oracle_image_mean"]
    ax.axhline(oracle["ab_mse"], color="gray", ls=":", label="oracle: each image's own mean a*b*")
    ax.set_xlabel("training minutes on this 2-core CPU (quiet epoch time)")
    ax.set_ylabel(f"{split} ab MSE, raw CIELAB units² (log)")
    ax.set_yscale("log")
    ax.set_yticks(TICKS, [str(t) for t in TICKS])
    ax.minorticks_off()
    ax.set_title(f"Time to quality (seed-0 split, {images})", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
