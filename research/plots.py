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


def plot_hint_sweep(result, split="test"):
    """benchmarks.hints' result: ab MSE against random points and against corrective points
    (mean over seeds, the bars one sd), the plain default's 0-point error as a dashed line."""
    fig = _figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, kind in zip(axes, ("random", "corrective")):
        for label, arm in result["arms"].items():
            sweeps = [r["sweeps"][split] for r in arm["runs"]]
            if not sweeps[0]["corrective"]:                     # no hints: its 0-point line
                value = float(torch.tensor([s["random"]["0"]["ab_mse"] for s in sweeps]).mean())
                ax.axhline(value, color="gray", ls="--", label=f"{label} ({value:.2f})")
                continue
            curve = (sorted(sweeps[0]["random"], key=int) if kind == "random"
                     else range(len(sweeps[0]["corrective"])))
            values = torch.tensor([[(s["random"][k] if kind == "random" else
                                     s["corrective"][k])["ab_mse"] for k in curve]
                                   for s in sweeps])
            xs = [int(k) for k in curve]
            ax.errorbar(xs, values.mean(0), yerr=values.std(0) if len(sweeps) > 1 else None,
                        marker="o", ms=3, capsize=2, label=label)
        if kind == "random":
            ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel(f"{kind} true-colour points")
        ax.set_title(f"{kind} points, {split} split", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("ab MSE (raw CIELAB units²)")
    fig.tight_layout()
    return fig
