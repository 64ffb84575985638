"""Training as plain functions: batches, one epoch, and a whole run (fit)."""

import contextlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .checkpoint import CHECKPOINT, load_checkpoint, restore, save_checkpoint
from .config import COOLDOWN, SPLIT_SEED, WARMUP, ColorizerError, Config, check_inputs
from .console import LOUD, QUIET
from .data import (
    LabImages,
    ab_mean,
    chunks,
    crop_draws,
    open_images,
    random_resized_crop,
    save_split,
    split_names,
    validation_names,
)
from .devices import get_device, native_bf16, process_age, release_free_memory, to_device
from .evaluation import PLAIN, evaluate
from .files import write_json
from .metrics import HEADLINE, UNITS
from .models import build_model, head, loss_fn
from .outputs import write_outputs

LOG_EVERY = 20          # batches between the progress bar's loss readings (each waits for a GPU)
PACE_EPOCHS = 3         # a --minutes run's pace: the mean of its last epochs
END_S = 12              # what a run's end takes (every final measure, the run folder's files),
                        # kept free before a --minutes deadline


class OneProcess:
    """A plain run's place: the only process. Under torchrun, scale.distributed's ProcessContext
    takes its place, with the same methods."""
    rank, world, main, joined = 0, 1, True, False

    def share(self, batch):
        """This process's part of a global batch: all of it."""
        return batch

    def main_first(self, make):
        return make()

    def total(self, *values):
        """`values` (numbers or one-number tensors) as floats: their sums over the processes."""
        return tuple(float(v) for v in values)

    def check_enough(self, n_train, batch_size):
        """Nothing to check: one process takes every image of a batch."""

    def wrap(self, model, device):
        return model

    def describe(self, net):
        return {"world": 1, "backend": None, "ddp": False, "sync_batchnorm": False}


