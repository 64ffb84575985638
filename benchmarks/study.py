"""The study's questions, answered on validation with the test figure beside it, over seeds.

Every run holds out the fixed, seeded validation split (`--holdout val`: 10 % of the training
split) and trains on the rest; it is scored on validation every epoch and, once at the end, on
the test split. A verdict (research.verdict) is decided on validation; the same rule applied to
the test figures is printed beside it. The questions:

  width      Architecture 1 (32..512) against 2 (8..256): at equal epochs, and Architecture 2 at
             Architecture 1's training time (its epochs from the measured seconds per epoch)
  heads      sigmoid against tanh
  classify   classification (rebalanced or not) against regression; each classify run decoded
             at the annealed-mean temperatures of study.TEMPERATURES, the temperature chosen on
             validation; error and vividness (colourfulness gap to the truth, per image)
  cases      the study's two hyper-parameter cases (lr 5e-3 / wd 1e-7 against lr 1e-4 / wd 1e-5,
             epochs 1 : 4) under the project's training
  cases-long the same at twice the epochs (8 : 32), where case 1 leaves the baselines behind
  cases-adam the same under the study's own Adam at a constant rate
  regressor  the mean-colour regressor against the training-mean constant
  time-5min, time-10min  the training-step levers at five minutes, then the finalists at ten
  recipe-5min  the recipe's levers (rate, batch, gentler crops) one each against 0.10.0's
             default, five minutes of the CPU it runs on; recipe-confirm the best of them
             against that default over the seeds
  budget-5min, budget-10min  the default at five and ten minutes of the CPU the call runs on
  precision-10min  the default against it with bfloat16 autocast, ten minutes of that CPU
  regressor-2x2  the study's own claim where it made it: the regressor, Architecture 1 and 2 x
             case 1 and 2, the study's training at STUDY_FRACTION of its epochs; the two-way
             verdict (main effects, interaction) and whether Architecture 1, case 2 is the best
  study-spread  the study's Architecture 2 setting on five seeds: one setting's spread, beside
             the 10.11 / 13.89 units² its report gives for that setting run twice
  colorizer-2x2  the regressor-2x2 on the study's colorizer (sigmoid head, full-side a*b*)

Questions whose experiment lost (design, average-10min, distill-41, decoder-10min) left the code
with their options; their pages stay under benchmarks/results/, each naming the commit that ran
it. Runs are named by their options: the options every arm of a question shares once, then what
each arm changes. With `--keep DIR` (default runs/study) a finished run of the same settings is
reused, so questions that share an arm train it once. Results:
benchmarks/results/KIND/study_NAME.{md,json} (KIND: research.results.kind_of).

    python -m benchmarks.study width heads [--seeds 0 1 2] [--keep runs/study] [--answers]
"""

import argparse
import hashlib
import json
import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from colorizer import ARCHS, Config, fit, load_images
from colorizer.config import PLACE_SETTINGS, PRESETS, STUDY_CASES, option_words
from colorizer.console import QUIET
from research import findings, runs
from research.plots import plot_study_curves
from research.report import markdown_table
from research.results import RESULTS, result_path
from research.verdict import CLEAR, best_cell, mean_sd, two_way

from .common import command, machine, write_result

DOCS = RESULTS.parent.parent / "docs"
BUDGET = 12         # epochs of x10 augmented passes: every arm clearly past the baselines
STUDY_ADAM = dict(optimizer="adam", schedule="constant")


