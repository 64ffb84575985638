"""The colorizer the package ships, loaded (research.shipping makes it)."""

from pathlib import Path

import torch

from ..checkpoint import MODEL_FILE, load_model
from ..config import ColorizerError
from ..devices import get_device

# The shipped model as a model folder (hub.save_pretrained's layout): weights, settings, card
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS = SHIPPED_DIR / MODEL_FILE
CARD = SHIPPED_DIR / "README.md"


def shipped_weights():
    """The shipped checkpoint's path, or one clear line where this copy of the package has none."""
    if not WEIGHTS.is_file():
        raise ColorizerError(f"no shipped model at {WEIGHTS} (this copy of the package has none)")
    return WEIGHTS


def shipped_name():
    """The shipped model by name and the first 12 hex digits of its file's SHA-256."""
    import hashlib

    return ("shipped colorizer, sha256 "
            + hashlib.sha256(shipped_weights().read_bytes()).hexdigest()[:12])


def pretrained(device: str | torch.device | None = None) -> torch.nn.Module:
    """The shipped colorizer in eval mode, on `device` (default: CUDA if present, else CPU). It
    takes colour points too (predict(..., hints=...)): its hint part carries them over its
    prediction, and without them it is the prediction itself."""
    model, _ = load_model(shipped_weights(), device or get_device())
    return model
