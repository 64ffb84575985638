"""Quality at a fixed training budget: every metric and baseline, per configuration.

Trains each configuration with the same seed, split and budget, evaluates it on the fixed test
split, and writes a markdown table and JSON (benchmarks/results/quality.{md,json}). The study's
own reported figure is converted to raw units beside ours.

    python -m benchmarks.quality [--epochs 6] [--configs colorizer-tanh-2 regressor-sigmoid-1 ...]
"""

import argparse
import time

from colorizer import ARCHS, Config, fit, load_images
from colorizer.report import markdown_table

from .common import command, machine, write_result

CONFIGS = ["colorizer-sigmoid-2", "colorizer-tanh-2", "colorizer-classify-2",
           "colorizer-sigmoid-1", "colorizer-tanh-1", "regressor-sigmoid-2", "regressor-sigmoid-1"]

# The study reports its regressor's test MSE as 0.000113 on the sigmoid scale (ab + 128) / 255:
# times 255^2 that is 7.35 raw units^2 -- on its own split, so a guide, not a like-for-like figure.
STUDY = {"regressor": {"name": "the study (its own split, 0.000113 x 255²)",
                       "mean_ab_mse": 0.000113 * 255**2}}

COLUMNS = {"colorizer": ["ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness",
                         "colourfulness_gap"],
           "regressor": ["mean_ab_mse", "r2"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configs", nargs="+", default=CONFIGS, help="model-head-arch")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data")
    args = p.parse_args(argv)

    data = load_images(args.data)
    rows = {"colorizer": [], "regressor": []}
    baseline_rows = {}
    for name in args.configs:
        model, head, arch = name.split("-")
        cfg = Config(model=model, head=head, widths=ARCHS[int(arch)], epochs=args.epochs,
                     seed=args.seed)
        t0 = time.perf_counter()
        run = fit(cfg, out_dir=None, progress=False, data=data, log=None)
        m = run.metrics
        print(f"{name}: {', '.join(f'{k} {m[k]:.3f}' for k in COLUMNS[model])} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        rows[model].append({"configuration": name, "train s": round(m["train_seconds"]),
                            **{k: v for k, v in m.items() if k != "baselines"}})
        for b, bm in m["baselines"].items():
            baseline_rows.setdefault(model, {})[b] = {"configuration": f"baseline: {b}",
                                                      "train s": 0, **bm}

    m = machine()
    md = [f"Quality after {args.epochs} epochs (x10 augmented passes each), seed {args.seed}, "
          f"test split of {len(run.test)} images; {m['date']}; {m['cores']} cores "
          f"({m['cpu']}), CUDA {m['cuda']}, torch {m['torch']}; "
          f"`{command('benchmarks.quality', argv)}`", ""]
    for kind in ("colorizer", "regressor"):
        if not rows[kind]:
            continue
        extra = list(baseline_rows.get(kind, {}).values())
        if kind in STUDY:
            extra.append({"configuration": STUDY[kind]["name"], **STUDY[kind]})
        md += [f"**{kind}** (ab errors in raw CIELAB units^2, PSNR in dB on 8-bit sRGB)", "",
               markdown_table(rows[kind] + extra, ["configuration", *COLUMNS[kind], "train s"],
                              numeric_right=True), ""]
    text = "\n".join(md)
    print(text)
    write_result("quality", {"machine": m, "epochs": args.epochs, "seed": args.seed,
                             "rows": rows, "baselines": baseline_rows, "study": STUDY}, text)


if __name__ == "__main__":
    main()
