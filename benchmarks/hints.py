"""Colour hints measured as people use them: the shipped model with its hint part
(colorizer.spread), through `predict` with flip averaging as `colorize` and the demo run it,
against the same model given no point.

The hint part is fitted three times (seeds 0, 1, 2: research.hint_fit on the validation images of
a twin run, the shipped recipe trained with `--holdout val`), each fit scored on validation (over
the twin's predictions) and on the test split (over the shipped network's); seed 0's is the one
shipped (`--ship`). Per fit seed, the same seed draws the random points and the recoloured
regions. Three simulated people (research.hint_fit):

- random: 0, 1, 2, 5, 10, 20, 50 points of the true colour, placed as training places them;
- corrective: 10 points one after another, each at the worst 9 x 9 error of the result so far;
- recolour: 1, 3, 10 points of a colour the photo does not have in one region (a SLIC segment):
  how far the region goes toward it (1 = all the way), how far pixels 12 px or more away move.

Fidelity: the squared a*b* distance at the hinted pixels between the result and the colour given.

    python -m colorizer train --epochs 109 --lr 0.002 --precision bfloat16 --holdout val \
        --out runs/twin
    python -m benchmarks.hints runs/twin --ship

Results: benchmarks/results/design/hints_spread.{md,json}, the model card's section
hints_card.md, and the plot docs/hints_spread.png. `--render` writes them again from the JSON.
"""

import argparse
import json
import statistics

import torch

from colorizer import hints as hint_maps
from colorizer import load_images, split
from colorizer.checkpoint import load_model
from colorizer.data import lab_to_rgb
from colorizer.evaluation import corrective_sequence, predict
from colorizer.metrics import ab_mse, psnr
from colorizer.serving.pretrained import SHIPPED_DIR, shipped_weights
from research import hint_fit
from research.plots import plot_hint_sweep
from research.results import RESULTS, result_path
from research.verdict import mean_sd

from .common import command, machine, write_result

DOCS = RESULTS.parent.parent / "docs"
NAME = "hints_spread"
COUNTS = (0, 1, 2, 5, 10, 20, 50)      # random points, as Zhang et al.'s sweep (Fig. 6)
CORRECTIVE = 10
RECOLOUR = (1, 3, 10)
SWEEP_SEED = 1000
TTA = "flip"                           # as colorize and the demo run a model


def hinted(model, L, maps):
    return predict(model, L, tta=TTA, hints=maps)


def fidelity(pred, maps):
    """Mean squared a*b* distance, over the hinted pixels, from the colour given there."""
    given = maps[:, :2] * hint_maps.AB_SCALE
    mask = maps[:, 2] > 0
    return float(((pred - given) ** 2).sum(1)[mask].mean())


def measure(model, lab, seed):
    """One fit's figures on images `lab`: the random sweep, the corrective sequence, the
    recolour cases and the fidelity at 10 points."""
    L, ab = lab[:, :1], lab[:, 1:]
    base = hinted(model, L, None)
    out = {"random": {}, "corrective": [], "worse_steps": [], "recolour": {}}
    for n in COUNTS:
        maps = (hint_maps.random_points(ab, n, torch.Generator().manual_seed(
            SWEEP_SEED + 100 * seed + n)) if n else None)
        pred = hinted(model, L, maps)
        out["random"][str(n)] = {"ab_mse": float(ab_mse(pred, ab).mean()),
                                 "psnr": float(psnr(lab_to_rgb(L, pred), lab_to_rgb(L, ab)).mean())}
        if n == 10:
            out["fidelity_random_10"] = fidelity(pred, maps)
    previous = None
    for maps, pred in corrective_sequence(model, lab, CORRECTIVE, tta=TTA):
        last = maps                             # (the 10 points: the fidelity below)
        err = ab_mse(pred, ab).double()
        out["corrective"].append(float(err.mean()))
        if previous is not None:
            out["worse_steps"].append(float((err > previous).double().mean()))
        previous = err
    out["fidelity_corrective_10"] = fidelity(pred, last)
    for n in RECOLOUR:
        maps, wanted, region, far = hint_fit.recolour(lab, base, n, seed=SWEEP_SEED + seed)
        went, leak = hint_fit.recolour_scores(hinted(model, L, maps), base, wanted, region, far)
        out["recolour"][str(n)] = {"went": float(went.mean()), "leak": float(leak.mean())}
    return out


def run(twin_dir, seeds, steps):
    """{seed: {"fit_seconds", "parameters", "val", "test"}} for each fit seed."""
    val_lab, val_base, twin = hint_fit.twin_validation(twin_dir)
    shipped = load_model(shipped_weights(), "cpu")[0]
    test = split(load_images())[1]
    records = {}
    for seed in seeds:
        part, seconds = hint_fit.fit(val_lab, val_base, seed, steps)
        rec = {"fit_seconds": seconds,
               "parameters": {k: v.tolist() for k, v in part.state_dict().items()}}
        for name, model, lab in (("val", twin, val_lab), ("test", shipped, test.lab)):
            model.spread.load_state_dict(part.state_dict())
            rec[name] = measure(model, lab, seed)
        print(f"  seed {seed}: test {rec['test']['random']['0']['ab_mse']:.2f} at 0 points, "
              f"{rec['test']['corrective'][-1]:.2f} after 10 corrective "
              f"({seconds:.0f} s to fit)", flush=True)
        records[str(seed)] = rec
    return records, {"val": len(val_lab), "test": len(test)}


