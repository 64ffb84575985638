"""Verdicts from figures over training seeds: "A better than B" only where the numbers carry it.

The one place where the notebook, docs/results.md and the README decide a comparison, so no two
pages can disagree. The rule, in two steps, on per-seed errors (lower is better):

1. Converged? An arm is *past the baselines* when its worst seed beats the better of the
   training-mean and oracle baselines by at least CLEAR (10 %). If no arm is past them, the
   verdict is "not converged"; if only some are, those beat the rest outright ("better", with
   the others named as still at the baseline).
2. Distinguishable? Between two arms past the baselines, the difference of the means must exceed
   Z (2) standard errors of that difference, sqrt(sd_a² / n_a + sd_b² / n_b) with the sample
   standard deviation over seeds (Welch's statistic; |t| > 2 is a two-sided test at about 5 % for
   many seeds, nearer 15 % with three a side, so a "better" just past the threshold is weak
   evidence and the page shows the difference with its standard error). Each arm needs
   at least two seeds for a spread; with fewer, or a smaller difference, the verdict is "cannot
   tell", with the number of seeds per arm that would separate a difference of this size.

For a 2 x 2 (two factors of two levels each, every cell its own runs), `two_way` extends step 2
to the factorial contrasts: each factor's main effect (the mean of its two simple differences)
and their interaction (the difference of those differences), each against Z of its standard
error from the cells' spreads; `best_cell` asks whether one cell beats each of the other three.
"""

import math
import statistics
from dataclasses import dataclass

CLEAR = 0.10        # an arm must beat the better baseline by this share on its worst seed
Z = 2.0             # standard errors a difference must exceed to count

BETTER, CANNOT_TELL, NOT_CONVERGED = "better", "cannot tell", "not converged"


@dataclass
class Verdict:
    """The outcome of one comparison: its kind, the winner (for "better"), a sentence, and the
    difference of the means with its standard error (where both arms have converged)."""
    kind: str
    winner: str | None
    text: str
    diff: float | None = None
    se: float | None = None


def mean_sd(values):
    """(mean, sample standard deviation; NaN for a single value)."""
    values = list(values)
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.mean(values), sd


def past_baselines(errors, baselines):
    """Whether every seed's error beats the best baseline by CLEAR."""
    return max(errors) <= (1 - CLEAR) * min(baselines.values())


def compare(arms, baselines, unit="units²", measure=None):
    """The verdict on two arms: `arms` {name: [error per seed]} (two entries, lower is better),
    `baselines` {name: error} of the constant predictions on the same images.

    `measure` {name: [value per seed]}, lower is better: decide on another figure than the
    error (a gap in colourfulness, say), once the errors have shown both arms converged."""
    past = {name: past_baselines(e, baselines) for name, e in arms.items()}
    base = ", ".join(f"{k} {v:.2f}" for k, v in baselines.items())
    (a, ea), (b, eb) = (measure or arms).items()
    if not any(past.values()):
        return Verdict(NOT_CONVERGED, None,
                       f"not converged: neither arm is clearly past the baselines ({base}): "
                       f"{_figures(arms, unit)}; a longer budget would decide it")
    if not all(past.values()):
        winner = next(name for name, ok in past.items() if ok)
        loser = next(name for name, ok in past.items() if not ok)
        return Verdict(BETTER, winner, f"{winner} better: {loser} is still at the baselines "
                                       f"({base}): {_figures(arms, unit)}")
    return _distinguish(a, ea, b, eb, unit)


def _distinguish(a, ea, b, eb, unit):
    """"better" or "cannot tell" between two converged arms, by the Welch standard error."""
    (ma, sa), (mb, sb) = mean_sd(ea), mean_sd(eb)
    figures = _figures({a: ea, b: eb}, unit)
    if min(len(ea), len(eb)) < 2:
        return Verdict(CANNOT_TELL, None, f"cannot tell: one seed gives no spread ({figures})",
                       abs(ma - mb))
    diff, se = abs(ma - mb), math.sqrt(sa**2 / len(ea) + sb**2 / len(eb))
    winner = a if ma < mb else b
    if diff > Z * se:
        return Verdict(BETTER, winner, f"{winner} better by {diff:.2f} ± {se:.2f}{_u(unit)} "
                                       f"({figures})", diff, se)
    need = math.ceil(Z**2 * (sa**2 + sb**2) / diff**2) if diff > 0 else math.inf
    return Verdict(CANNOT_TELL, None,
                   f"cannot tell at this budget: the difference {diff:.2f}{_u(unit)} is within "
                   f"{Z:g} standard errors ({Z * se:.2f}) ({figures}); about {need} seeds per "
                   "arm would separate a difference this size", diff, se)


