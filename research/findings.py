"""The study's questions answered from the committed result files (benchmarks.study): verdicts,
the claim-by-claim table, and the answer to "classification or regression?".

One code path for every page: benchmarks.study writes its verdicts with `question_verdicts`, and
the notebook, docs/results.md and the README show `claims_table` and `classify_answer` of the
same files, so no two pages can disagree.
"""

import json
import statistics
from pathlib import Path

from colorizer.quantize import TEMPERATURE

from .results import RESULTS, kind_of
from .verdict import BETTER, compare, mean_sd, past_baselines

SPLITS = ("val", "test")
# What a verdict is decided on: the headline error first (convergence is judged on it), then,
# for comparisons with a classify arm, vividness: the per-image colourfulness gap to the truth.
MEASURES = {"colorizer": [("ab_mse", "ab MSE (units²)"),
                          ("colourfulness_gap", "colourfulness gap to the truth")],
            "regressor": [("mean_ab_mse", "MSE of the mean a*b* (units²)")]}
# The study's report prints its regressor's test MSE ("..Regressor testing started.. MSE:") on the
# sigmoid scale (ab + 128) / 255 for each architecture and case; times 255² in raw units², on its
# own split. Its table gives Architecture 2's two "cases" one setting (50 epochs, lr 5e-3, wd 1e-7):
# their two figures are one setting run twice.
STUDY_REGRESSOR_MSE = {("Architecture 1", "case 1"): 0.00015243,
                       ("Architecture 1", "case 2"): 0.00011347,
                       ("Architecture 2", "case 1"): 0.00015548,
                       ("Architecture 2", "case 2"): 0.00021356}
STUDY_REGRESSOR = {cell: mse * 255**2 for cell, mse in STUDY_REGRESSOR_MSE.items()}
STUDY_BEST = ("Architecture 1", "case 2")      # "the optimal hyperparameter and architecture"
ZHANG_T = str(TEMPERATURE)      # Zhang et al.'s annealed mean, reported beside the chosen one


def load(name, results=RESULTS):
    """The result of question `name` (benchmarks/results/KIND/study_NAME.json)."""
    return json.loads(_path(name, results, ".json").read_text())


def page(name, results=RESULTS):
    """The result of question `name` as its committed page (results/KIND/study_NAME.md)."""
    return _path(name, results, ".md").read_text()


def load_result(name, results=RESULTS):
    """Any committed result by its name (benchmarks/results/KIND/NAME.json)."""
    return json.loads((Path(results) / kind_of(name) / f"{name}.json").read_text())


def result_page(name, results=RESULTS):
    """Any committed result's page by its name (benchmarks/results/KIND/NAME.md)."""
    return (Path(results) / kind_of(name) / f"{name}.md").read_text()


def _path(name, results, suffix):
    return Path(results) / kind_of(f"study_{name}") / f"study_{name}{suffix}"


def at(runs, split, key, temperature=None):
    """Per-seed values of `key` on `split`, decoded at `temperature` for a classify arm."""
    if temperature is None:
        return [r[split][key] for r in runs]
    return [r["temperatures"][temperature][split][key] for r in runs]


def best_temperature(runs):
    """The annealed-mean temperature with the lowest mean validation ab MSE over seeds (chosen
    on validation, never on test)."""
    temps = runs[0]["temperatures"]
    return min(temps, key=lambda t: statistics.mean(at(runs, "val", "ab_mse", t)))


def temperature_of(arm):
    """The temperature a classify arm is judged at (chosen on validation); None otherwise."""
    return best_temperature(arm["runs"]) if "temperatures" in arm["runs"][0] else None


def constants(baselines, key):
    """The constants a run must leave behind: the training mean and, for a colorizer, the oracle
    that paints each image its own mean a*b* (gray is far worse than both)."""
    return {n: m[key] for n, m in baselines.items() if n != "gray" and key in m}


def question_verdicts(result, pairs):
    """[{arms, measure, split, kind, winner, text}] for each pair of arms of a result, on
    validation and on test, by colorizer.verdict.compare."""
    out = []
    for a, b in pairs:
        arms = {name: result["arms"][name] for name in (a, b)}
        model = arms[a]["config"]["model"]
        error = MEASURES[model][0][0]
        for key, what in MEASURES[model]:
            if key != error and not any(temperature_of(arm) for arm in arms.values()):
                continue
            for split in SPLITS:
                values = {k: {n: at(arm["runs"], split, k, temperature_of(arm))
                              for n, arm in arms.items()} for k in (error, key)}
                v = compare(values[error], constants(result["baselines"][split], error),
                            unit="", measure=values[key])
                out.append({"arms": [a, b], "measure": what, "split": split, "kind": v.kind,
                            "winner": v.winner, "text": v.text, "diff": v.diff, "se": v.se})
    return out


