"""Checkpoints as plain dicts: save, load, restore into a model, rebuild a model."""

from pathlib import Path

import torch

from .config import ColorizerError, Config
from .devices import get_device
from .files import atomic_write
from .models import build_model

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(path, ckpt):
    """torch.save, atomically."""
    return atomic_write(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path, map_location="cpu"):
    """The checkpoint dict at `path`: a training checkpoint (torch.load with weights_only: plain
    tensors and Python values), or the shipped .safetensors weights (see shipping)."""
    from .shipping import expand, read_shipped  # (shipping reads checkpoints: imported here)

    path = Path(path)
    if not path.is_file():
        raise ColorizerError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":           # shipped weights: no unpickling at all
        ckpt = read_shipped(path)
        return {**ckpt, "model": expand(ckpt["model"])}
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:          # torch raises many kinds here: pickle, zip, runtime errors
        raise ColorizerError(f"not a readable checkpoint: {path} ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or not {"model", "config"} <= ckpt.keys():
        raise ColorizerError(f"not a colorizer checkpoint: {path}")
    return {**ckpt, "model": expand(ckpt["model"])}


def restore(model, ckpt):
    """Load a checkpoint's weights into `model`, refusing another model type, head or width."""
    cfg = ckpt["config"]
    if (cfg["model"], cfg["head"]) != (model.kind, model.head):
        raise ColorizerError(
            f"checkpoint holds a {cfg['model']} with a {cfg['head']} head; "
            f"cannot load it into a {model.kind} with a {model.head} head")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        # torch's message lists every mismatched tensor over many lines: keep its first reason
        reasons = [line.strip() for line in str(e).splitlines()[1:] if line.strip()]
        raise ColorizerError(f"checkpoint (widths {tuple(cfg['widths'])}) does not fit this "
                             f"model: {reasons[0] if reasons else e}") from None
    return model


def load_model(path, device=None):
    """Rebuild the model a checkpoint describes, with its weights, in eval mode: (model, ckpt)."""
    device = device or get_device()
    ckpt = load_checkpoint(path)
    model = restore(build_model(Config.from_dict(ckpt["config"])), ckpt).to(device)
    return model.eval(), ckpt
