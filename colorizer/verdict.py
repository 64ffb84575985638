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
