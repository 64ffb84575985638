"""colorizer: predict the a*b* chroma of a CIE L*a*b* image from its lightness L*."""

__version__ = "0.11.0"        # the one place it is written (pyproject reads it; CHANGELOG.md)

from . import quantize
from .checkpoint import load_checkpoint, load_model, restore, save_checkpoint
from .config import ARCHS, ColorizerError, Config
from .data import (
                   LabImages,
                   ab_mean,
                   lab_to_rgb,
                   load_images,
                   random_resized_crop,
                   read_image,
                   resolve_data_dir,
                   rgb_to_lab,
                   split,
                   split_names,
)
from .devices import get_device
from .evaluation import evaluate, predict
from .hints import Hint
from .metrics import ab_mse, mean_ab_mse
from .models import Colorizer, Regressor, build_model, decode_ab, encode_ab
from .train import Run, Training, fit, train_one_epoch
from .viz import (
                   plot_loss,
                   save_triples,
                   show_augmented,
                   show_channels,
                   show_hinted,
                   show_triples,
                   side_by_side,
                   triples,
)

# The serving part (colorizer.serving), loaded when first asked for: `import colorizer` and
# `python -m colorizer train` load the core alone
_SERVING = {"pretrained": "pretrained", "from_pretrained": "hub", "save_pretrained": "hub"}


def __getattr__(name):
    if name in _SERVING:
        import importlib

        return getattr(importlib.import_module(f".serving.{_SERVING[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "ARCHS", "ColorizerError", "Config", "get_device", "Hint",
    "LabImages", "ab_mean", "lab_to_rgb", "load_images", "read_image", "resolve_data_dir",
    "rgb_to_lab", "split", "split_names", "random_resized_crop", "ab_mse", "mean_ab_mse",
    "Colorizer", "Regressor", "build_model", "decode_ab", "encode_ab",
    "Run", "evaluate", "fit", "load_checkpoint", "load_model", "predict", "restore",
    "save_checkpoint", "train_one_epoch", "Training",
    "plot_loss", "save_triples", "show_augmented", "show_channels", "show_hinted",
    "show_triples", "side_by_side", "pretrained", "triples", "quantize", "from_pretrained",
    "save_pretrained",
]
