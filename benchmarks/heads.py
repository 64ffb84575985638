"""Classification or regression? The heads compared at an equal budget, seed and split.

Trains the sigmoid, tanh and classify colorizers (classify with and without class rebalancing)
at the study's settings (config.PRESETS["study"]) with the same widths, epochs and seed;
decodes the classify runs at several annealed-mean temperatures; writes the table
(benchmarks/results/heads.{md,json}), a figure of the same test images side by side (heads.png),
and the study's claims checked against the numbers.

    python -m benchmarks.heads [--epochs 6] [--arch 2]
"""

import argparse
import time
from dataclasses import replace

from colorizer import ARCHS, fit, load_images, report, side_by_side, study
from colorizer.config import preset

from .common import RESULTS, command, machine, write_result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--arch", type=int, default=2, choices=sorted(ARCHS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data")
    args = p.parse_args(argv)

    data = load_images(args.data)
    base = preset("study", widths=ARCHS[args.arch], epochs=args.epochs, seed=args.seed)
    variants = {"sigmoid": dict(head="sigmoid"), "tanh": dict(head="tanh"),
                "classify": dict(head="classify"),
                "classify, no rebalancing": dict(head="classify", rebalance=False)}
    runs = {}
    for name, kw in variants.items():
        t0 = time.perf_counter()
        runs[name] = fit(replace(base, **kw), progress=False, data=data, log=None)
        print(f"{name}: {report.summary(runs[name])} ({time.perf_counter() - t0:.0f} s wall)",
              flush=True)

    rows = report.head_rows(runs, study.temperature_sweep)
    verdicts = report.claims({"sigmoid": runs["sigmoid"], "tanh": runs["tanh"]}, runs["classify"],
                            runs["classify, no rebalancing"])
    test = runs["tanh"].test
    text = "\n".join([
        f"Heads at an equal budget: Architecture {args.arch}, {args.epochs} epochs (x10 augmented "
        f"passes), seed {args.seed}, test split of {len(test)} images; {machine()['date']}; "
        f"`{command('benchmarks.heads', argv)}`. ab MSE in raw CIELAB units^2, PSNR in dB on "
        "8-bit sRGB, AuC in %.", "",
        report.markdown_table(rows, report.HEAD_COLUMNS), "", verdicts])
    print(text)
    write_result("heads", {"machine": machine(), "epochs": args.epochs, "arch": args.arch,
                           "seed": args.seed, "rows": rows, "claims": verdicts}, text)
    side_by_side(runs, test, n=6).savefig(RESULTS / "heads.png", dpi=90)


if __name__ == "__main__":
    main()