@dataclass
class Question:
    """Arms {label: settings over `base`}; `pairs` compared by the verdict rule."""
    title: str
    arms: dict
    pairs: list
    base: dict = field(default_factory=dict)
    equal_time: tuple | None = None     # (arm to stretch, arm whose time it gets)
    seeds: tuple | None = None          # fewer seeds than asked, where an arm costs too much
    minutes: float | None = None        # a training-time budget: each arm's epochs from its
                                        # quiet epoch time (timed_arms)
    screen: tuple | None = None         # arms None: (the question whose finalists these are,
                                        # its chosen arm, its candidates {label: settings})
    clock: dict | None = None           # set by timed_arms: {label: quiet seconds per epoch}
    references: dict | None = None      # set by answer: {label: {split: figures}}, untrained
    factorial: tuple | None = None      # a 2 x 2: (levels of the first factor, of the second);
                                        # arm labels are "first, second"
    best: str | None = None             # with factorial: the cell asked to be the best
    spread_of: tuple | None = None      # (label, the study's own figures for that setting)


def project(**kw):
    """The project's training (AdamW, warm-up-stable-decay to 2e-3, a*b* at 1/4 of the side,
    Architecture 2, sigmoid, the conv stem, float32: what the questions were answered with) at
    BUDGET epochs, scored on validation."""
    return {"holdout": "val", "epochs": BUDGET, "widths": ARCHS[2], "head": "sigmoid",
            "optimizer": "adamw", "schedule": "wsd", "lr": 2e-3, "weight_decay": 1e-4,
            "ab_stride": 4, "stem": "conv", "precision": "float32", **kw}


CASE_1 = dict(lr=5e-3, weight_decay=1e-7, epochs=4)      # the study's 100 : 400 epochs as 4 : 16
CASE_2 = dict(lr=1e-4, weight_decay=1e-5, epochs=16)
QUESTIONS = {
    "width": Question("Architecture 1 (32..512) against Architecture 2 (8..256)",
                      {"Architecture 1": dict(widths=ARCHS[1]),
                       "Architecture 2": dict(widths=ARCHS[2])},
                      [("Architecture 1", "Architecture 2"),
                       ("Architecture 1", "Architecture 2, equal time")],
                      project(), equal_time=("Architecture 2", "Architecture 1"),
                      # Architecture 1 costs ~2.5x an epoch of 2, its equal-time arm as much
                      seeds=(0, 1)),
    "heads": Question("sigmoid against tanh", {"sigmoid": {}, "tanh": dict(head="tanh")},
                      [("sigmoid", "tanh")], project()),
    "classify": Question("classification against regression",
                         {"regression (sigmoid)": {},
                          "classify, rebalanced": dict(head="classify"),
                          "classify, not rebalanced": dict(head="classify", rebalance=False)},
                         [("regression (sigmoid)", "classify, rebalanced"),
                          ("regression (sigmoid)", "classify, not rebalanced"),
                          ("classify, rebalanced", "classify, not rebalanced")], project()),
    "cases": Question("case 1 against case 2, the project's training",
                      {"case 1": CASE_1, "case 2": CASE_2}, [("case 1", "case 2")], project()),
    "cases-long": Question("case 1 against case 2, the project's training, twice the epochs",
                           {"case 1": {**CASE_1, "epochs": 8}, "case 2": {**CASE_2, "epochs": 32}},
                           [("case 1", "case 2")], project()),
    "cases-adam": Question("case 1 against case 2, the study's constant-rate Adam",
                           {"case 1": CASE_1, "case 2": CASE_2}, [("case 1", "case 2")],
                           project(**STUDY_ADAM)),
    "regressor": Question("the regressor against the training-mean constant",
                          {"regressor": dict(model="regressor")}, [], project()),
}
# Levers of the training step (benchmarks/results/speed/levers.md) against today's settings
# at five minutes of this CPU, each arm at the epochs its quiet epoch time on the whole training
# split buys; then today's settings against the best of them at ten minutes, over the seeds.
# Batches of 128 take the rate up by sqrt(2) (AdamW's usual square-root scaling).
TODAY = "--stem conv"
STEMS = {TODAY: dict(stem="conv"), "--stem space_to_depth": dict(stem="space_to_depth"),
         "--stem space_to_depth --batch-size 128 --lr 0.0028":
             dict(stem="space_to_depth", batch_size=128, lr=2.8e-3)}
