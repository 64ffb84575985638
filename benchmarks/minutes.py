"""`train` as a user runs it, timed: each command in a fresh process, one at a time, its process
wall time (start to its last line) against its --minutes where it has some, its epochs and its
test figures, over seeds; the mean ± sd of each command beside the runs, and test error against
minutes drawn for each command's recipe (the options but --minutes and --epochs).

    python -m benchmarks.minutes [--arms "" "--minutes 5" "--minutes 10"] [--seeds 0]
                                 [--name minutes] [--keep runs/minutes]

An arm is the `train` options it adds ("": the default, 41 epochs). Writes
benchmarks/results/speed/NAME.{json,md} and docs/NAME.png.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from matplotlib.figure import Figure

from .common import command, machine, write_result

PLANNED = "planned by the clock"
DOCS = Path(__file__).resolve().parents[1] / "docs"
DEFAULT = "(the default)"


def run(options, out, seed):
    """One `python -m colorizer train` in a fresh process: its wall seconds, its metrics, how
    often it planned again."""
    argv = [sys.executable, "-m", "colorizer", "train", *options, "--seed", str(seed), "--out",
            str(out), "--no-progress"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {"options": " ".join(options) or DEFAULT, "seed": seed, "wall_s": wall,
            "plans": done.stdout.count(PLANNED), "epochs": metrics["epochs"],
            "ab_mse": metrics["ab_mse"], "psnr": metrics["psnr"],
            "precision": json.loads((Path(out) / "config.json").read_text())["precision"],
            "target_s": _minutes(options) and 60 * _minutes(options)}


def _minutes(options):
    """The --minutes an arm's options give, or None."""
    return float(options[options.index("--minutes") + 1]) if "--minutes" in options else None


def recipe(options):
    """An arm's options less its length (--minutes, --epochs): its recipe."""
    words, out = [] if options == DEFAULT else options.split(), []
    while words:
        word = words.pop(0)
        if word in ("--minutes", "--epochs"):
            words.pop(0)
        else:
            out.append(word)
    return " ".join(out) or "today's recipe"


def summary(rows):
    """{options: {mean and sd of wall, epochs, ab_mse, psnr over its seeds}}, in arm order."""
    out = {}
    for options in dict.fromkeys(r["options"] for r in rows):
        runs = [r for r in rows if r["options"] == options]
        out[options] = {k: (statistics.mean(r[k] for r in runs),
                            statistics.stdev(r[k] for r in runs) if len(runs) > 1 else 0.0)
                        for k in ("wall_s", "epochs", "ab_mse", "psnr")}
        out[options]["seeds"] = [r["seed"] for r in runs]
        out[options]["target_s"] = runs[0]["target_s"]
    return out


def plot(means, title):
    """Test error against process minutes, one line per recipe, one point per arm."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    lines = {}
    for options, s in means.items():
        lines.setdefault(recipe(options), []).append((s["wall_s"][0] / 60, s["ab_mse"]))
    for name, points in lines.items():
        points.sort()
        ax.errorbar([p[0] for p in points], [p[1][0] for p in points],
                    yerr=[p[1][1] for p in points], marker="o", capsize=3, label=name)
    ax.set(xlabel="process wall time (minutes)", ylabel="test ab MSE (units²)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arms", nargs="+", default=["", "--minutes 5", "--minutes 10"],
                   help="each arm's train options ('': the default)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--name", default="minutes", help="the result files' name")
    p.add_argument("--keep", default="runs/minutes", help="the runs' folders")
    args = p.parse_args(argv)
    rows = []
    for i, arm in enumerate(args.arms):
        for seed in args.seeds:
            rows.append(run(arm.split(), Path(args.keep) / f"arm{i}-seed{seed}", seed))
            print(rows[-1], flush=True)
    result = {"machine": machine(), "seeds": args.seeds, "rows": rows, "summary": summary(rows)}
    text = markdown(result, command("benchmarks.minutes", argv), args.name)
    print(text)
    write_result(args.name, result, text)
    plot(result["summary"], f"test error against minutes, {result['machine']['cpu']}").savefig(
        DOCS / f"{args.name}.png", dpi=90)


def markdown(result, cmd, name):
    """The page: each command's mean (± sd where several seeds) beside its target, then every
    run, then the plot."""
    m, means, rows = result["machine"], result["summary"], result["rows"]
    seeds = ", ".join(map(str, result["seeds"]))
    lines = [f"**`train` by the clock: each command's process wall time, epochs and test error** "
             f"(each command in a fresh process, one at a time, seeds {seeds}, scored on the 75 "
             f"test faces; the mean over the seeds, the runs below). {m['date']}, {m['cores']} "
             f"cores ({m['cpu']}), torch {m['torch']}, commit {m['commit']}; `{cmd}`", "",
             "| `train` options | epochs | wall (s) | target (s) | off by | test ab MSE (units²) "
             "| PSNR (dB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for options, s in means.items():
        target = s["target_s"]
        off = "-" if target is None else f"{(s['wall_s'][0] - target) / target:+.1%}"
        pm = _pm if len(s["seeds"]) > 1 else _alone
        lines.append(f"| `{options}` | {s['epochs'][0]:.0f} | {pm(s['wall_s'], 1)} | "
                     f"{target or '-'} | {off} | {pm(s['ab_mse'], 2)} | {pm(s['psnr'], 2)} |")
    lines += ["", "| `train` options | seed | precision | epochs | plans | wall (s) | test ab MSE "
              "| PSNR |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['options']}` | {r['seed']} | {r['precision']} | {r['epochs']} | "
              f"{r['plans']} | {r['wall_s']:.1f} | {r['ab_mse']:.2f} | {r['psnr']:.2f} |"
              for r in rows]
    return "\n".join([*lines, "", f"![test error against minutes](../../../docs/{name}.png)"])


def _pm(value, digits):
    """A mean ± its sd over the seeds."""
    mean, sd = value
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _alone(value, digits):
    """One seed's value: no spread to show."""
    return f"{value[0]:.{digits}f}"


if __name__ == "__main__":
    main()