def figures(result, name):
    """{figure: (mean, sd) over fit seeds} of what the targets judge, on split `name`."""
    rs = [r[name] for r in result["runs"].values()]

    def ms(get):
        return mean_sd([get(r) for r in rs])
    out = {"zero": ms(lambda r: r["random"]["0"]["ab_mse"]),
           "random_10": ms(lambda r: r["random"]["10"]["ab_mse"]),
           "corrective_10": ms(lambda r: r["corrective"][-1]),
           "fidelity_corrective": ms(lambda r: r["fidelity_corrective_10"]),
           "fidelity_random": ms(lambda r: r["fidelity_random_10"]),
           "worst_step": ms(lambda r: max(r["worse_steps"])),
           **{f"went_{n}": ms(lambda r, n=n: r["recolour"][str(n)]["went"]) for n in RECOLOUR},
           **{f"leak_{n}": ms(lambda r, n=n: r["recolour"][str(n)]["leak"]) for n in RECOLOUR}}
    means = {n: statistics.mean(r["random"][str(n)]["ab_mse"] for r in rs) for n in COUNTS}
    steps = [statistics.mean(r["corrective"][k] for r in rs) for k in range(CORRECTIVE + 1)]
    out["random_rises"] = [b for a, b in zip(COUNTS, COUNTS[1:]) if means[b] > means[a]]
    out["corrective_rises"] = [k for k in range(1, CORRECTIVE + 1) if steps[k] > steps[k - 1]]
    return out


def target_rows(f):
    """(target, figure, met) for the issue's targets, from figures()."""
    z = f["zero"][0]

    def pm(v, unit=""):
        return f"{v[0]:.2f} ± {v[1]:.2f}{unit}"
    return [
        ("10 corrective points: at most 60 % of the 0-point error (stretch 50 %)",
         f"{pm(f['corrective_10'])} = {f['corrective_10'][0] / z:.0%} of {z:.2f}",
         f["corrective_10"][0] <= 0.6 * z),
        ("10 random true-colour points: at least 10 % below the 0-point error",
         f"{pm(f['random_10'])} = {1 - f['random_10'][0] / z:.1%} below {z:.2f}",
         f["random_10"][0] <= 0.9 * z),
        ("fidelity at the hinted pixels (10 corrective points): at most 5 units²",
         pm(f["fidelity_corrective"]), f["fidelity_corrective"][0] <= 5),
        ("recolour, 3 points: the region at least 60 % of the way",
         f"{f['went_3'][0]:.0%} ± {f['went_3'][1]:.0%}", f["went_3"][0] >= 0.6),
        ("recolour, 3 points: pixels 12 px or more away move at most 2 a*b* units",
         pm(f["leak_3"]), f["leak_3"][0] <= 2),
        ("no count of points worse on average than one fewer (random 0..50, corrective 0..10)",
         "rises at " + ", ".join([f"{n} random" for n in f["random_rises"]]
                                 + [f"corrective point {k}" for k in f["corrective_rises"]])
         if f["random_rises"] or f["corrective_rises"] else "none", not (
             f["random_rises"] or f["corrective_rises"])),
        ("one more corrective point makes at most 10 % of images worse (the worst step)",
         f"{f['worst_step'][0]:.0%}", f["worst_step"][0] <= 0.10),
    ]


def _row(label, cells):
    return f"| {label} | " + " | ".join(cells) + " |"


def split_tables(result, name):
    """The random, corrective and recolour tables and the fidelity line of one split."""
    rs = [r[name] for r in result["runs"].values()]
    mse = [mean_sd([r["random"][str(c)]["ab_mse"] for r in rs]) for c in COUNTS]
    snr = [statistics.mean(r["random"][str(c)]["psnr"] for r in rs) for c in COUNTS]
    steps = [statistics.mean(r["corrective"][k] for r in rs) for k in range(CORRECTIVE + 1)]
    worse = [statistics.mean(r["worse_steps"][k] for r in rs) for k in range(CORRECTIVE)]
    lines = [f"Random true-colour points, {name} (ab MSE, PSNR):", "",
             _row("points", [str(c) for c in COUNTS]), "|---|" + "---:|" * len(COUNTS),
             _row("ab MSE", [f"{m:.2f} ± {sd:.2f}" for m, sd in mse]),
             _row("PSNR", [f"{v:.2f}" for v in snr]), "",
             f"Corrective points, {name} (ab MSE; share of images that point made worse):", "",
             _row("points", [str(k) for k in range(CORRECTIVE + 1)]),
             "|---|" + "---:|" * (CORRECTIVE + 1),
             _row("ab MSE", [f"{steps[0]:.2f}"] + [f"{v:.2f} ({w:.0%})"
                                                   for v, w in zip(steps[1:], worse)]), "",
             f"Recolour, {name} (a region given a colour the photo does not have):", "",
             "| points | the way the region went | movement 12 px or more away (a*b*) |",
             "|---:|---:|---:|"]
    for c in RECOLOUR:
        went = mean_sd([r["recolour"][str(c)]["went"] for r in rs])
        leak = mean_sd([r["recolour"][str(c)]["leak"] for r in rs])
        lines.append(f"| {c} | {went[0]:.0%} ± {went[1]:.0%} | {leak[0]:.2f} ± {leak[1]:.2f} |")
    f = figures(result, name)
    return lines + ["", f"Fidelity, {name}: {f['fidelity_random'][0]:.2f} ± "
                    f"{f['fidelity_random'][1]:.2f} units² at 10 random points, "
                    f"{f['fidelity_corrective'][0]:.2f} ± {f['fidelity_corrective'][1]:.2f} at "
                    "10 corrective points.", ""]