QUESTIONS["time-5min"] = Question("the training-step levers against today's settings, five "
                                  "minutes of training", STEMS,
                                  [(TODAY, k) for k in STEMS if k != TODAY], project(), minutes=5)
QUESTIONS["time-10min"] = Question("today's settings against the best lever at five minutes, "
                                   "ten minutes of training", None, None, project(), minutes=10,
                                   screen=("time-5min", TODAY, STEMS))
DEFAULT = "--stem space_to_depth"
# Issue 29's targets on the CPU a call runs on: the default at five and at ten minutes of it,
# its epochs from its quiet epoch time there (time-5min and time-10min: the AVX2 machine's)
for minutes in (5, 10):
    QUESTIONS[f"budget-{minutes}min"] = Question(
        f"the default at {minutes} minutes of the CPU it ran on",
        {DEFAULT: dict(stem="space_to_depth")}, [], project(), minutes=minutes)
# bfloat16 autocast (issue 29: chosen only where the CPU runs it natively and it wins on both
# speed and error): the default against the same with --precision bfloat16, each at the epochs
# ten minutes of the CPU the call runs on buy it (emulated, and slower, on an AVX2-only CPU)
BFLOAT16 = f"{DEFAULT} --precision bfloat16"
QUESTIONS["precision-10min"] = Question(
    "float32 against bfloat16 autocast, ten minutes of the CPU it ran on",
    {DEFAULT: dict(stem="space_to_depth"),
     BFLOAT16: dict(stem="space_to_depth", precision="bfloat16")},
    [(DEFAULT, BFLOAT16)], project(), minutes=10)
# Issue 46, a faster recipe to the same error: 0.10.0's default (its rate 2e-3 pinned, the
# question's meaning whatever today's default) against one lever each, at the epochs five
# minutes of the CPU the call runs on buy each (its cost: the quiet epoch time), scored on
# validation; the best of them against it over three seeds (recipe-confirm)
RECIPE_BEFORE = "--lr 0.002 (0.10.0's default)"
RECIPE = {RECIPE_BEFORE: {}, "--lr 0.004": dict(lr=4e-3), "--lr 0.008": dict(lr=8e-3),
          "--batch-size 32": dict(batch_size=32),
          "crop_scale 0.8,1 (a settings file)": dict(crop_scale=(0.8, 1.0))}
QUESTIONS["recipe-5min"] = Question(
    "one lever each against 0.10.0's default, five minutes of the CPU it ran on", RECIPE,
    [(RECIPE_BEFORE, k) for k in RECIPE if k != RECIPE_BEFORE], {"holdout": "val", "lr": 2e-3},
    minutes=5)
QUESTIONS["recipe-confirm"] = Question(
    "0.10.0's default against the best lever at five minutes, over the seeds", None, None,
    {"holdout": "val", "lr": 2e-3}, minutes=5, screen=("recipe-5min", RECIPE_BEFORE, RECIPE))
# The study's central claim, "Architecture 1, Case 2 is optimal", rests on its regressor's test
# MSE: the study's training (Adam at a constant rate, the conv stem, config.STUDY_CASES) at
# STUDY_FRACTION of its epochs (100 : 400 -> 10 : 40), bfloat16 autocast where the CPU computes it
# natively, scored on validation. The study's table gives its Architecture 2 "cases" as one
# setting (study-arch2) run twice: its spread is measured on five seeds of that setting.
STUDY_FRACTION = 0.1
WIDTH_LEVELS, CASE_LEVELS = ("Architecture 1", "Architecture 2"), ("case 1", "case 2")


def study_training(**kw):
    """The study's training on the regressor, scored on validation (config.STUDY_CASES)."""
    return {**PRESETS["study-case1"], "model": "regressor", "head": "sigmoid", "holdout": "val",
            "precision": "auto", **kw}


