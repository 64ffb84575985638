"""Checkpoints as plain dicts: save, load, restore into a model, rebuild a model."""

from pathlib import Path

import torch

from .config import ColorizerError, Config
from .devices import get_device
from .files import atomic_write
from .models import build_model
from .packing import expand, read_shipped

CHECKPOINT = "checkpoint.pt"
MODEL_FILE = "model.safetensors"        # a model folder's weights (hub.save_pretrained)
# A checkpoint describing a larger model is refused before it is built (a few times the largest
# model of the study's tables), so that a 2 KB file cannot make the process build gigabytes
MAX_PARAMETERS = 50_000_000


def save_checkpoint(path, ckpt):
    """torch.save, atomically."""
    return atomic_write(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path, map_location="cpu"):
    """The checkpoint dict at `path`: a training checkpoint (torch.load with weights_only: plain
    tensors and Python values), int8 .safetensors weights (packing), or a model folder
    (save_pretrained's: its model.safetensors). Its settings are read and its weights' kinds and
    shapes checked before any arithmetic on them."""
    path = Path(path)
    if path.is_dir() and (path / MODEL_FILE).is_file():
        path = path / MODEL_FILE                # a model folder
    if not path.is_file():
        raise ColorizerError(f"checkpoint not found: {path}" if not path.exists() else
                             f"not a checkpoint file or model folder: {path}")
    if path.suffix == ".safetensors":           # shipped weights: no unpickling at all
        ckpt = read_shipped(path)
    else:
        try:
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:      # torch raises many kinds here: pickle, zip, runtime errors
            raise ColorizerError(f"not a readable checkpoint: {path} "
                                 f"({type(e).__name__})") from None
        if not isinstance(ckpt, dict) or not {"model", "config"} <= ckpt.keys():
            raise ColorizerError(f"not a colorizer checkpoint: {path}")
    try:
        Config.from_dict(ckpt["config"])
        return {**ckpt, "model": expand(ckpt["model"])}
    except ColorizerError as e:
        raise ColorizerError(f"checkpoint {path}: {e}") from None


def restore(model, ckpt):
    """Load a checkpoint's weights into `model`, refusing another model type, head or width."""
    cfg = Config.from_dict(ckpt["config"])      # (its settings as read: a key may be missing)
    if (cfg.model, cfg.head) != (model.kind, model.head):
        raise ColorizerError(
            f"checkpoint holds a {cfg.model} with a {cfg.head} head; "
            f"cannot load it into a {model.kind} with a {model.head} head")
    state = {**_hint_part(model.state_dict()), **ckpt["model"]}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        # torch's message lists every mismatched tensor over many lines: keep its first reason
        reasons = [line.strip() for line in str(e).splitlines()[1:] if line.strip()]
        raise ColorizerError(f"checkpoint (widths {cfg.widths}) does not fit this "
                             f"model: {reasons[0] if reasons else e}") from None
    return model


def _hint_part(state):
    """The hint part's entries of a state dict (colorizer.spread): a checkpoint saved before
    0.9.0, or one whose hint part was never fitted, has its starting values."""
    return {k: v for k, v in state.items() if k.startswith("spread.")}


def load_model(path: str | Path,
               device: str | torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model a checkpoint describes, with its weights, in eval mode: (model, ckpt).
    Its settings and tensor shapes are checked before anything of its size is built."""
    device = get_device(device or "auto")          # (the process's backend policy, on CUDA)
    ckpt = load_checkpoint(path)
    model = restore(build_model(checked_config(ckpt, path)), ckpt).to(device)
    return model.eval(), ckpt


def checked_config(ckpt, path):
    """The Config of a checkpoint's model, once its settings pass Config's checks, the model
    they describe has at most MAX_PARAMETERS, and every tensor of the checkpoint has the shape
    that model gives it (all measured on a skeleton on the meta device: no memory)."""
    try:
        cfg = Config.from_dict(ckpt["config"])
    except ColorizerError as e:
        raise ColorizerError(f"checkpoint {path} holds settings no colorizer has: {e}") from None
    with torch.device("meta"):
        expected = build_model(cfg).state_dict()
    n = sum(t.numel() for name, t in expected.items() if t.is_floating_point())
    if n > MAX_PARAMETERS:
        raise ColorizerError(f"checkpoint {path} describes a model of {n / 1e6:.0f} M values, "
                             f"over the {MAX_PARAMETERS / 1e6:.0f} M that any colorizer here "
                             "has: refused before building it")
    state = {**_hint_part(expected), **ckpt["model"]}
    for name, t in expected.items():
        found = state.get(name)
        if not isinstance(found, torch.Tensor) or found.shape != t.shape:
            what = "missing" if found is None else (
                f"{tuple(found.shape)}" if isinstance(found, torch.Tensor) else "not a tensor")
            raise ColorizerError(f"checkpoint {path} does not fit the model its settings "
                                 f"describe: {name} {what}, expected {tuple(t.shape)}")
    return cfg