def markdown(result):
    m, n = result["machine"], result["n"]
    seeds = list(result["runs"])
    fit_s = statistics.mean(r["fit_seconds"] for r in result["runs"].values())
    lines = [f"**Colour hints as people use them** (the shipped model and its hint part, "
             f"colorizer.spread, flip-averaged as `colorize` runs it; the hint part fitted on "
             f"the {n['val']} validation images of the twin run `{result['twin']}` in "
             f"{fit_s:.0f} s, fit seeds {', '.join(seeds)}, mean ± sd over them; seed "
             f"{seeds[0]}'s shipped). ab MSE in raw CIELAB units², PSNR in dB on 8-bit sRGB; "
             f"test: the {n['test']} faces of the fixed split, over the shipped network; "
             f"validation: over the twin's. {m['date']}, {m['cores']} cores ({m['cpu']}), "
             f"torch {m['torch']}, commit {m['commit']}; `{result['command']}`", ""]
    lines += split_tables(result, "test") + split_tables(result, "val")
    lines += ["Targets (test; against the same model with no point):", "",
              "| target | figure | |", "|---|---|---|"]
    lines += [f"| {t} | {v} | **{'met' if ok else 'not met'}** |"
              for t, v, ok in target_rows(figures(result, "test"))]
    return "\n".join(lines)


def card(result):
    """The model card's section: what the hint part is, and the targets on test."""
    f = figures(result, "test")
    return "\n".join([
        "Give colour points (`predict(model, L, hints=...)`, `colorize --hint X,Y,#RRGGBB`, the "
        "demo's colour-hints tab): the hint part (`colorizer.spread`, 13 numbers) carries each "
        "point's difference from the prediction over the pixels near it of like lightness and "
        "colour. With no point the result is the prediction itself, byte for byte. Fitted by "
        f"`python -m research.hint_fit` on a twin run's validation images; measured by "
        f"`{result['command']}` on the {result['n']['test']} test faces "
        f"(mean ± sd over {len(result['runs'])} fits; "
        "`benchmarks/results/design/hints_spread.md`), each against what `colorize` gives with "
        f"no point ({f['zero'][0]:.2f} units²); {_count_missed(f)} of the seven targets "
        "missed, where the table says so:", "",
        "| target | figure | |", "|---|---|---|",
        *[f"| {t} | {v} | {'met' if ok else '**not met**'} |" for t, v, ok in target_rows(f)]])


def _count_missed(f):
    missed = sum(not ok for _, _, ok in target_rows(f))
    return ["none", "one", "two", "three", "four", "five", "six", "seven"][missed]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("twin", nargs="?", help="a run of the shipped recipe with --holdout val")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=hint_fit.STEPS)
    p.add_argument("--ship", action="store_true", help="write the first seed's hint part into "
                   "the shipped weights (colorizer/weights)")
    p.add_argument("--render", action="store_true", help="only write the pages and the plot "
                   "again from the committed JSON")
    args = p.parse_args(argv)
    if args.render:
        return render()
    if not args.twin:
        p.error("give the twin run's folder (or --render)")
    records, n = run(args.twin, args.seeds, args.steps)
    result = {"title": "colour hints as people use them", "machine": machine(),
              "twin": args.twin, "steps": args.steps, "n": n, "runs": records,
              "command": command("benchmarks.hints", argv)}
    write_result(NAME, result)
    if args.ship:
        part = hint_fit.Spread()
        part.load_state_dict({k: torch.tensor(v) for k, v in
                              records[str(args.seeds[0])]["parameters"].items()})
        hint_fit.write_into(SHIPPED_DIR, part)
        print(f"shipped seed {args.seeds[0]}'s hint part into {SHIPPED_DIR}")
    render()


def render():
    """The page, the card's section and the plot from the committed JSON."""
    result = json.loads(result_path(NAME).read_text())
    text = markdown(result)
    print(text)
    write_result(NAME, result, text)
    result_path("hints_card", ".md").write_text(card(result) + "\n")
    plot_hint_sweep(result).savefig(DOCS / f"{NAME}.png", dpi=90)


if __name__ == "__main__":
    main()