def study_cell(case, widths, fraction=STUDY_FRACTION):
    """A study case's lr and weight decay, at `fraction` of its epochs, on `widths`."""
    settings = STUDY_CASES[case]
    return {"widths": widths, "lr": settings["lr"], "weight_decay": settings["weight_decay"],
            "epochs": max(1, round(settings["epochs"] * fraction))}


TWO_BY_TWO = {f"{w}, {c}": study_cell(case, ARCHS[k])
              for k, w in zip((1, 2), WIDTH_LEVELS)
              for c, case in zip(CASE_LEVELS, ("study-case1", "study-case2"))}
BEST = "Architecture 1, case 2"
QUESTIONS["regressor-2x2"] = Question(
    "the regressor: Architecture 1 and 2 x the study's case 1 and 2", TWO_BY_TWO,
    [(BEST, k) for k in TWO_BY_TWO if k != BEST], study_training(),
    factorial=(WIDTH_LEVELS, CASE_LEVELS), best=BEST)
# The same 2 x 2 on the colorizer the study trained (sigmoid head, a*b* at the full side)
QUESTIONS["colorizer-2x2"] = Question(
    "the colorizer: Architecture 1 and 2 x the study's case 1 and 2", TWO_BY_TWO,
    [(BEST, k) for k in TWO_BY_TWO if k != BEST], study_training(model="colorizer"),
    factorial=(WIDTH_LEVELS, CASE_LEVELS), best=BEST)
ARCH2_SETTING = "the study's Architecture 2 setting"
# The study's report: its Architecture 2 "case 1" and "case 2", one setting run twice
STUDY_ARCH2_RUNS = tuple(findings.STUDY_REGRESSOR[WIDTH_LEVELS[1], c] for c in CASE_LEVELS)
QUESTIONS["study-spread"] = Question(
    "one setting's spread over seeds: the study's Architecture 2 setting on the regressor",
    {ARCH2_SETTING: study_cell("study-arch2", ARCHS[2])}, [], study_training(),
    spread_of=(ARCH2_SETTING, STUDY_ARCH2_RUNS))
PROBE_EPOCHS = 2    # each probe's epochs (the first warms up)
PROBE_ROUNDS = 2    # probes of each arm, interleaved: the quiet epoch time is the fastest epoch


def timed_arms(q, data, keep):
    """A question set in minutes, its arms at the epochs each one's quiet epoch time buys and
    labelled with them: (arms {label: settings}, pairs, clock {label: quiet s per epoch})."""
    seconds = quiet_epoch_seconds({label: Config(**{**q.base, **over})
                                   for label, over in q.arms.items()}, data, keep)
    minutes = q.minutes
    arms, label_of, clock = {}, {}, {}
    for label, over in q.arms.items():
        epochs = budget_epochs(minutes, seconds[label])
        label_of[label] = f"{label}, {epochs} epochs"
        arms[label_of[label]], clock[label_of[label]] = {**over, "epochs": epochs}, seconds[label]
    return arms, [tuple(label_of[a] for a in pair) for pair in q.pairs], clock


def budget_epochs(minutes, epoch_s):
    """The whole epochs that fit in `minutes` at `epoch_s` seconds each (at least one; a
    budget of exactly N epochs is N, whatever the rounding of minutes * 60)."""
    return max(1, math.floor(60 * minutes / epoch_s + 1e-9))


# Settings that change what an epoch learns, not what it costs: arms that differ only in these
# share one probe, so that a neighbour's load on one probe cannot give them unequal epochs
COSTLESS = ("lr", "weight_decay", "crop_scale", "crop_ratio", "flip")


def work(cfg):
    """An arm's per-epoch work, named by its options but the COSTLESS ones (probe.json's key)."""
    default = Config()
    return options(replace(cfg, holdout="test", epochs=1, seed=0,
                           **{k: getattr(default, k) for k in COSTLESS}))


