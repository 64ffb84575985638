"""Quality at a fixed training budget: every metric and baseline, per configuration.

Trains each configuration with the same seed, split and budget, evaluates it on the fixed test
split, and writes a markdown table and JSON (benchmarks/results/quality.{md,json}). The study's
own reported figure is converted to raw units beside ours.

    python benchmarks/quality.py [--epochs 6] [--configs colorizer-tanh-2 regressor-sigmoid-1 ...]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, machine, write_result  # noqa: E402
from colorizer import ARCHS, Config, fit, load_images  # noqa: E402

CONFIGS = ["colorizer-sigmoid-2", "colorizer-tanh-2", "colorizer-classify-2",
           "colorizer-sigmoid-1", "colorizer-tanh-1", "regressor-sigmoid-2", "regressor-sigmoid-1"]

# The study reports its regressor's test MSE as 0.000113 on the sigmoid scale (ab + 128) / 255:
# times 255^2 that is 7.35 raw units^2 -- on its own split, so a guide, not a like-for-like figure.
STUDY = {"regressor": {"mean_ab_mse": 0.000113 * 255**2}}

COLUMNS = {"colorizer": ["ab_mse", "psnr", "ssim", "ciede2000", "auc", "colourfulness",
                         "colourfulness_gap"],
           "regressor": ["mean_ab_mse", "r2"]}


def table(rows, kind):
    cols = COLUMNS[kind]
    out = ["| configuration | " + " | ".join(cols) + " | train s |",
           "|---|" + "---:|" * (len(cols) + 1)]
    for r in rows:
        out.append(f"| {r['name']} | " + " | ".join(f"{r[c]:.3f}" for c in cols)
                   + f" | {r.get('train_seconds', 0):.0f} |")
    return "\n".join(out)


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
        rows[model].append({"name": name, **{k: v for k, v in m.items() if k != "baselines"}})
        for b, bm in m["baselines"].items():
            baseline_rows.setdefault(model, {})[b] = {"name": f"baseline: {b}", **bm}

    cmd = "python benchmarks/quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    m = machine()
    md = [f"Quality after {args.epochs} epochs (x10 augmented passes each), seed {args.seed}, "
          f"test split of {len(run.test)} images; {m['date']}; {m['cores']} cores "
          f"({m['cpu']}), CUDA {m['cuda']}, torch {m['torch']}; `{cmd.strip()}`", ""]
    for kind in ("colorizer", "regressor"):
        if not rows[kind]:
            continue
        extra = list(baseline_rows.get(kind, {}).values())
        if kind in STUDY:
            extra.append({"name": "the study (its own split)", "r2": float("nan"),
                          **STUDY[kind]})
        md += [f"**{kind}** (ab errors in raw CIELAB units^2, PSNR in dB on 8-bit sRGB)", "",
               table(rows[kind] + extra, kind), ""]
    text = "\n".join(md)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.md").write_text(text + "\n")
    write_result("quality", {"machine": machine(), "epochs": args.epochs, "seed": args.seed,
                             "rows": rows, "baselines": baseline_rows, "study": STUDY})


if __name__ == "__main__":
    main()
