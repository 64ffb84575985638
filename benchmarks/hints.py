"""Colour hints measured like Zhang et al. 2017's sweep, and like a person: the error with 0, 1,
2, 5, 10, 20 and 50 random true-colour points, and along a corrective sequence (each next point
at the centre of the worst 9 x 9 error of the current result), for models trained to take hints,
beside the plain default trained for the same time (its 0-point line).

Every run holds out the fixed, seeded validation split (`--holdout val`) and is scored on it and,
once, on the test split. The random points are the same for every model (seeded by their
count); a point covers 3 x 3 px of the 128 px input and carries the true mean a*b* there.

    python -m benchmarks.hints --arms random corrective --seeds 0 --name hints_choice
    python -m benchmarks.hints --arms corrective --seeds 0 1 2 --plain --name hints_sweep

`--arms`: the --hints settings trained (with --skips concat); `--plain`: the default without
hints beside, at the epochs its quiet epoch time buys in the first arm's training time.
Finished runs in --keep are reused. Results: benchmarks/results/design/NAME.{md,json}, and the
plot docs/NAME.png.
"""

import argparse
import json
import statistics
from dataclasses import replace

import torch

from colorizer import Config, load_images
from colorizer import hints as hint_maps
from colorizer.data import ab_mean, lab_to_rgb
from colorizer.evaluation import corrective_sequence, predict
from colorizer.metrics import ab_mse, psnr
from research import runs
from research.plots import plot_hint_sweep
from research.verdict import compare, mean_sd

from .common import RESULTS, command, machine, result_path, write_result
from .study import options, quiet_epoch_seconds, run_folder

DOCS = RESULTS.parent.parent / "docs"
COUNTS = (0, 1, 2, 5, 10, 20, 50)      # random points, as Zhang et al.'s sweep (Fig. 6)
CORRECTIVE = 10                        # points of the corrective sequence
SWEEP_SEED = 1000                      # the random points' generator: seeded by their count too
SPLITS = ("val", "test")


def hint_config(arm, **kw):
    """The default with hints `arm` (random or corrective), the encoder's maps stacked onto the
    decoder's (skips concat: the U-Net that lets a hint keep its place), on validation."""
    return Config(hints=arm, skips="concat", holdout="val", **kw)


def scores(model, lab, maps):
    """(ab MSE, PSNR) per image of `model` given hint maps `maps` (None: no point)."""
    L, ab = lab[:, :1], lab[:, 1:]
    pred = predict(model, L, hints=maps)
    return ab_mse(pred, ab).double(), psnr(lab_to_rgb(L, pred), lab_to_rgb(L, ab))


def random_sweep(model, lab):
    """{count: per-image (ab MSE, PSNR)} with `count` seeded random true-colour points."""
    out = {}
    for n in COUNTS:
        g = torch.Generator().manual_seed(SWEEP_SEED + n)
        maps = hint_maps.random_points(lab[:, 1:], n, g) if n else None
        out[n] = scores(model, lab, maps)
    return out


def corrective_sweep(model, lab, n=CORRECTIVE):
    """[per-image (ab MSE, PSNR)] after 0..n corrective points (evaluation.corrective_sequence:
    each at the centre of the worst 9 x 9 error of the result before it, the true colour)."""
    L, ab = lab[:, :1], lab[:, 1:]
    return [(ab_mse(pred, ab).double(), psnr(lab_to_rgb(L, pred), lab_to_rgb(L, ab)))
            for _, pred in corrective_sequence(model, lab, n)]


def _means(pair):
    return {"ab_mse": float(pair[0].mean()), "psnr": float(pair[1].mean())}


def sweep_run(run):
    """A run's sweeps on validation and test: {split: {"random": {n: figures}, "corrective":
    [figures], "worse_steps": [share of images a corrective point made worse]}}."""
    out = {}
    for split, images in (("val", run.scored), ("test", run.test)):
        rand = random_sweep(run.model, images.lab) if run.model.takes_hints else {
            0: scores(run.model, images.lab, None)}
        corr = corrective_sweep(run.model, images.lab) if run.model.takes_hints else []
        const = torch.as_tensor(ab_mean(run.train))[None, :, None, None].expand_as(
            images.lab[:, 1:])
        out[split] = {"train_mean": float(ab_mse(const, images.lab[:, 1:]).mean()),
                      "random": {str(n): _means(v) for n, v in rand.items()},
                      "corrective": [_means(v) for v in corr],
                      "worse_steps": [float((b[0] > a[0]).double().mean())
                                      for a, b in zip(corr, corr[1:])]}
    return out