def quiet_epoch_seconds(configs, data, keep):
    """{label: the fastest epoch of its Config trained on the whole training split (the run a
    chosen configuration becomes)}, the machine otherwise idle: PROBE_ROUNDS probes of
    PROBE_EPOCHS epochs each of every work among the arms (work: arms of the same per-epoch
    cost share their probes), the works interleaved (the order reversed every other round), so
    that a neighbour's load on a shared host slows one probe of a work, not the whole work.
    Kept in `keep`/probe.json by work, so that a resumed call trains the same epochs (a work
    timed before is not timed again)."""
    path = Path(keep) / "probe.json"
    probes = json.loads(path.read_text()) if path.is_file() else {}
    probe = {}                                          # each work probed as its first arm
    for cfg in configs.values():
        probe.setdefault(work(cfg), replace(cfg, holdout="test", epochs=PROBE_EPOCHS, seed=0))
    todo = [key for key in probe if key not in probes]
    seconds = {key: [] for key in todo}
    for r in range(PROBE_ROUNDS if todo else 0):
        for key in todo if r % 2 == 0 else todo[::-1]:
            print(f"timing {PROBE_EPOCHS} epochs of {key} (probe {r + 1} of {PROBE_ROUNDS}) ...",
                  flush=True)
            seconds[key] += fit(probe[key], data=data, report=QUIET).history["seconds"]
    for key in todo:
        probes[key] = {"seconds": seconds[key], "epoch_s": min(seconds[key]),
                       "machine": machine()}
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(probes, indent=1) + "\n")
    return {label: probes[work(cfg)]["epoch_s"] for label, cfg in configs.items()}


def finalists(screened, chosen, candidates):
    """The chosen arm and the screen's alternative with the lowest mean validation error:
    ({label: settings}, [the pair]), labelled as `candidates` label them (a timed screen's
    labels add the epochs: '--stem conv, 28 epochs' is the candidate '--stem conv'); an arm
    whose lever has left the code since (no candidate) is not one."""
    def candidate(label):
        return next((k for k in candidates if label == k or label.startswith(k + ", ")), None)

    arms = {candidate(label): arm for label, arm in screened["arms"].items() if candidate(label)}
    best = min((k for k in arms if k != chosen),
               key=lambda k: statistics.mean(findings.at(arms[k]["runs"], "val", "ab_mse")))
    return {chosen: candidates[chosen], best: candidates[best]}, [(chosen, best)]


def options(cfg, reference=None):
    """`cfg` as the `train` options that differ from `reference` (a Config; None: the defaults
    of the commit that ran it, which the page names): e.g. '--widths 32,64,... --epochs 6'."""
    return option_words(cfg, reference or Config())


def run_folder(keep, cfg):
    """A run's folder under `keep`: named by its model, head and a hash of its settings."""
    settings = {k: v for k, v in cfg.to_dict().items() if k not in PLACE_SETTINGS}
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return f"{keep}/{cfg.model}-{cfg.head}-{digest}-seed{cfg.seed}"


def train_arm(cfg, seeds, data, keep):
    """One record per seed: validation and test figures, the epoch curve, seconds per epoch;
    classify runs decoded at each temperature too."""
    records = []
    for seed in seeds:
        c = replace(cfg, seed=seed)
        run = runs.fit_or_reuse(c, run_folder(keep, c), data, log=None)
        rec = {"seed": seed, "config": c.to_dict(), "val": _figures(run.metrics),
               "test": _figures(run.metrics["test"]), "history": run.history,
               "seconds_per_epoch": statistics.median(run.history["seconds"]),
               "n_train": len(run.train), "n_val": len(run.scored), "n_test": len(run.test),
               "baselines_val": _baselines(run.metrics),
               "baselines_test": _baselines(run.metrics["test"])}
        if c.head == "classify":
            rec["temperatures"] = {str(t): {"val": _figures(m), "test": _figures(m["test"])}
                                   for t, m in runs.temperature_sweep(run).items()}
        print(f"  seed {seed}: val {_headline(rec['val'])}, test {_headline(rec['test'])} "
              f"({rec['seconds_per_epoch']:.1f} s/epoch)", flush=True)
        records.append(rec)
    return records


