"""The study's figures: each question's validation curves, and the colour hints' error against
points, from their result files."""

import torch

from colorizer.viz import _figure, heldout_split


def plot_study_curves(result, key=None):
    """A question's result (findings.load): each arm's validation error per epoch, the mean over
    its seeds (the band: lowest to highest seed), against the constants on validation."""
    fig = _figure(figsize=(5.6, 3.4))
    ax = fig.subplots()
    for label, arm in result["arms"].items():
        split = heldout_split(arm["runs"][0]["history"])
        if f"{split}_error" not in arm["runs"][0]["history"]:
            continue                    # scored once, at the end (an average's own weights)
        curves = torch.tensor([r["history"][f"{split}_error"] for r in arm["runs"]])
        epochs = range(1, curves.shape[1] + 1)
        ax.plot(epochs, curves.mean(0), label=label)
        ax.fill_between(epochs, curves.min(0).values, curves.max(0).values, alpha=0.2)
    for (name, m), style in zip(result["baselines"]["val"].items(), (":", "--", "-.")):
        value = m.get(key or ("ab_mse" if "ab_mse" in m else "mean_ab_mse"))
        if name != "gray" and value is not None:
            ax.axhline(value, color="gray", ls=style, lw=1, label=f"{name} (constant)")
    ax.set_xlabel("epoch (x10 augmented passes)")
    ax.set_ylabel("validation error, units² (log)")
    ax.set_yscale("log")
    ax.set_title(result["title"], fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_hint_sweep(result):
    """benchmarks.hints' result: ab MSE against random and against corrective true-colour points
    (mean over fit seeds, the bars one sd), on test and on validation, the 0-point error (the
    model alone) as a dashed line; and how far a recoloured region went with 1, 3, 10 points."""
    fig = _figure(figsize=(12, 3.6))
    axes = fig.subplots(1, 3)
    for split, colour in (("test", "C0"), ("val", "C1")):
        runs = [r[split] for r in result["runs"].values()]
        for ax, kind in zip(axes[:2], ("random", "corrective")):
            xs = (sorted(int(k) for k in runs[0]["random"]) if kind == "random"
                  else list(range(len(runs[0]["corrective"]))))
            values = torch.tensor([[r["random"][str(x)]["ab_mse"] if kind == "random"
                                    else r["corrective"][x] for x in xs] for r in runs])
            ax.errorbar(xs, values.mean(0), yerr=values.std(0) if len(runs) > 1 else None,
                        marker="o", ms=3, capsize=2, color=colour, label=split)
            ax.axhline(float(values[:, 0].mean()), color=colour, ls="--", lw=1,
                       label=f"{split}, no point ({float(values[:, 0].mean()):.2f})")
        counts = sorted(int(k) for k in runs[0]["recolour"])
        went = torch.tensor([[r["recolour"][str(c)]["went"] for c in counts] for r in runs])
        axes[2].errorbar(counts, went.mean(0), yerr=went.std(0) if len(runs) > 1 else None,
                         marker="o", ms=3, capsize=2, color=colour, label=split)
    for ax, kind in zip(axes[:2], ("random", "corrective")):
        ax.set_xlabel(f"{kind} true-colour points")
        ax.set_ylabel("ab MSE (raw CIELAB units²)")
        ax.set_title(f"{kind} points", fontsize=9)
    axes[0].set_xscale("symlog", linthresh=1)
    axes[2].set_xlabel("points of a new colour in one region")
    axes[2].set_ylabel("share of the way the region went")
    axes[2].set_ylim(0, 1)
    axes[2].set_title("recolour", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