def train_and_sweep(cfg, seeds, data, keep):
    records = []
    for seed in seeds:
        c = replace(cfg, seed=seed)
        run = runs.fit_or_reuse(c, run_folder(keep, c), data, log=None)
        rec = {"seed": seed, "config": c.to_dict(), "sweeps": sweep_run(run),
               "train_seconds": sum(run.history["seconds"]),
               "seconds_per_epoch": statistics.median(run.history["seconds"]),
               "n": {"train": len(run.train), "val": len(run.scored), "test": len(run.test)}}
        zero = rec["sweeps"]["val"]["random"]["0"]["ab_mse"]
        print(f"  seed {seed}: val {zero:.2f} at 0 points", flush=True)
        records.append(rec)
    return records


def equal_time_plain(arm_cfg, data, keep):
    """The default without hints at the epochs that take as long as the arm's runs took, from
    both settings' quiet epoch times (benchmarks.study.quiet_epoch_seconds)."""
    plain = Config(holdout="val")
    clock = quiet_epoch_seconds({"arm": arm_cfg, "plain": plain}, data, keep)
    epochs = round(arm_cfg.epochs * clock["arm"] / clock["plain"])
    return replace(plain, epochs=epochs), clock


def summary(records, split, path):
    """{x: (mean, sd) over seeds} of one curve: path ("random", n) or ("corrective", k)."""
    kind, key = path
    vals = [r["sweeps"][split][kind][key] for r in records]
    return {m: mean_sd([v[m] for v in vals]) for m in ("ab_mse", "psnr")}


def markdown(result, cmd):
    m = result["machine"]
    lines = [f"**{result['title']}** (seeds {', '.join(map(str, result['seeds']))}; "
             f"{result['n']['train']} training, {result['n']['val']} validation, "
             f"{result['n']['test']} test images; ab MSE in raw CIELAB units², PSNR in dB on "
             f"8-bit sRGB, mean ± sd over seeds). {m['date']}, {m['cores']} cores ({m['cpu']}), "
             f"torch {m['torch']}, commit {m.get('commit')}; `{cmd}`", "",
             "| arm | options | epochs | s/epoch | training (min) |", "|---|---|---:|---:|---:|"]
    for label, arm in result["arms"].items():
        rs = arm["runs"]
        lines.append(f"| {label} | `train {arm['options']}` | {arm['config']['epochs']} | "
                     f"{statistics.mean(r['seconds_per_epoch'] for r in rs):.1f} | "
                     f"{statistics.mean(r['train_seconds'] for r in rs) / 60:.1f} |")
    for split in SPLITS:
        lines += ["", f"Random points, {split} (ab MSE / PSNR):", "",
                  "| arm | " + " | ".join(str(n) for n in COUNTS) + " |",
                  "|---|" + "---:|" * len(COUNTS)]
        for label, arm in result["arms"].items():
            cells = []
            for n in COUNTS:
                if str(n) not in arm["runs"][0]["sweeps"][split]["random"]:
                    cells.append("-")
                    continue
                s = summary(arm["runs"], split, ("random", str(n)))
                spread = f" ± {s['ab_mse'][1]:.2f}" if len(arm["runs"]) > 1 else ""
                cells.append(f"{s['ab_mse'][0]:.2f}{spread} / {s['psnr'][0]:.2f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += ["", f"Corrective points, {split} (ab MSE; share of images the point made "
                  "worse):", "", "| arm | " + " | ".join(str(k) for k in range(CORRECTIVE + 1))
                  + " |", "|---|" + "---:|" * (CORRECTIVE + 1)]
        for label, arm in result["arms"].items():
            if not arm["runs"][0]["sweeps"][split]["corrective"]:
                continue
            cells = []
            for k in range(CORRECTIVE + 1):
                s = summary(arm["runs"], split, ("corrective", k))
                worse = ("" if k == 0 else " (%.0f%%)" % (100 * statistics.mean(
                    r["sweeps"][split]["worse_steps"][k - 1] for r in arm["runs"])))
                cells.append(f"{s['ab_mse'][0]:.2f}{worse}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {t}" for t in result["targets"]] + ["", *choice_line(result)]
    return "\n".join(lines)


def choice_score(arm, split="val"):
    """What the choice between hint arms minimises, on validation: the mean ab MSE over both
    sweeps' points (0..50 random, 0..10 corrective), the first seed's."""
    s = arm["runs"][0]["sweeps"][split]
    return statistics.mean([v["ab_mse"] for v in s["random"].values()]
                           + [v["ab_mse"] for v in s["corrective"]])


def choice_line(result):
    """The page's line on which hint arm validation chose (pages with more than one)."""
    arms = {k: a for k, a in result["arms"].items() if a["runs"][0]["sweeps"]["val"]["corrective"]}
    if len(arms) < 2:
        return []
    scores = {k: choice_score(a) for k, a in arms.items()}
    best = min(scores, key=scores.get)
    return [f"Chosen on validation, by the mean ab MSE over both sweeps' points: **{best}** ("
            + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()) + ")"]


