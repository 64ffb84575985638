"""Distillation: a colorizer trained towards the average a*b* of trained colorizers (its
teachers), mixed with the truth (`--teachers A.pt,B.pt --distill SHARE`).

An average of two or three models scores better than any one of them
(benchmarks/results/ensemble.md), but only one model ships: the student learns the average's
prediction for each augmented batch, at the side it predicts at."""

import torch
import torch.nn.functional as F

from .checkpoint import load_model
from .config import ColorizerError


def load_teachers(paths, device):
    """The colorizers of checkpoints `paths`, in eval mode on `device`, frozen."""
    teachers = []
    for path in paths:
        model, _ = load_model(path, device)
        if model.kind != "colorizer":
            raise ColorizerError(f"--teachers takes colorizer checkpoints; {path} holds a "
                                 f"{model.kind}")
        teachers.append(model.requires_grad_(False))
    return teachers


def target_ab(teachers, share, L, ab, side):
    """The raw a*b* a student predicting at `side` learns for L* (B, 1, H, W) whose truth is
    `ab` (B, 2, H, W): the truth's block means weighted 1 - `share`, the teachers' mean `share`."""
    return torch.lerp(F.adaptive_avg_pool2d(ab, side), taught_ab(teachers, L, side), share)


@torch.no_grad()
def taught_ab(teachers, L, side):
    """The teachers' mean raw a*b* for L*, at `side` (bilinear where one predicts at another)."""
    return torch.stack([t.decode(t(L), size=side) for t in teachers]).mean(0)
