"""The shipped weights' format: int8 with a scale per output channel, in safetensors with the
run's facts as JSON metadata (read without unpickling). Its own module: checkpoint reads it,
shipping writes it, neither imports the other."""

import json
from pathlib import Path

import torch

from .config import ColorizerError, parse_settings
from .files import atomic_write

SHIPPED_FORMAT = "colorizer-int8/1"     # the safetensors layout write_shipped writes


def compact(state):
    """A state dict for shipping: each weight matrix or kernel as int8 with one float32 scale per
    output channel (symmetric, round to nearest), the other floating tensors in float16: about
    a quarter of float32's size.
    """
    out = {}
    for name, t in state.items():
        if t.is_floating_point() and t.dim() >= 2:
            scale = t.abs().amax(dim=tuple(range(1, t.dim())), keepdim=True).clamp(min=1e-12) / 127
            out[name] = {"int8": torch.round(t / scale).to(torch.int8), "scale": scale.float()}
        else:
            out[name] = t.half() if t.is_floating_point() else t
    return out


def expand(state):
    """The float32 state dict a compacted one stands for (plain state dicts pass through). Every
    entry's kind and shape is checked before any arithmetic: a scale must have one value per
    output channel of its int8 tensor, so the product is the int8 tensor's size, never a
    broadcast of two vectors into a matrix."""
    if not isinstance(state, dict):
        raise ColorizerError(f"weights must be a table of tensors, got {type(state).__name__}")
    return {name: _expanded(name, t) for name, t in state.items()}


def _expanded(name, t):
    if isinstance(t, torch.Tensor):
        return t.float() if t.is_floating_point() else t
    if not isinstance(t, dict) or set(t) != {"int8", "scale"}:
        got = sorted(t) if isinstance(t, dict) else type(t).__name__
        raise ColorizerError(f"weights entry {name!r} is neither a tensor nor an int8 tensor "
                             f"with its scale (got {got})")
    q, scale = t["int8"], t["scale"]
    if not (isinstance(q, torch.Tensor) and isinstance(scale, torch.Tensor)
            and q.dtype == torch.int8 and scale.is_floating_point() and q.dim() >= 1
            and scale.shape == (q.shape[0], *[1] * (q.dim() - 1))):
        shapes = [tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                  for v in (q, scale)]
        raise ColorizerError(f"weights entry {name!r}: an int8 tensor {shapes[0]} needs one "
                             f"scale per output channel, got {shapes[1]}")
    return q.float() * scale.float()


def write_shipped(path, compacted, facts):
    """The shipped weights as safetensors: each int8 tensor and its scales as tensors
    (`NAME#int8`, `NAME#scale`), the other tensors as they are, and `facts` (the configuration,
    split, training mean, epoch, history) as JSON in the metadata: read without unpickling."""
    from safetensors.torch import save_file

    tensors = {}
    for name, t in compacted.items():
        parts = {f"{name}#{k}": v for k, v in t.items()} if isinstance(t, dict) else {name: t}
        tensors.update({k: v.contiguous() for k, v in parts.items()})
    metadata = {"format": SHIPPED_FORMAT, **{k: json.dumps(v) for k, v in facts.items()}}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    Path(path).chmod(0o644)                     # readable by all, as any other package file


def read_shipped(path):
    """The checkpoint dict that write_shipped stored (weights compacted, as `compact` gives)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise ColorizerError(f"not a readable safetensors file: {path} ({e})") from None
    if metadata.get("format") != SHIPPED_FORMAT:
        raise ColorizerError(f"not a colorizer safetensors file: {path}")
    compacted = {}
    for key, t in tensors.items():
        name, _, part = key.partition("#")
        if part:
            compacted.setdefault(name, {})[part] = t
        else:
            compacted[name] = t
    facts = {k: parse_settings(v, f"{path}: metadata {k!r}") for k, v in metadata.items()
             if k != "format"}
    if not isinstance(facts.get("config"), dict):
        raise ColorizerError(f"{path}: its metadata holds no settings (config)")
    return {"model": compacted, **facts}
