"""The colorizer the package ships, loaded (research.shipping makes it)."""

from pathlib import Path

import torch

from .checkpoint import load_model
from .config import ColorizerError
from .devices import get_device

# The shipped model as a model folder (hub.save_pretrained's layout): weights, settings, card
SHIPPED = Path(__file__).resolve().parent / "weights"
WEIGHTS = SHIPPED / "model.safetensors"
CARD = SHIPPED / "README.md"
# The shipped colorizer that takes colour hints, where the default does not (research.shipping)
HINTED = Path(__file__).resolve().parent / "weights-hints"


def shipped_weights(hints=False):
    """The shipped checkpoint's path (`hints`: the one that takes colour hints), or one clear
    line where this copy of the package has none."""
    weights = HINTED / WEIGHTS.name if hints and HINTED.is_dir() else WEIGHTS
    if not weights.is_file():
        raise ColorizerError(f"no shipped model at {weights} (this copy of the package has none)")
    return weights


def shipped_name(hints=False):
    """The shipped model by name and the first 12 hex digits of its file's SHA-256."""
    import hashlib

    return ("shipped colorizer, sha256 "
            + hashlib.sha256(shipped_weights(hints).read_bytes()).hexdigest()[:12])


def pretrained(device: str | torch.device | None = None, hints: bool = False) -> torch.nn.Module:
    """The shipped colorizer in eval mode, on `device` (default: CUDA if present, else CPU);
    `hints`: the shipped colorizer that takes colour hints."""
    model, _ = load_model(shipped_weights(hints), device or get_device())
    return model