def figure(result, arm, split="val", key=None):
    """'9.52 ± 0.48' of an arm on a split (its headline error unless `key`)."""
    runs = result["arms"][arm]["runs"]
    key = key or MEASURES[runs[0]["config"]["model"]][0][0]
    values = at(runs, split, key, temperature_of(result["arms"][arm]))
    m, sd = mean_sd(values)
    return f"{m:.2f}" if len(values) == 1 else f"{m:.2f} ± {sd:.2f}"


def verdict_of(result, a, b, split="val", measure=None):
    """The stored verdict on arms a, b (the error's unless `measure`)."""
    for v in result["verdicts"]:
        if v["arms"] == [a, b] and v["split"] == split and (
                measure is None and v["measure"] == result["verdicts"][0]["measure"]
                or v["measure"] == measure):
            return v
    raise KeyError((a, b, split, measure))


# The study's conclusions, claim by claim: (claim, the study's own figure, question, arms).
CLAIMS = [
    ("Architecture 1 (32..512) beats Architecture 2 (8..256), at equal epochs",
     "chosen as optimal", "width", ("Architecture 1", "Architecture 2")),
    ("... and at equal training time", "(not measured)", "width",
     ("Architecture 1", "Architecture 2, equal time")),
    ("Case 2 (lr 1e-4, wd 1e-5, 4x the epochs) beats case 1 (lr 5e-3, wd 1e-7), "
     "the project's training", "chosen as optimal", "cases-long", ("case 1", "case 2")),
    ("... under the study's constant-rate Adam", "chosen as optimal", "cases-adam",
     ("case 1", "case 2")),
    ("sigmoid against tanh", "(both shown)", "heads", ("sigmoid", "tanh")),
    ("Regression is the safe choice: lower error than classification (rebalanced)", "essay",
     "classify", ("regression (sigmoid)", "classify, rebalanced")),
    ("... than classification without rebalancing", "essay", "classify",
     ("regression (sigmoid)", "classify, not rebalanced")),
]


def claims_table(results=RESULTS):
    """The study's conclusions beside the measured answers (markdown): for each claim the arms'
    validation and test figures and the verdict on each split."""
    rows = ["| claim | the study | arms (val; test, units²) | verdict on validation | on test |",
            "|---|---|---|---|---|"]
    for claim, theirs, name, (a, b) in CLAIMS:
        try:
            r = load(name, results)
        except FileNotFoundError:
            rows.append(f"| {claim} | {theirs} | not measured yet | - | - |")
            continue
        figs = "; ".join(f"{arm} {figure(r, arm)} ({figure(r, arm, 'test')})" for arm in (a, b))
        rows.append(f"| {claim} | {theirs} | {figs} | {short(verdict_of(r, a, b))} | "
                    f"{short(verdict_of(r, a, b, 'test'))} |")
    return "\n".join([*rows, *regressor_rows(results)])


def regressor_rows(results=RESULTS):
    """The claims table's rows for the study's central claim, where it made it (the regressor):
    each cell's figure beside the study's, then the two-way verdict and the best cell."""
    claim = "Architecture 1, case 2 is the best of the four (the study's regressor test MSE)"
    try:
        r = load("regressor-2x2", results)
    except FileNotFoundError:
        return [f"| {claim} | {_study_cells()} | not measured yet | - | - |"]
    cells = "; ".join(f"{arm} {figure(r, arm)} ({figure(r, arm, 'test')})" for arm in r["arms"])
    best = {split: r["two_way"][split]["best"]["kind"] for split in SPLITS}
    rows = [f"| {claim} | {_study_cells()} | {cells} | {_best_word(best['val'])} | "
            f"{_best_word(best['test'])} |"]
    for k, name in enumerate(("width (Architecture 2 against 1)", "case (2 against 1)",
                              "width x case interaction")):
        effects = [r["two_way"][split]["effects"][k] for split in SPLITS]
        rows.append(f"| ... the regressor's {name} | see the study's four | "
                    f"{effects[0]['estimate']:+.2f} ± {effects[0]['se']:.2f} "
                    f"({effects[1]['estimate']:+.2f} ± {effects[1]['se']:.2f}) | "
                    f"{effects[0]['kind']} | {effects[1]['kind']} |")
    return rows


def _study_cells():
    return "; ".join(f"{a[-1]}{c[-1]} {v:.2f}" for (a, c), v in STUDY_REGRESSOR.items())


def _best_word(kind):
    return {"better": "**holds**: better than each other cell", "worse": "**does not hold**: "
            "another cell is better"}.get(kind, kind)


def study_spread(results=RESULTS):
    """(the study's two runs of one setting, the range, the range of our seeds of it on test,
    their sd): its Architecture 2 "cases", one setting run twice."""
    r = load("study-spread", results)
    runs = next(iter(r["arms"].values()))["runs"]
    values = at(runs, "test", "mean_ab_mse")
    theirs = r["spread"]["study"]
    return theirs, abs(theirs[1] - theirs[0]), max(values) - min(values), mean_sd(values)[1]


