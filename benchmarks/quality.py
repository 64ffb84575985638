"""Quality at a fixed training budget: every metric and baseline, per configuration and seed.

Trains each configuration for each training seed on the fixed seed-0 split, evaluates it on the
test split, and writes a markdown table (mean ± sd over the seeds where there are several) and
JSON with every run's figures and per-epoch history (benchmarks/results/NAME.{md,json}). The
study's own reported figure is converted to raw units beside ours.

Configurations: `model-head-arch` at config.PRESETS["study-short"], `default`:
what `python -m colorizer train` trains with no option, `default-regressor`: the same settings
for the regressor (`train --model regressor`), or a preset's name (`full-side`: `train --preset
full-side`). Either may end in `+field=value` settings over it
(`arch=N` for the widths): `default+head=tanh+skips=add` is `train --head tanh --skips add`.

A classify configuration can also be scored at other annealed-mean temperatures
(`--temperatures 1.0`): the same weights decoded again, reported as `NAME+temperature=T` (the
temperature changes only the decoding, so that is the run the name describes). `--tta flip`
scores every run again with flip averaging at test time, reported as `NAME+tta=flip` (the same
weights). With `--keep`, a finished run of the same configuration in its folder is reused
instead of trained again.

    python -m benchmarks.quality [--epochs 6] [--configs colorizer-tanh-2 ...] [--seeds 0 1 2]
        [--temperatures 1.0] [--tta flip] [--keep DIR]
"""

import argparse
import statistics
import time
from dataclasses import fields

from colorizer import ARCHS, ColorizerError, Config, fit, load_images
from colorizer.config import PRESETS, preset
from colorizer.console import QUIET
from colorizer.evaluation import TTA
from research import runs as study
from research.report import markdown_table

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


def config(name, epochs=None, seed=0):
    """The Config a configuration name stands for."""
    name, *settings = name.split("+")
    over = {"seed": seed, **({"epochs": epochs} if epochs else {}), **_settings(settings)}
    if name.startswith("default"):
        model = name.removeprefix("default").removeprefix("-") or "colorizer"
        return Config(**{"model": model, **over})
    if name in PRESETS:
        return preset(name, **over)
    model, head, arch = name.split("-")
    return preset("study-short", **{"model": model, "head": head, "widths": ARCHS[int(arch)],
                                    **over})


def config_name(text):
    """An argparse type: a configuration name that stands for a Config today, as given."""
    try:
        config(text)
    except (KeyError, ValueError, TypeError, ColorizerError) as e:
        raise argparse.ArgumentTypeError(f"{text!r} names no configuration today ({e})") from None
    return text


def _settings(pairs):
    """{'field': value} from ['field=value', ...], each value of its field's type."""
    kinds = {f.name: type(f.default) for f in fields(Config)}
    out = {}
    for pair in pairs:
        key, text = pair.split("=")
        if key == "tta":                # a decoding of the same run, not a training setting
            continue
        if key == "arch":
            out["widths"] = ARCHS[int(text)]
        elif kinds[key] is bool:
            out[key] = text.lower() in ("1", "true", "yes")
        else:
            out[key] = text if kinds[key] is type(None) else kinds[key](text)
    return out


def mean_sd(values, fmt="{:.3f}"):
    """'m' for one value, 'm ± sd' (sample standard deviation) for several."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configs", nargs="+", default=CONFIGS, type=config_name,
                   help="model-head-arch, default, or default-regressor")
    p.add_argument("--epochs", type=int, help="(default: each configuration's own)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    p.add_argument("--name", default="quality", help="results file name")
    p.add_argument("--keep", help="save every run's folder under this folder (and reuse the "
                   "finished ones)")
    p.add_argument("--temperatures", type=float, nargs="*", default=[],
                   help="classify: also decode each run at these temperatures")
    p.add_argument("--tta", choices=[t for t in TTA if t != "none"],
                   help="also score each run with this test-time augmentation")
    p.add_argument("--data")
    args = p.parse_args(argv)

    data = load_images(args.data)
    runs = {"colorizer": [], "regressor": []}
    baselines = {}
    for name in args.configs:
        for seed in args.seeds:
            cfg = config(name, args.epochs, seed)
            t0 = time.perf_counter()
            if args.keep:
                run = study.fit_or_reuse(cfg, f"{args.keep}/{name}-seed{seed}", data, log=None)
            else:
                run = fit(cfg, data=data, report=QUIET)
            decodings = {name: run.metrics}
            if cfg.head == "classify":
                decodings |= {f"{name}+temperature={t}": study.at_temperature(run, t)
                              for t in args.temperatures}
            if args.tta:
                decodings[f"{name}+tta={args.tta}"] = study.rescore(run, tta=args.tta)
            for label, m in decodings.items():
                print(f"{label} seed {seed}: "
                      f"{', '.join(f'{k} {m[k]:.3f}' for k in COLUMNS[cfg.model])} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
                runs[cfg.model].append(
                    {"configuration": label, "seed": seed, "epochs": cfg.epochs,
                     "tta": label.partition("+tta=")[2] or "none",
                     "config": config(label, args.epochs, seed).to_dict(),
                     "history": run.history, "train_seconds": run.metrics["train_seconds"],
                     **{k: v for k, v in m.items() if k != "baselines"}})
            baselines[cfg.model] = run.metrics["baselines"]

    m = machine()
    seeds = ", ".join(map(str, args.seeds))
    split = "Validation" if run.val is not None else "Test"
    md = [f"{split} figures on the fixed seed-0 split ({len(run.scored)} images), training "
          f"seed{'s' if len(args.seeds) > 1 else ''} {seeds}"
          f"{' (mean ± sd)' if len(args.seeds) > 1 else ''}; {m['date']}; {m['cores']} cores "
          f"({m['cpu']}), CUDA {m['cuda']}, torch {m['torch']}; "
          f"`{command('benchmarks.quality', argv)}`", ""]
    for kind in ("colorizer", "regressor"):
        if not runs[kind]:
            continue
        rows = []
        for name in dict.fromkeys(r["configuration"] for r in runs[kind]):
            mine = [r for r in runs[kind] if r["configuration"] == name]
            rows.append({"configuration": name, "epochs": mine[0]["epochs"],
                         **{k: mean_sd([r[k] for r in mine]) for k in COLUMNS[kind]},
                         "train s": mean_sd([r["train_seconds"] for r in mine], "{:.0f}")})
        rows += [{"configuration": f"baseline: {b}", **bm} for b, bm in baselines[kind].items()]
        if kind in STUDY:
            rows.append({"configuration": STUDY[kind]["name"], **STUDY[kind]})
        md += [f"**{kind}** (ab errors in raw CIELAB units², PSNR in dB on 8-bit sRGB)", "",
               markdown_table(rows, ["configuration", "epochs", *COLUMNS[kind], "train s"],
                              numeric_right=True), ""]
    text = "\n".join(md)
    print(text)
    write_result(args.name, {"machine": m, "seeds": args.seeds, "runs": runs,
                             "baselines": baselines, "study": STUDY}, text)


if __name__ == "__main__":
    main()