def _figures(m):
    return {k: v for k, v in m.items() if isinstance(v, float)}


def _baselines(m):
    return {name: _figures(b) for name, b in m["baselines"].items()}


def _headline(figs):
    key = "ab_mse" if "ab_mse" in figs else "mean_ab_mse"
    return f"{figs[key]:.2f}"


def answer(name, seeds, data, keep):
    """Train (or reuse) every arm of question `name`: (the Question, {label: Config},
    {label: records})."""
    q = QUESTIONS[name]
    if q.arms is None:                  # the finalists of the screen
        screen, chosen, candidates = q.screen
        over, pairs = finalists(findings.load(screen), chosen, candidates)
        q = replace(q, arms=over, pairs=pairs)
    if q.minutes:
        over, pairs, clock = timed_arms(q, data, keep)
        q = replace(q, arms=over, pairs=pairs, clock=clock)
    seeds = [s for s in seeds if s in q.seeds] if q.seeds else seeds
    arms = {label: Config(**{**q.base, **over}) for label, over in q.arms.items()}
    records = {}
    for label, cfg in arms.items():
        print(f"{label}: {options(cfg)}", flush=True)
        records[label] = train_arm(cfg, seeds, data, keep)
    if q.equal_time:
        stretch, to = q.equal_time
        label, cfg = equal_time_arm(stretch, arms[stretch], records[stretch], to, records[to])
        print(f"{label}: {options(cfg)}", flush=True)
        arms[label], records[label] = cfg, train_arm(cfg, seeds, data, keep)
    return q, arms, records


def equal_time_arm(stretch, cfg, mine, to, theirs):
    """`stretch` given the epochs that take as long as `to`'s run, from the median measured
    seconds per epoch of each."""
    mine_s = statistics.mean(r["seconds_per_epoch"] for r in mine)
    their_s = statistics.mean(r["seconds_per_epoch"] * r["config"]["epochs"] for r in theirs)
    return f"{stretch}, equal time", replace(cfg, epochs=max(1, round(their_s / mine_s)))


def arm_rows(result):
    """One table row per arm (a classify arm at the temperature validation chose, and at
    Zhang et al.'s), then the baselines."""
    rows = []
    for label, arm in result["arms"].items():
        runs, model = arm["runs"], arm["config"]["model"]
        chosen = findings.temperature_of(arm)
        for t in sorted({chosen, findings.ZHANG_T}, key=float) if chosen else [None]:
            row = {"arm": f"{label}, T = {t}" if t else label, "epochs": arm["config"]["epochs"],
                   "seeds": len(runs),
                   "s/epoch": f"{statistics.mean(r['seconds_per_epoch'] for r in runs):.1f}"}
            if "quiet_epoch_s" in arm:                  # a timed question: the budget's clock
                row["quiet s/epoch"] = f"{arm['quiet_epoch_s']:.1f}"
            for key, _ in findings.MEASURES[model]:
                for split in findings.SPLITS:
                    row[f"{split} {key}"] = _mean_sd(findings.at(runs, split, key, t))
            if model == "colorizer":
                row["test psnr"] = _mean_sd(findings.at(runs, "test", "psnr", t))
            rows.append(row)
    base = result["baselines"]
    return rows + [{"arm": f"baseline: {b}", **{f"{s} {k}": f"{v:.2f}" for s in base
                                                for k, v in base[s][b].items()}}
                   for b in base["val"]]


def _mean_sd(values):
    m, sd = mean_sd(values)
    return f"{m:.2f}" if len(values) == 1 else f"{m:.2f} ± {sd:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("questions", nargs="*", metavar="QUESTION", type=_question,
                   help=f"any of {', '.join(QUESTIONS)}")
    p.add_argument("--answers", action="store_true", help="then write study_answers.md: the "
                   "study's claims beside the committed answers (research.findings)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--keep", default="runs/study")
    p.add_argument("--data")
    args = p.parse_args(argv)
    data = load_images(args.data) if args.questions else None
    for name in args.questions:
        write_answer(name, args, data, argv)
    if args.answers:
        write_answers()