def conclusion(results=RESULTS):
    """Whether the study's "Architecture 1, Case 2" holds where the study made it (the
    regressor's 2 x 2): the best cell against each other one, the main effects and their
    interaction, on validation; then the study's own spread beside the gap it rests on."""
    try:
        r = load("regressor-2x2", results)
    except FileNotFoundError:
        return "The study's conclusion has not been measured on its regressor yet."
    best, theirs = _cell_label(STUDY_BEST), sorted(STUDY_REGRESSOR.values())
    gap = theirs[1] - STUDY_REGRESSOR[STUDY_BEST]
    word = {"better": "holds", "worse": "does not hold"}.get(
        r["two_way"]["val"]["best"]["kind"], "is not borne out")
    lines = [f"**Does \"Architecture 1, Case 2\" hold?** The study chose it from its regressor's "
             f"test MSE: {STUDY_REGRESSOR[STUDY_BEST]:.2f} units² against {theirs[1]:.2f} for the "
             f"next best, a gap of {gap:.2f}. On the regressor, at a tenth of the study's epochs "
             f"({_epochs_by_case(r)}) and {len(r['seeds'])} seeds a cell, on validation, it "
             f"{word}: {best} ({figure(r, best)}) "
             + "; ".join(_against(r, best, other) for other in r["arms"] if other != best) + ".",
             _effects_sentence(r)]
    try:
        their_pair, their_range, our_range, sd = study_spread(results)
        spread = load("study-spread", results)
        arm = next(iter(spread["arms"]))
        runs = spread["arms"][arm]["runs"]
        caveat = ("" if past(spread, arm, "test") else ", none of them past the training-mean "
                  "constant")
        lines.append(f"The study's two runs of its one Architecture 2 setting differ by "
                     f"{their_range:.2f} units² ({their_pair[0]:.2f} and {their_pair[1]:.2f}), "
                     f"{'more' if their_range > gap else 'less'} than the {gap:.2f} its "
                     f"conclusion rests on; {len(runs)} seeds of that setting here, "
                     f"{runs[0]['config']['epochs']} epochs each{caveat}, span "
                     f"{our_range:.2f} on test (sd {sd:.2f}).")
    except FileNotFoundError:
        pass
    return " ".join(lines)


def short_answer(results=RESULTS):
    """The study's two answers in plain words for the README (about 100), every figure from a
    result file, every term defined; the whole answers are study_conclusion's page."""
    r, c = load("regressor-2x2", results), load("classify", results)
    best = _cell_label(STUDY_BEST)
    theirs = sorted(STUDY_REGRESSOR.values())
    ties = [o for o in r["arms"] if o != best and verdict_of(r, best, o)["kind"] != BETTER]
    beaten_by = [o for o in r["arms"] if o != best
                 and verdict_of(r, best, o).get("winner") == o]
    word = ("No" if beaten_by else "Not shown" if ties else "Yes")
    rival = (beaten_by or ties or [None])[0]
    arms = {"regression": "regression (sigmoid)", "classification, rebalanced":
            "classify, rebalanced", "classification without rebalancing":
            "classify, not rebalanced"}
    val = {k: mean_sd(at(c["arms"][a]["runs"], "val", "ab_mse",
                         temperature_of(c["arms"][a])))[0] for k, a in arms.items()}
    gap = {k: mean_sd(at(c["arms"][a]["runs"], "val", "colourfulness_gap",
                         temperature_of(c["arms"][a])))[0] for k, a in arms.items()}
    accurate, vivid = min(val, key=val.get), min(gap, key=gap.get)
    text = (f"**Does \"Architecture 1, Case 2\" hold?** {word}. The study picked it (case 1: "
            f"100 epochs at lr 5e-3; case 2: 400 at 1e-4) from one run a cell of its regressor, "
            f"which predicts an image's mean colour: {theirs[0]:.2f} against {theirs[1]:.2f} "
            rf"units² (squared CIELAB a\*b\* error).")
    if rival:
        how = "loses to" if beaten_by else "cannot be told from"
        text += (f" Run {len(r['seeds'])} times a cell here, it {how} {rival} on validation "
                 f"({figure(r, best)} against {figure(r, rival)}).")
    return (text + f" **Classification or regression?** On validation, {accurate} has the "
            f"lowest error ({val[accurate]:.2f} units² against {val['regression']:.2f} for "
            f"regression) and {vivid} the vividness closest to the truth's. Everything else: "
            "[the answers in full](benchmarks/results/study/study_conclusion.md).")


