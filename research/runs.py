"""The study's runs: run profiles, the two hyper-parameter cases, the width and head comparisons."""

import os
from dataclasses import dataclass, replace
from pathlib import Path

from colorizer.checkpoint import CHECKPOINT, load_checkpoint
from colorizer.config import ARCHS, PRESETS, Config
from colorizer.console import QUIET, Reporter
from colorizer.data import ab_mean
from colorizer.devices import get_device
from colorizer.evaluation import PLAIN, evaluate
from colorizer.train import fit, with_precision

TEMPERATURES = (0.01, 0.2, 0.38, 0.7, 1.0)     # annealed-mean decodings compared (Sec. 3.3)


@dataclass
class Profile:
    """How much of the study to run and with which training: epochs per run, passes per epoch,
    images used."""
    name: str
    epochs: int                 # the regressor and the colorizers
    case_epochs: tuple          # the two hyper-parameter cases, in the study's 1 : 4 ratio
    arch_epochs: dict | None = None  # {arch: epochs} for Architecture 1 against 2 (None: `epochs`)
    preset: str | None = "study-short"  # the runs' settings (config.PRESETS); None: the defaults
    augment_factor: int = 10
    limit: int | None = None
    write_outputs: bool = True  # into output_sigmoid/ and output_tanh/
    checkpoint_every: int = 1   # epochs between a run's checkpoints (and always after the last)

    def config(self, **kw):
        """The profile's settings at its budget, `kw` over."""
        base = PRESETS[self.preset] if self.preset else {}
        return Config(**{**base, "augment_factor": self.augment_factor, "limit": self.limit,
                         "checkpoint_every": self.checkpoint_every, **kw})

    def describe(self):
        """The profile's training and budget, in words, for the notebook's tables."""
        training = (f"`--preset {self.preset}` (the study's Adam at a constant rate; its two "
                    "cases as its table gives them)" if self.preset else
                    "the project's training (AdamW, warm-up-stable-decay; `python -m colorizer "
                    "train`)")
        return f"profile {self.name}: {training}, x{self.augment_factor} augmented passes per epoch"


PROFILES = {
    # A GPU: the study's settings at the study's epochs, a checkpoint every 10 (a killed run
    # loses at most 10 epochs; one a epoch would write some 59 GB over the profile's runs).
    "full": Profile("full", epochs=100, case_epochs=(100, 400), checkpoint_every=10),
    # This project's 2-core CPU: short runs that show the pipeline working (about ten minutes in
    # all); the comparisons' answers come from benchmarks.study. Four epochs of x10 passes for
    # the regressor and the heads; Architecture 1, some three times costlier per epoch, 1; the
    # cases at 1 and 4, the study's 1 : 4.
    "cpu": Profile("cpu", epochs=4, case_epochs=(1, 4), arch_epochs={1: 1}),
    # COLORIZER_FAST=1: a smoke run of every cell, a few images, one epoch, a temporary folder.
    "fast": Profile("fast", epochs=1, case_epochs=(1, 1), augment_factor=1, limit=30,
                    write_outputs=False),
}


def fit_or_reuse(cfg, out_dir, data=None, log=print):
    """fit(cfg) into `out_dir`, or, when `out_dir` holds a finished run that trains like `cfg`,
    that run (its weights, history and outputs; the test figures computed again), saying so;
    an unfinished one (a call stopped at its time limit) is resumed from its checkpoint."""
    out_dir = Path(out_dir)
    epochs = epochs_done(out_dir / CHECKPOINT, cfg)
    if epochs == cfg.epochs:
        print(f"reused the finished run in {out_dir} (same configuration, {cfg.epochs} epochs; "
              f"delete the folder to train it again)")
        return fit(cfg, out_dir, resume=True, data=data, report=QUIET)
    if epochs:
        print(f"resuming the run in {out_dir} at epoch {epochs + 1} of {cfg.epochs}")
        return fit(cfg, out_dir, resume=True, data=data, report=Reporter(log, progress=False))
    return fit(cfg, out_dir, data=data, report=Reporter(log, progress=False))


def epochs_done(path, cfg):
    """The epochs the checkpoint at `path` has run of a run planned exactly as `cfg` (its
    epochs included); 0 without one, or for another configuration."""
    if not Path(path).is_file():
        return 0
    ckpt = load_checkpoint(path)
    planned = with_precision(cfg, get_device(cfg.device))     # what the run saved, --precision auto
    return (ckpt.get("epoch") or 0) if planned.trains_like(Config.from_dict(ckpt["config"])) else 0


def pick_profile(name=None, device=None):
    """An explicit name, else 'fast' under COLORIZER_FAST=1, else 'full' on CUDA, else 'cpu'."""
    if name is None:
        if os.environ.get("COLORIZER_FAST", "") not in ("", "0"):
            name = "fast"
        else:
            name = "full" if get_device(device or "auto").type == "cuda" else "cpu"
    return PROFILES[name]


def case_configs(profile, base):
    """The study's two hyper-parameter cases as its table gives them (`--preset study-case1`,
    `study-case2`: Architecture 1, Adam at a constant rate, the conv stem, full-side a*b*) with
    `base`'s model, head and budget, at the profile's epochs (the `full` profile: the study's)."""
    return {f"case {n}": replace(base, **{**PRESETS[f"study-case{n}"], "epochs": epochs})
            for n, epochs in zip((1, 2), profile.case_epochs)}


def compare_widths(profile, run, data, folder):
    """Architecture 1 against 2 with `run`'s other settings, each at the profile's budget for it,
    trained (or reused) in `folder`/arch<N>; `run` itself stands for its own widths and budget."""
    runs = {}
    for k in sorted(ARCHS):
        epochs = (profile.arch_epochs or {}).get(k, profile.epochs)
        cfg = replace(run.cfg, widths=ARCHS[k], epochs=epochs)
        runs[f"Architecture {k}"] = (run if cfg == run.cfg else
                                     fit_or_reuse(cfg, Path(folder) / f"arch{k}", data, log=None))
    return runs


def rescore(run, **kw):
    """`run`'s metrics again, `evaluate(**kw)` (another decoding of the same weights), on the
    split it was scored on, and on the test split under "test" when that was validation (the
    baselines are the run's own)."""
    def on(images, metrics):
        return {**evaluate(run.model, images.lab, train_mean=ab_mean(run.train), baselines=False,
                           **{"tta": PLAIN, **kw}), "baselines": metrics["baselines"]}
    out = on(run.scored, run.metrics)
    if "test" in run.metrics:
        out["test"] = on(run.test, run.metrics["test"])
    return out


def at_temperature(run, temperature):
    """A classify run's metrics (see rescore) when decoded at another annealed-mean
    temperature."""
    model, before = run.model, run.model.temperature
    try:
        model.temperature = temperature
        return rescore(run)
    finally:
        model.temperature = before


def temperature_sweep(run, temperatures=TEMPERATURES):
    """{T: test metrics} of a classify run, its own temperature's from the run itself."""
    return {t: run.metrics if t == run.cfg.temperature else at_temperature(run, t)
            for t in temperatures}
