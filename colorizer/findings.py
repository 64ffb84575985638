"""The study's questions answered from the committed result files (benchmarks.study): verdicts,
the claim-by-claim table, and the answer to "classification or regression?".

One code path for every page: benchmarks.study writes its verdicts with `question_verdicts`, and
the notebook, docs/results.md and the README show `claims_table` and `classify_answer` of the
same files, so no two pages can disagree.
"""

import json
import statistics
from pathlib import Path

from .verdict import BETTER, compare, mean_sd, past_baselines

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SPLITS = ("val", "test")
# What a verdict is decided on: the headline error first (convergence is judged on it), then,
# for comparisons with a classify arm, vividness: the per-image colourfulness gap to the truth.
MEASURES = {"colorizer": [("ab_mse", "ab MSE (units²)"),
                          ("colourfulness_gap", "colourfulness gap to the truth")],
            "regressor": [("mean_ab_mse", "MSE of the mean a*b* (units²)")]}
# The study reports its regressor's test MSE as 0.000113 on the sigmoid scale (ab + 128) / 255:
# times 255² that is 7.35 raw units², on its own split (a guide, not a like-for-like figure).
STUDY_REGRESSOR = 0.000113 * 255**2
ZHANG_T = "0.38"      # Zhang et al.'s annealed-mean temperature, reported beside the chosen one


def load(name, results=RESULTS):
    """The result of question `name` (benchmarks/results/study_NAME.json)."""
    return json.loads((Path(results) / f"study_{name}.json").read_text())


def page(name, results=RESULTS):
    """The result of question `name` as its committed page (benchmarks/results/study_NAME.md)."""
    return (Path(results) / f"study_{name}.md").read_text()


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
    return "\n".join([*rows, regressor_row(results)])


def regressor_row(results=RESULTS):
    """The claims table's row for the regressor: the study's own figure beside ours."""
    claim = "| The regressor's error (MSE of the mean a\\*b\\*) |"
    try:
        r = load("regressor", results)
    except FileNotFoundError:
        return f"{claim} {STUDY_REGRESSOR:.2f} | not measured yet | - | - |"
    verdicts = ["past the constant" if past(r, "regressor", split) else "not past the constant"
                for split in SPLITS]
    const = {s: r["baselines"][s]["train_mean"]["mean_ab_mse"] for s in SPLITS}
    ours = f"regressor {figure(r, 'regressor')} ({figure(r, 'regressor', 'test')})"
    return (f"{claim} {STUDY_REGRESSOR:.2f} (its own split) | {ours}; the training-mean "
            f"constant {const['val']:.2f} ({const['test']:.2f}) | {verdicts[0]} | {verdicts[1]} |")


def conclusion(results=RESULTS):
    """Whether the study's "Architecture 1, Case 2" holds, from the width and cases verdicts."""
    parts, holds = [], []
    for name, (a, b), wanted in (("width", ("Architecture 1", "Architecture 2"), "Architecture 1"),
                                 ("cases-long", ("case 1", "case 2"), "case 2"),
                                 ("cases-adam", ("case 1", "case 2"), "case 2")):
        try:
            v = verdict_of(load(name, results), a, b)
        except FileNotFoundError:
            return "The study's conclusion has not been measured yet."
        holds.append(v["winner"] == wanted if v["kind"] == BETTER else None)
        parts.append(f"{name}: {short(v)}")
    if all(holds):
        word = "holds"
    elif any(h is False for h in holds):
        word = "does not hold"
    else:
        word = "cannot be decided at this budget"
    return (f"**Does \"Architecture 1, Case 2\" hold?** On validation it {word} "
            f"({'; '.join(parts)}).")


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
