"""The optimizer, the learning-rate schedule and the weight average a Config asks for."""

import itertools
import math
from collections import defaultdict

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def build_optimizer(cfg, model):
    """Adam (the study's: weight decay as L2 in the gradient) or AdamW (decoupled decay), fused
    into one kernel per step when `cfg.fused` (otherwise torch's default, per-tensor lists)."""
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
    return kind(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                fused=cfg.fused or None)


def build_schedule(cfg, optimizer, total_steps):
    """A per-step LR schedule: constant; one-cycle (Smith & Topin 2019, torch's OneCycleLR);
    or a linear warm-up over `cfg.warmup` of the steps, then a cosine decay to zero (cosine) or
    the full rate until a linear decay to zero over the last `cfg.cooldown` of them (wsd:
    warm-up, stable, decay; Hägele et al. 2024)."""
    if cfg.schedule == "onecycle":
        # torch's one-cycle needs two warm-up steps and more after them: a run of a few steps
        # (a smoke test) plans for four and stops early
        total = max(total_steps, 4)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total,
                                                   pct_start=max(cfg.warmup, 2 / total))
    warm = max(1, round(cfg.warmup * total_steps))
    cool = max(1, round(cfg.cooldown * total_steps))

    def factor(step):
        if cfg.schedule == "constant":
            return 1.0
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "wsd":
            return min(1.0, (total_steps - step) / cool)
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_ema(cfg, model):
    """An exponential moving average of the weights and BatchNorm statistics, or None."""
    if not cfg.ema:
        return None
    return ExponentialAverage(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)


class ExponentialAverage(AveragedModel):
    """torch's AveragedModel with an exponential average, stepping as it does, but whose
    update never copies its step counter (on the CPU) to the device: the exponential average
    does not read it, and on CUDA that copy makes the host wait for the GPU at every step."""

    @torch.no_grad()
    def update_parameters(self, model):
        mine = [t.detach() for t in itertools.chain(self.module.parameters(),
                                                    self.module.buffers())]
        theirs = [t.detach() for t in itertools.chain(model.parameters(), model.buffers())]
        if self.n_averaged == 0:
            for a, b in zip(mine, theirs):
                a.copy_(b)
        else:
            groups = defaultdict(lambda: ([], []))      # the average runs per device and dtype
            for a, b in zip(mine, theirs):
                groups[a.device, a.dtype][0].append(a)
                groups[a.device, a.dtype][1].append(b)
            for a, b in groups.values():
                self.multi_avg_fn(a, b, None)
        self.n_averaged += 1


def steps_per_epoch(n, batch_size, repeats, smallest=2):
    """How many batches colorizer.train.batch_indices cuts an epoch into."""
    total = n * repeats
    steps, last = -(-total // batch_size), total % batch_size
    return steps - 1 if steps > 1 and 0 < last < smallest else steps
