"""`train --minutes N` as a user runs it: each command in a fresh process, one at a time, its
process wall time (start to its last line) against its N minutes, its epochs and its test
figures; beside them the epoch-count default (`train`, 41 epochs) on the same machine.

    python -m benchmarks.minutes [--minutes 5 10] [--seed 0] [--keep runs/minutes]

Writes benchmarks/results/speed/minutes.{json,md}.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from .common import command, machine, write_result

PLANNED = "planned by the clock"


def run(options, out, seed):
    """One `python -m colorizer train` in a fresh process: its wall seconds, its metrics, how
    often it planned again."""
    argv = [sys.executable, "-m", "colorizer", "train", *options, "--seed", str(seed), "--out",
            str(out), "--no-progress"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {"options": " ".join(options) or "(the default)", "wall_s": wall,
            "plans": done.stdout.count(PLANNED), "epochs": metrics["epochs"],
            "ab_mse": metrics["ab_mse"], "psnr": metrics["psnr"],
            "precision": json.loads((Path(out) / "config.json").read_text())["precision"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 10])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", default="runs/minutes", help="the runs' folders")
    args = p.parse_args(argv)
    arms = [([], None), *((["--minutes", f"{m:g}"], m) for m in args.minutes)]
    rows = []
    for options, minutes in arms:
        row = run(options, Path(args.keep) / ("default" if minutes is None else f"{minutes:g}min"),
                  args.seed)
        row["target_s"] = None if minutes is None else 60 * minutes
        rows.append(row)
        print(row, flush=True)
    m = machine()
    lines = [f"**`train --minutes N`: the process's wall time against N minutes** (each command "
             f"in a fresh process, one at a time, seed {args.seed}, scored on the 75 test faces; "
             f"the default `train` beside them). {m['date']}, {m['cores']} cores ({m['cpu']}), "
             f"torch {m['torch']}, commit {m['commit']}; `{command('benchmarks.minutes', argv)}`",
             "", "| `train` options | precision | epochs | plans | wall (s) | target (s) | "
             "off by | test ab MSE (units²) | PSNR (dB) |", "|---|---|---:|---:|---:|---:|---:|"
             "---:|---:|"]
    for r in rows:
        target = r["target_s"]
        off = "-" if target is None else f"{(r['wall_s'] - target) / target:+.1%}"
        lines.append(f"| `{r['options']}` | {r['precision']} | {r['epochs']} | {r['plans']} | "
                     f"{r['wall_s']:.1f} | {r['target_s'] or '-'} | {off} | {r['ab_mse']:.2f} | "
                     f"{r['psnr']:.2f} |")
    text = "\n".join(lines)
    print(text)
    write_result("minutes", {"machine": m, "seed": args.seed, "rows": rows}, text)


if __name__ == "__main__":
    main()