def targets(result, split):
    """The issue's targets for each arm that takes hints, each as a line with its figures, on
    `split`."""
    return [line for label, arm in result["arms"].items()
            if arm["runs"][0]["sweeps"][split]["corrective"]
            for line in arm_targets(result, label, split)]


def arm_targets(result, label, split):
    rs = result["arms"][label]["runs"]
    zero = [r["sweeps"][split]["random"]["0"]["ab_mse"] for r in rs]
    steps = [statistics.mean(r["sweeps"][split]["corrective"][k]["ab_mse"] for r in rs)
             for k in range(CORRECTIVE + 1)]
    rises = [k for k in range(1, CORRECTIVE + 1) if steps[k] > steps[k - 1]]
    z, c = statistics.mean(zero), steps[CORRECTIVE]
    r = statistics.mean(r["sweeps"][split]["random"]["10"]["ab_mse"] for r in rs)
    out = [f"{label}, {split}: 10 corrective points {c:.2f} against {z:.2f} at 0 points: "
           f"{c / z:.0%} of it (target: at most 50 %) — **{'met' if c <= z / 2 else 'not met'}**",
           f"{label}, {split}: 10 random points {r:.2f}: {1 - r / z:.0%} below 0 points (target: "
           f"at least 30 %) — **{'met' if r <= 0.7 * z else 'not met'}**",
           f"{label}, {split}: a corrective point that made the mean error worse: "
           + (", ".join(f"point {k}" for k in rises) + " — **not met**" if rises
              else "none — **met**")]
    if "plain default, equal time" in result["arms"]:
        plain = [r["sweeps"][split]["random"]["0"]["ab_mse"]
                 for r in result["arms"]["plain default, equal time"]["runs"]]
        v = compare({f"{label} at 0 points": zero, "plain default": plain},
                    {"train_mean": rs[0]["sweeps"][split]["train_mean"]})
        out.append(f"{label}, {split}: at 0 points against the plain default trained as long: "
                   f"{v.text}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arms", nargs="+", default=["corrective"], choices=("random", "corrective"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--plain", action="store_true", help="the default without hints beside, "
                   "trained as long as the first arm")
    p.add_argument("--epochs", type=int, default=Config().epochs)
    p.add_argument("--keep", default="runs/hints")
    p.add_argument("--name", default="hints_sweep")
    p.add_argument("--render", action="store_true", help="only write the page and the plot "
                   "again from the committed NAME.json")
    args = p.parse_args(argv)
    if args.render:
        return render(args.name)
    data = load_images()
    arms, records, clock = {}, {}, None
    for arm in args.arms:
        cfg = hint_config(arm, epochs=args.epochs)
        print(f"hints {arm}: {options(cfg)}", flush=True)
        arms[f"hints {arm}"], records[f"hints {arm}"] = cfg, train_and_sweep(cfg, args.seeds,
                                                                             data, args.keep)
    if args.plain:
        cfg, clock = equal_time_plain(arms[f"hints {args.arms[0]}"], data, args.keep)
        print(f"plain default, equal time: {options(cfg)}", flush=True)
        arms["plain default, equal time"] = cfg
        records["plain default, equal time"] = train_and_sweep(cfg, args.seeds, data, args.keep)
    first = next(iter(records.values()))[0]
    result = {"title": "colour hints: error against points given", "machine": machine(),
              "seeds": args.seeds, "n": first["n"], "quiet_epoch_s": clock,
              "arms": {label: {"options": options(cfg), "config": cfg.to_dict(),
                               "runs": records[label]} for label, cfg in arms.items()}}
    result["command"] = command("benchmarks.hints", argv)
    write_result(args.name, result)
    render(args.name)


def render(name):
    """NAME.md and docs/NAME.png from NAME.json: the tables, the targets, the curves."""
    result = json.loads(result_path(name).read_text())
    result["targets"] = [t for split in SPLITS for t in targets(result, split)]
    text = markdown(result, result.get("command", f"python -m benchmarks.hints --name {name}"))
    print(text)
    write_result(name, result, text)
    plot_hint_sweep(result).savefig(DOCS / f"{name}.png", dpi=90)


if __name__ == "__main__":
    main()
