"""The study's figures: each question's validation curves, from its result file."""

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