def _against(r, best, other):
    """'beats X (figure)', 'loses to X', or 'cannot be told from X' by the stored verdict."""
    v = verdict_of(r, best, other)
    if v["kind"] != BETTER:
        return f"cannot be told from {other} ({figure(r, other)}: {v['kind']})"
    return f"{'beats' if v['winner'] == best else 'loses to'} {other} ({figure(r, other)})"


def _effects_sentence(r):
    """The main effects and the interaction on validation, and what keeps them undecided."""
    width, case, inter = r["two_way"]["val"]["effects"]
    stuck = [k for k in r["arms"] if not past(r, k, "val")]
    text = (f"Averaged over the other factor, case 2 changes the error by "
            f"{case['estimate']:+.2f} ± {case['se']:.2f} units² and Architecture 2 (against 1) "
            f"by {width['estimate']:+.2f} ± {width['se']:.2f}; their interaction (what case 2 "
            f"does at Architecture 2 minus at Architecture 1) is {inter['estimate']:+.2f} ± "
            f"{inter['se']:.2f}")
    if stuck:
        text += (f": none decided by the rule while {' and '.join(stuck)} "
                 f"{'is' if len(stuck) == 1 else 'are'} not past the training-mean constant")
    else:
        text += f" (width: {width['kind']}; case: {case['kind']}; interaction: {inter['kind']})"
    return (text + f" ({_constant(r, 'val'):.2f} on validation, {_constant(r, 'test'):.2f} on "
            "test; the study reports no such baseline).")


def _epochs_by_case(result):
    """'10 epochs for case 1, 40 for case 2': what each case's cells of the 2 x 2 ran."""
    epochs = {cell.split(", ")[1]: arm["config"]["epochs"] for cell, arm in result["arms"].items()}
    first, *rest = sorted(epochs.items())
    return ", ".join([f"{first[1]} epochs for {first[0]}", *(f"{e} for {c}" for c, e in rest)])


def _constant(result, split):
    return result["baselines"][split]["train_mean"]["mean_ab_mse"]


def _cell_label(cell):
    return ", ".join(cell)


def short(v):
    """A verdict in a few words: '**A** better', 'cannot tell', 'not converged'."""
    return f"**{v['winner']}** better" if v["kind"] == BETTER else v["kind"]


def classify_answer(results=RESULTS):
    """The written answer to "classification or regression?", each sentence from a figure of
    the classify question's result file."""
    r = load("classify", results)
    reg, reb, plain = "regression (sigmoid)", "classify, rebalanced", "classify, not rebalanced"
    gap = "colourfulness gap to the truth"
    t_reb, t_plain = (temperature_of(r["arms"][n]) for n in (reb, plain))
    err = [verdict_of(r, reg, n) for n in (reb, plain)]
    viv = [verdict_of(r, reg, n, measure=gap) for n in (reb, plain)]
    lines = [
        f"On validation after {r['arms'][reg]['config']['epochs']} epochs, regression (the "
        f"sigmoid head) reaches {figure(r, reg)} units² of ab MSE; classification reaches "
        f"{figure(r, reb)} rebalanced (decoded at T = {t_reb}, the temperature validation "
        f"chose) and {figure(r, plain)} without rebalancing (T = {t_plain}).",
        f"For accuracy: {_sentence(err[0])}; {_sentence(err[1])}.",
        f"For vividness (the per-image gap between predicted and true colourfulness, lower is "
        f"closer): regression {figure(r, reg, key='colourfulness_gap')}, rebalanced "
        f"{figure(r, reb, key='colourfulness_gap')}, not rebalanced "
        f"{figure(r, plain, key='colourfulness_gap')}: {_sentence(viv[0])}; "
        f"{_sentence(viv[1])}.",
        f"The test split, scored once, gives {figure(r, reg, 'test')}, {figure(r, reb, 'test')} "
        f"and {figure(r, plain, 'test')} units² ({short(verdict_of(r, reg, reb, 'test'))}, "
        f"{short(verdict_of(r, reg, plain, 'test'))}).",
    ]
    return " ".join(lines)


def _sentence(v):
    """A verdict as a clause: 'A beats B by 1.20 ± 0.30' or 'A against B: cannot tell'."""
    a, b = v["arms"]
    if v["kind"] != BETTER:
        return f"{a} against {b}: {v['kind']}"
    loser = b if v["winner"] == a else a
    if v["se"] is None:
        return f"{v['winner']} beats {loser}, which is still at the baselines"
    return f"{v['winner']} beats {loser} by {v['diff']:.2f} ± {v['se']:.2f}"


def past(result, arm, split="val"):
    """Whether every seed of `arm` is clearly past the constants (colorizer.verdict)."""
    runs = result["arms"][arm]["runs"]
    key = MEASURES[runs[0]["config"]["model"]][0][0]
    return past_baselines(at(runs, split, key), constants(result["baselines"][split], key))