def _question(name):
    """An argparse type: one of QUESTIONS."""
    if name not in QUESTIONS:
        raise argparse.ArgumentTypeError(f"unknown question {name!r}: choose from "
                                         f"{', '.join(QUESTIONS)}")
    return name


def write_answers():
    """study_answers.md (the claims beside the answers) and each question's validation curves
    as docs/study_NAME.png, from the committed result files."""
    answer = "\n\n".join([findings.conclusion(), "**Classification or regression?** "
                           + findings.classify_answer()])
    print(findings.claims_table(), answer, sep="\n\n")
    result_path("study_answers", ".md").write_text(findings.claims_table() + "\n")
    result_path("study_conclusion", ".md").write_text(answer + "\n")
    result_path("study_short", ".md").write_text(findings.short_answer() + "\n")   # the README's
    for name in QUESTIONS:
        if result_path(f"study_{name}").is_file():
            plot_study_curves(findings.load(name)).savefig(DOCS / f"study_{name}.png", dpi=90)


def write_answer(name, args, data, argv):
    """Answer one question and write benchmarks/results/KIND/study_NAME.{md,json}."""
    q, arms, records = answer(name, args.seeds, data, args.keep)
    first = next(iter(records.values()))[0]
    shared = shared_settings(q.base, arms)
    seeds = [r["seed"] for r in next(iter(records.values()))]
    result = {"question": name, "title": q.title, "machine": machine(), "seeds": seeds,
              "shared_options": options(shared),
              "arms": {label: {"options": options(cfg, shared), "config": cfg.to_dict(),
                               "runs": records[label],
                               **({"quiet_epoch_s": q.clock[label]} if q.clock else {})}
                       for label, cfg in arms.items()},
              # the same for every arm: the same images, the same training split
              "baselines": {split: first[f"baselines_{split}"] for split in findings.SPLITS},
              **({"references": q.references} if q.references else {})}
    result["verdicts"] = findings.question_verdicts(result, q.pairs)
    if q.factorial:
        result["two_way"] = factorial_verdicts(result, q.factorial, q.best)
    if q.spread_of:
        label, theirs = q.spread_of
        result["spread"] = {"arm": label, "study": list(theirs)}
    text = markdown(result, first, command("benchmarks.study", argv))
    print(text)
    write_result(f"study_{name}", result, text)


def factorial_verdicts(result, factorial, best):
    """{split: {effects: [...], best: {...}}}: the 2 x 2's main effects and interaction
    (research.verdict.two_way) and whether `best` beats each other cell, on each split."""
    out = {}
    for split in findings.SPLITS:
        key = findings.MEASURES[next(iter(result["arms"].values()))["config"]["model"]][0][0]
        cells = {(a, b): findings.at(result["arms"][f"{a}, {b}"]["runs"], split, key)
                 for a in factorial[0] for b in factorial[1]}
        baselines = findings.constants(result["baselines"][split], key)
        kind, verdicts = best_cell(cells, baselines, tuple(best.split(", ")), unit="")
        out[split] = {"effects": [vars(e) for e in two_way(cells, baselines, unit="")],
                      "best": {"cell": best, "kind": kind, "texts": [v.text for v in verdicts]}}
    return out


def shared_settings(base, arms):
    """The Config every arm shares: the question's base, less the epochs where no arm trains
    them (a timed question's arms each set their own), which then show as no shared option."""
    shared = Config(**base)
    if all(cfg.epochs != shared.epochs for cfg in arms.values()):
        shared = replace(shared, epochs=Config().epochs)    # options() omits them
    return shared


QUIET_NOTE = (" of the run (on the training split less validation); quiet s/epoch: the fastest of "
         f"{PROBE_ROUNDS} x {PROBE_EPOCHS} epochs on the whole training split, the arms' probes "
         "interleaved, timed alone, which set the epochs (the budget over it)")


