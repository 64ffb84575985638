"""The study's runs: run profiles, the two hyper-parameter cases, the width and head comparisons."""

import os
from dataclasses import dataclass, replace

from .config import ARCHS, get_device, preset
from .data import ab_mean
from .evaluation import evaluate
from .train import fit

# The study's two hyper-parameter cases, at its full epoch counts.
CASES = {"case 1": dict(epochs=100, lr=5e-3, weight_decay=1e-7),
         "case 2": dict(epochs=400, lr=1e-4, weight_decay=1e-5)}
TEMPERATURES = (0.01, 0.2, 0.38, 0.7, 1.0)     # annealed-mean decodings compared (Sec. 3.3)


@dataclass
class Profile:
    """How much of the study to run: epochs per run, passes per epoch, images used."""
    name: str
    epochs: int                 # the regressor and the colorizers
    case_epochs: tuple          # the two hyper-parameter cases, in the study's 1 : 4 ratio
    arch_epochs: int | None = None  # Architecture 1 against 2 (None: `epochs`)
    augment_factor: int = 10
    limit: int | None = None
    write_outputs: bool = True  # into output_sigmoid/ and output_tanh/

    def config(self, **kw):
        """The study's settings (config.PRESETS["study"]) at this profile's budget, `kw` over."""
        return preset("study", augment_factor=self.augment_factor, limit=self.limit, **kw)


PROFILES = {
    # A GPU: the study's settings.
    "full": Profile("full", epochs=100, case_epochs=(100, 400)),
    # This project's 2-core CPU: the whole notebook well under 20 minutes (README has the time).
    # Six epochs of x10 passes: the budget at which every head here beats the baselines
    # (benchmarks/quality.py); the 6x costlier Architecture 1 is compared at three.
    "cpu": Profile("cpu", epochs=6, case_epochs=(2, 8), arch_epochs=3),
    # COLORIZER_FAST=1: a smoke run of every cell, a few images, one epoch, a temporary folder.
    "fast": Profile("fast", epochs=1, case_epochs=(1, 1), augment_factor=1, limit=30,
                    write_outputs=False),
}


def pick_profile(name=None, device=None):
    """An explicit name, else 'fast' under COLORIZER_FAST=1, else 'full' on CUDA, else 'cpu'."""
    if name is None:
        if os.environ.get("COLORIZER_FAST", "") not in ("", "0"):
            name = "fast"
        else:
            name = "full" if get_device(device or "auto").type == "cuda" else "cpu"
    return PROFILES[name]


def case_configs(profile, base):
    """The study's two hyper-parameter cases, with this profile's epochs."""
    return {name: replace(base, **{**case, "epochs": epochs})
            for (name, case), epochs in zip(CASES.items(), profile.case_epochs)}


def compare_widths(profile, run, data):
    """Architecture 1 against 2 with `run`'s other settings, at the profile's budget for it.

    `run` itself stands for its own widths when its budget is the same.
    """
    runs = {}
    for k in sorted(ARCHS):
        cfg = replace(run.cfg, widths=ARCHS[k], epochs=profile.arch_epochs or profile.epochs)
        runs[f"Architecture {k}"] = (run if cfg == run.cfg else
                                     fit(cfg, data=data, progress=False, log=None))
    return runs


def at_temperature(run, temperature):
    """A classify run's test metrics when decoded at another annealed-mean temperature."""
    model, before = run.model, run.model.temperature
    try:
        model.temperature = temperature
        return evaluate(model, run.test.lab, train_mean=ab_mean(run.train))
    finally:
        model.temperature = before


def temperature_sweep(run, temperatures=TEMPERATURES):
    """{T: test metrics} of a classify run, its own temperature's from the run itself."""
    return {t: run.metrics if t == run.cfg.temperature else at_temperature(run, t)
            for t in temperatures}