@dataclass
class Effect:
    """A factorial contrast: its name, estimate (lower-is-better error of the second level
    minus the first's, for a main effect), standard error, and the verdict's kind and text."""
    name: str
    estimate: float
    se: float
    kind: str
    text: str


PRESENT = "present"


def two_way(cells, baselines, unit="units²"):
    """Main effects and interaction of a 2 x 2: `cells` {(level of A, level of B): [error per
    seed]} over two levels of each factor (in the order given), `baselines` as in `compare`.

    A's main effect is the mean over B of (A's second level - its first), B's likewise, and the
    interaction is (B's effect at A's second level) - (B's effect at A's first); each is
    "present" when it exceeds Z standard errors (the cells are independent runs: the variances
    of their means add), else "cannot tell"; "not converged" when a cell is not past the
    baselines."""
    (a1, a2), (b1, b2) = _levels(cells)
    stats = {k: (statistics.mean(e), _var_of_mean(e)) for k, e in cells.items()}
    m = {k: v[0] for k, v in stats.items()}
    var = sum(v[1] for v in stats.values())
    contrasts = [
        (f"{a2} against {a1}", ((m[a2, b1] - m[a1, b1]) + (m[a2, b2] - m[a1, b2])) / 2, var / 4),
        (f"{b2} against {b1}", ((m[a1, b2] - m[a1, b1]) + (m[a2, b2] - m[a2, b1])) / 2, var / 4),
        (f"interaction (what {b2} does at {a2} minus at {a1})",
         (m[a2, b2] - m[a2, b1]) - (m[a1, b2] - m[a1, b1]), var),
    ]
    stuck = [f"{a}, {b}" for (a, b), e in cells.items() if not past_baselines(e, baselines)]
    return [_effect(name, est, math.sqrt(v), stuck, unit) for name, est, v in contrasts]


def best_cell(cells, baselines, cell, unit="units²"):
    """Whether `cell` beats each other cell by `compare`: ("better" / "cannot tell" / "not
    converged" / "worse", [the three verdicts])."""
    name = ", ".join(cell)
    verdicts = [compare({name: cells[cell], ", ".join(k): e}, baselines, unit)
                for k, e in cells.items() if k != cell]
    if all(v.kind == BETTER and v.winner == name for v in verdicts):
        return BETTER, verdicts
    if any(v.kind == BETTER and v.winner != name for v in verdicts):
        return "worse", verdicts
    if all(v.kind == NOT_CONVERGED for v in verdicts):
        return NOT_CONVERGED, verdicts
    return CANNOT_TELL, verdicts


def _levels(cells):
    a = list(dict.fromkeys(k[0] for k in cells))
    b = list(dict.fromkeys(k[1] for k in cells))
    if len(a) != 2 or len(b) != 2 or len(cells) != 4:
        raise ValueError(f"a 2 x 2 needs four cells of two levels each, got {list(cells)}")
    return a, b


def _var_of_mean(errors):
    if len(errors) < 2:
        return math.nan
    return statistics.variance(errors) / len(errors)


def _effect(name, estimate, se, stuck, unit):
    figure = f"{estimate:+.2f} ± {se:.2f}{_u(unit)}"
    if stuck:
        return Effect(name, estimate, se, NOT_CONVERGED,
                      f"{name}: {figure}, not decided: {'; '.join(stuck)} not past the baselines")
    if math.isnan(se) or abs(estimate) <= Z * se:
        return Effect(name, estimate, se, CANNOT_TELL,
                      f"{name}: {figure}, cannot tell (within {Z:g} standard errors)")
    return Effect(name, estimate, se, PRESENT, f"{name}: {figure}, present "
                  f"(beyond {Z:g} standard errors; negative: lower error)")


def _u(unit):
    return f" {unit}" if unit else ""


def _figures(arms, unit):
    """'A 9.52 ± 0.48 (3 seeds) against B 10.83 ± 0.62 (3 seeds) units²'."""
    parts = []
    for name, e in arms.items():
        m, sd = mean_sd(e)
        spread = f" ± {sd:.2f}" if len(e) > 1 else ""
        parts.append(f"{name} {m:.2f}{spread} ({len(e)} seed{'s' if len(e) > 1 else ''})")
    return " against ".join(parts) + (f" {unit}" if unit else "")