def markdown(result, first, cmd):
    """The result as its page: the budget, the options, the table, the verdicts."""
    m, arms = result["machine"], result["arms"]
    model = next(iter(arms.values()))["config"]["model"]
    budget = "; ".join(f"{label}: {a['config']['epochs']} epochs" for label, a in arms.items())
    md = [f"**{result['title']}** ({budget}; seeds {', '.join(map(str, result['seeds']))}; "
          f"{first['n_train']} training, {first['n_val']} validation, {first['n_test']} test "
          f"images). Shared options: `train {result['shared_options']}`. {m['date']}, "
          f"{m['cores']} cores ({m['cpu']}), torch {m['torch']}, commit {m.get('commit')}, "
          f"one run at a time; s/epoch: "
          f"the median epoch"
          f"{QUIET_NOTE if any('quiet_epoch_s' in a for a in arms.values()) else ''}"
          f"; `{cmd}`", "", "| arm | its options |", "|---|---|"]
    md += [f"| {label} | `{a['options'] or '(the shared options)'}` |" for label, a in arms.items()]
    rows = arm_rows(result)
    timed = ["quiet s/epoch"] if "quiet s/epoch" in rows[0] else []
    columns = ["arm", "epochs", "seeds", "s/epoch", *timed] + [
        f"{s} {k}" for k, _ in findings.MEASURES[model] for s in findings.SPLITS]
    if model == "colorizer":
        columns.append("test psnr")
    md += ["", markdown_table(rows, columns, numeric_right=True), ""]
    on_test = {(tuple(v["arms"]), v["measure"]): v for v in result["verdicts"]
               if v["split"] == "test"}
    md += [f"- {v['measure']}, validation: {v['text']}. Test: "
           f"{findings.short(on_test[tuple(v['arms']), v['measure']])}"
           for v in result["verdicts"] if v["split"] == "val"]
    md += [f"- {label}: validation {figs['val']['ab_mse']:.2f}, test {figs['test']['ab_mse']:.2f} "
           f"units² ({figs['test']['psnr']:.2f} dB)"
           for label, figs in result.get("references", {}).items()]
    for split, name in (("val", "Validation"), ("test", "Test")):
        two = result.get("two_way", {}).get(split)
        if two:
            md += [f"- {name}, two-way: " + "; ".join(e["text"] for e in two["effects"]),
                   f"- {name}: is {two['best']['cell']} the best of the four? "
                   f"**{two['best']['kind']}** ({'; '.join(two['best']['texts'])})"]
    if "spread" in result:
        md += spread_lines(result)
    if not result["verdicts"]:
        md += [f"- {label} clearly past the training-mean constant (every seed {CLEAR:.0%} "
               f"below it), **{split}**: {'yes' if findings.past(result, label, split) else 'no'}"
               for label in arms for split in findings.SPLITS]
    return "\n".join(md)


def spread_lines(result):
    """One setting's figures seed by seed, their range and standard deviation, beside the
    study's own runs of that setting."""
    spread = result["spread"]
    runs = result["arms"][spread["arm"]]["runs"]
    key = findings.MEASURES[runs[0]["config"]["model"]][0][0]
    lines = []
    for split in findings.SPLITS:
        values = findings.at(runs, split, key)
        m, sd = mean_sd(values)
        lines.append(f"- {spread['arm']}, {split}, seed by seed: "
                     + ", ".join(f"{v:.2f}" for v in values)
                     + f" (range {max(values) - min(values):.2f}, sd {sd:.2f} units²)")
    theirs = spread["study"]
    lines.append(f"- the study's two runs of this setting: {theirs[0]:.2f} and {theirs[1]:.2f} "
                 f"units² (range {abs(theirs[1] - theirs[0]):.2f}), on its own split and epochs")
    return lines


if __name__ == "__main__":
    main()
