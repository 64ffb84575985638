"""The shipped weights' format: int8 with a scale per output channel, in safetensors with the
run's facts as JSON metadata (read without unpickling). Its own module: checkpoint reads it,
shipping writes it, neither imports the other."""

import json
from pathlib import Path

import torch

from .config import ColorizerError
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
    """The float32 state dict a compacted one stands for (plain state dicts pass through)."""
    return {name: (t["int8"].float() * t["scale"] if isinstance(t, dict) else
                   t.float() if t.is_floating_point() else t)
            for name, t in state.items()}


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
    return {"model": compacted, **{k: json.loads(v) for k, v in metadata.items()
                                   if k != "format"}}