def launched():
    """Whether torchrun started this process (it sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def processes(device="auto"):
    """(this process's place, its device): the one process on get_device(device), or, under
    torchrun, its place among the launch's (scale.distributed, imported only then)."""
    if not launched():
        return OneProcess(), get_device(device)
    from .scale import distributed

    return distributed.setup(device)


def batch_indices(n, batch_size, repeats, generator, smallest=2):
    """Shuffled indices covering 0..n-1 `repeats` times, cut into batches.

    A last batch under `smallest` images is folded into the one before: BatchNorm at the 1x1
    bottleneck cannot normalise a single value (with several processes: one per process).
    """
    idx = torch.randperm(n * repeats, generator=generator) % n
    batches = list(idx.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) < smallest:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def epoch_batches(n, cfg, generator, device, smallest=2, index_on=None):
    """An epoch's batches as (indices on `index_on`, default `device`; their crop draws on
    `device`): every random number of the epoch drawn at once, in the order that drawing them
    batch by batch would (so the same numbers), and moved to the device in two copies."""
    batches = batch_indices(n, cfg.batch_size, cfg.augment_factor, generator, smallest)
    sizes = [len(b) for b in batches]
    draws = to_device(crop_draws(sum(sizes), generator), device).split(sizes)
    indices = to_device(torch.cat(batches), index_on or device).split(sizes)
    return list(zip(indices, draws))


def train_one_epoch(training, lab, cfg, report=QUIET, desc="train"):
    """One pass of `cfg.augment_factor` augmented copies of `lab` (N, 3, H, W); the mean loss.

    The schedule steps after every batch. With several processes, each draws the same global
    batch and trains on its share through DDP. The host waits for the device once, for the
    epoch's loss (and every LOG_EVERY batches for the progress bar's, when it is shown).
    """
    t = training
    t.net.train()
    device = next(t.model.parameters()).device
    # images in memory are indexed where they are; the disk cache reads rows by CPU index
    index_on = device if isinstance(lab, torch.Tensor) else torch.device("cpu")
    batches = epoch_batches(len(lab), cfg, t.generator, device, 2 * t.procs.world, index_on)
    total, count = torch.zeros((), dtype=torch.float64, device=device), 0
    bar = report.bar(batches, desc=desc, unit="batch")
    for step, (idx, draws) in enumerate(bar):
        x = random_resized_crop(lab[idx], t.generator, cfg.crop_scale, cfg.crop_ratio, cfg.flip,
                                draws=draws)
        x = t.procs.share(x)                                # this process's part of the batch
        L = x[:, :1].contiguous(memory_format=torch.channels_last)
        with autocast_for(cfg, device):
            loss = loss_fn(t.model, t.net(L), x[:, 1:])
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()                                     # DDP averages the gradients here
        t.optimizer.step()
        t.schedule.step()                                   # the rate moves every batch
        total += loss.detach().double() * len(x)           # summed on the device: no wait here
        count += len(x)
        if report.progress and step % LOG_EVERY == 0:
            bar.set_postfix(loss=f"{float(total) / count:.5f}")
    total, count = t.procs.total(total, count)
    return total / count


def build_optimizer(cfg, model):
    """Adam (the study's: weight decay as L2 in the gradient) or AdamW (decoupled decay), the
    whole update fused into one kernel where torch has one for the device (the same update up
    to rounding; on a CPU much faster than its per-tensor lists)."""
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
    device = next(model.parameters()).device
    trained = [p for p in model.parameters() if p.requires_grad]     # (not the hint part's)
    return kind(trained, lr=cfg.lr, weight_decay=cfg.weight_decay,
                fused=device.type in ("cpu", "cuda") or None)


def build_schedule(cfg, optimizer, total_steps):
    """A per-step LR schedule: constant (the study's), or wsd (Hägele et al. 2024): a linear
    warm-up over WARMUP of the steps, the full rate, then a linear decay to zero over the last
    COOLDOWN of them. `total_steps`: a number, or a Plan, read at every step (a run planned by
    the clock changes it)."""
    def factor(step):
        if cfg.schedule == "constant":
            return 1.0
        total = total_steps.steps if isinstance(total_steps, Plan) else total_steps
        warm, cool = max(1, round(WARMUP * total)), max(1, round(COOLDOWN * total))
        if step < warm:
            return (step + 1) / warm
        return min(1.0, (total - step) / cool)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class Plan:
    """How many epochs a run trains (`steps` of them for the schedule). A run given --minutes
    has a `deadline` (seconds of its process's age) and re-plans after every epoch (replan)."""
    epochs: int
    steps_per_epoch: int
    deadline: float | None = None

    def __post_init__(self):
        self._mark = process_age() if self.deadline is not None else None
        self._paces = []                    # seconds each epoch took, for the pace

    @property
    def steps(self):
        return self.epochs * self.steps_per_epoch

    def replan(self, done):
        """After epoch `done`: as many epochs as end, with END_S to spare, by the deadline, at
        the pace of the last PACE_EPOCHS epochs (each: training, scoring, the checkpoint before
        it); never fewer than done, and, once the rate decays, never more than planned (a decay
        is not undone). A busy machine shortens the run instead of overrunning."""
        if self.deadline is None:
            return
        now = process_age()
        self._paces.append(max(now - self._mark, 1e-3))
        self._mark = now
        recent = self._paces[-PACE_EPOCHS:]
        pace = sum(recent) / len(recent)
        fits = done + max(0, int((self.deadline - now - END_S) // pace))
        decaying = done * self.steps_per_epoch >= self.steps - round(COOLDOWN * self.steps)
        self.epochs = max(done, min(self.epochs, fits) if decaying else fits)


def steps_per_epoch(n, batch_size, repeats, smallest=2):
    """How many batches batch_indices cuts an epoch into."""
    total = n * repeats
    steps, last = -(-total // batch_size), total % batch_size
    return steps - 1 if steps > 1 and 0 < last < smallest else steps


def resolved_precision(precision, device):
    """A --precision as it trains on `device`: auto is bfloat16 where the device computes it
    natively, else float32; float32 and bfloat16 are themselves."""
    if precision != "auto":
        return precision
    device = torch.device(device)
    native = device.type in ("cpu", "cuda") and native_bf16(device)     # (not the meta device)
    return "bfloat16" if native else "float32"


def with_precision(cfg, device):
    """`cfg` with --precision auto made what it means on `device` (what a run saves and trains
    with)."""
    precision = resolved_precision(cfg.precision, device)
    return cfg if precision == cfg.precision else replace(cfg, precision=precision)


def autocast_for(cfg, device):
    """bfloat16 autocast for the forward pass and loss when `cfg` asks for it on `device`, else
    nothing (not a disabled autocast: torch refuses devices it has none for, the meta device
    included)."""
    if resolved_precision(cfg.precision, device) == "bfloat16":   # (per batch: no new Config)
        return torch.autocast(device.type, torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Run:
    """What fit() leaves behind, for the notebook and the CLI (in a process of a torchrun launch
    other than rank 0: no metrics)."""
    cfg: Config
    model: torch.nn.Module
    history: dict
    metrics: dict
    train: LabImages
    test: LabImages
    out_dir: Path | None
    val: LabImages | None = None

    @property
    def scored(self):
        """The images the run was scored on, epoch by epoch and in `metrics`: validation when
        it held some out (`metrics["test"]` then has the test figures), else the test split."""
        return self.val if self.val is not None else self.test


@dataclass
class Training:
    """What one run trains with: the model, its optimizer, the augmentation RNG, the LR schedule,
    `net`, what the forward pass runs (DDP around the model; default: the model itself), and
    `procs`, the processes it shares each batch with (default: this one alone)."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None   # None: a constant rate
    net: torch.nn.Module | None = None
    procs: object = None
    plan: Plan | None = None

    def __post_init__(self):
        if self.schedule is None:
            self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: 1.0)
        if self.net is None:            # (not `net or model`: a module may define len)
            self.net = self.model
        if self.procs is None:
            self.procs = OneProcess()

    def state(self):
        """The checkpoint entries that let a run continue exactly."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "rng": self.generator.get_state()}


def fit(cfg: Config, out_dir: str | Path | None = None, *, resume: bool = False,
        data: LabImages | None = None, report=LOUD) -> "Run":
    """Train the model `cfg` describes on its seeded split; write a run's files into `out_dir`.

    `data` (LabImages) skips reading the folder again; `resume` continues from
    `out_dir/checkpoint.pt` up to `cfg.epochs`, with the split, weights, optimizer, schedule and
    RNG state saved there (a run given `cfg.minutes` resumes to the epochs it had planned).
    `report` (console.Reporter) takes the messages, shows the bars and hands each epoch's
    figures to its tracker; console.QUIET: none. Returns a Run, its cfg with the epochs run.
    """
    check_inputs(cfg)
    procs, device = processes(cfg.device)
    cfg = with_precision(cfg, device)
    report = report if procs.main else QUIET            # rank 0 alone reports and writes
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = _resume_from(out_dir, cfg) if resume else None
    if ckpt:
        cfg = replace(Config.from_dict(ckpt["config"]), epochs=cfg.epochs,
                      data=cfg.data or ckpt["config"]["data"])
    train, val, test = procs.main_first(lambda: _split(cfg, data, ckpt, report))
    scored = val if val is not None else test
    procs.check_enough(len(train), cfg.batch_size)
    t = _new_training(cfg, train, device, procs, by_clock=cfg.minutes is not None and not ckpt)
    history = _restore_training(ckpt, t) if ckpt else {
        "train_loss": [], f"{cfg.holdout}_loss": [], f"{cfg.holdout}_error": [], "seconds": []}
    train_mean = ab_mean(train)
    save = _checkpointer(out_dir if procs.main else None, cfg, t, (train, val, test), train_mean)
    report.say(f"{cfg.model}/{cfg.head} widths={cfg.widths} on {device}: {len(train)} train x "
               f"{cfg.augment_factor} augmented, {len(scored)} {cfg.holdout} images")
    _train_epochs(t, train.lab.to(device), scored.lab.to(device), cfg, history, report, save)
    cfg = replace(cfg, epochs=t.plan.epochs)
    if not procs.main:
        return Run(cfg, t.model, history, {}, train, test, None, val)
    metrics = _final_metrics(t.model, (scored, test), cfg, history, train_mean)
    metrics["processes"] = procs.describe(t.net)
    if out_dir is not None:
        write_outputs(out_dir, t.model, test, history, metrics)
    return Run(cfg, t.model, history, metrics, train, test, out_dir, val)


def _train_epochs(t, train_lab, scored_lab, cfg, history, report, save):
    """The epochs still to run (t.plan): train, score on the held-out images, log, `save(epoch)`,
    and, planned by the clock, plan again."""
    while (epoch := len(history["train_loss"])) < t.plan.epochs:
        t0 = time.perf_counter()
        loss = train_one_epoch(t, train_lab, cfg, report, f"epoch {epoch + 1}/{t.plan.epochs}")
        release_free_memory()                   # the epoch's freed heap back to the system
        scored = evaluate(t.model, scored_lab, tta=PLAIN)
        _record(history, loss, time.perf_counter() - t0, scored, cfg, t.plan.epochs, report)
        if t.plan.deadline is not None:
            _plan_again(t, epoch + 1, cfg, report)
        save(epoch + 1, history)


def _plan_again(t, done, cfg, report):
    """A run planned by the clock, after epoch `done`: its plan again, rank 0's for every
    process, said when it changes."""
    before = t.plan.epochs
    t.plan.replan(done)
    t.plan.epochs = int(t.procs.total(t.plan.epochs if t.procs.main else 0)[0])
    if t.plan.epochs != before:
        report.say(f"planned by the clock: {t.plan.epochs} epochs, to end within "
                   f"{cfg.minutes:g} minutes of the process's start")


def _checkpointer(out_dir, cfg, t, splits, train_mean):
    """save(epoch, history): the run's checkpoint every cfg.checkpoint_every epochs and after the
    last, in the run folder, started here with the settings and split (no folder: nothing)."""
    if out_dir is None:
        return lambda epoch, history: None
    train, val, test = splits
    run_info = {"config": cfg.to_dict(), "train_ab_mean": train_mean,
                "split": _split_record(train, val, test)}
    _start_run_folder(out_dir, run_info, train.skipped)

    def save(epoch, history):               # (the settings with the epochs planned now)
        if epoch % cfg.checkpoint_every == 0 or epoch >= t.plan.epochs:
            planned = replace(cfg, epochs=t.plan.epochs).to_dict()
            save_checkpoint(out_dir / CHECKPOINT, {**run_info, **t.state(), "config": planned,
                                                   "epoch": epoch, "history": history})
    return save


def _split_record(train, val, test):
    """The names of each split, as the checkpoint and split.json keep them."""
    return {"seed": SPLIT_SEED, "train": train.names, "test": test.names,
            **({"val": val.names} if val is not None else {})}


def _start_run_folder(out_dir, run_info, skipped):
    """The run folder with exactly the settings it trains with (`train --config
    RUN/config.json` runs it again), the split it trains on and the files it could not read."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", run_info["config"])
    names = run_info["split"]
    save_split(out_dir / "split.json", names["train"], names["test"], names["seed"],
               names.get("val", ()))
    if skipped:
        (out_dir / "skipped.txt").write_text("".join(f"{n}\n" for n in skipped))


def _final_metrics(model, splits, cfg, history, train_mean):
    """Every figure of the finished run on the split it was scored on, with what it was measured
    on; a run scored on validation also carries its test figures under "test"."""
    scored, test = splits
    out = {**evaluate(model, scored.lab, train_mean=train_mean, tta=PLAIN), "split": cfg.holdout,
           "n_test": len(scored), "seed": cfg.seed, "split_seed": SPLIT_SEED,
           "epochs": len(history["train_loss"]), "train_seconds": sum(history["seconds"]),
           "units": UNITS}
    if scored is not test:
        out["test"] = {**evaluate(model, test.lab, train_mean=train_mean, tta=PLAIN),
                       "split": "test", "n_test": len(test)}
    return out


def _resume_from(out_dir, cfg):
    """The checkpoint to continue, refusing to stretch a schedule planned for another length."""
    if out_dir is None:
        raise ColorizerError("resume needs the run's output folder")
    ckpt = load_checkpoint(out_dir / CHECKPOINT)
    planned = Config.from_dict(ckpt["config"])
    if planned.schedule != "constant" and planned.epochs != cfg.epochs:
        raise ColorizerError(f"the run in {out_dir} has a {planned.schedule} schedule planned for "
                             f"{planned.epochs} epochs: resume it with --epochs {planned.epochs}")
    return ckpt


def _split(cfg, data, ckpt, report=QUIET):
    """(train, val or None, test) LabImages: the checkpoint's split when resuming, else the
    seeded one, with validation carved from the training split when `cfg.holdout` is val."""
    saved = ckpt["split"] if ckpt else None
    if data is None:
        names = saved["train"] + saved.get("val", []) + saved["test"] if saved else None
        data = open_images(cfg, names=names, limit=None if ckpt else cfg.limit, report=report)
    if saved:
        train, val, test = saved["train"], saved.get("val"), saved["test"]
    else:
        train, test = split_names(data.names)
        train, val = validation_names(train) if cfg.holdout == "val" else (
            train, None)
    return data.subset(train), data.subset(val) if val else None, data.subset(test)


def _new_training(cfg, train, device, procs, by_clock=False):
    """A seeded model, its optimizer and LR schedule, the augmentation RNG, and the plan
    (`by_clock`: cfg.minutes from this process's start; else cfg.epochs)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if cfg.init_from:                   # fine-tuning: weights from another run, refused if unlike
        restore(model, load_checkpoint(cfg.init_from))
    model = model.to(device)
    optimizer = build_optimizer(cfg, model)
    generator = torch.Generator().manual_seed(cfg.seed)
    # what the head learns from the training split (the classify head: its class prior)
    head(cfg.head).fit_to(model, (lab[:, 1:] for lab in chunks(train.lab, 256)), cfg.rebalance)
    plan = Plan(cfg.epochs, steps_per_epoch(len(train), cfg.batch_size, cfg.augment_factor,
                                            smallest=2 * procs.world),
                deadline=60 * cfg.minutes if by_clock else None)
    return Training(model, optimizer, generator, build_schedule(cfg, optimizer, plan),
                    net=procs.wrap(model, device), procs=procs, plan=plan)


def _restore_training(ckpt, t):
    """Weights, optimizer, schedule and RNG state; returns the history."""
    restore(t.model, ckpt)
    t.optimizer.load_state_dict(ckpt["optimizer"])
    if "schedule" in ckpt:
        t.schedule.load_state_dict(ckpt["schedule"])
    t.generator.set_state(ckpt["rng"])
    return ckpt["history"]


def _record(history, train_loss, seconds, metrics, cfg, epochs, report):
    """Append one epoch's figures to `history` and log them on one line (of `epochs`)."""
    key, split = HEADLINE[cfg.model], cfg.holdout
    history["train_loss"].append(train_loss)
    history[f"{split}_loss"].append(metrics["loss"])
    history[f"{split}_error"].append(metrics[key])
    history["seconds"].append(seconds)
    epoch = len(history["train_loss"])
    report.say(f"epoch {epoch:3d}/{epochs}  train loss {train_loss:.6f}  {split} loss "
               f"{metrics['loss']:.6f}  {split} {key} {metrics[key]:.2f} units^2  "
               f"({seconds:.1f} s)")
    report.scalars(epoch, {k: v[-1] for k, v in history.items()})
