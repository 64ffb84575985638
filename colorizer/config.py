"""Run configuration, width presets, errors and device choice."""

from dataclasses import asdict, dataclass, fields

import torch

# The study's two feature-map tables. Seven stride-2 convolutions take 128 px to 1x1: the six
# widths below, then a seventh convolution that keeps the last width (2x2 -> 1x1).
ARCHS = {
    1: (32, 64, 128, 256, 256, 512),
    2: (8, 16, 32, 64, 128, 256),
}

MODELS = ("colorizer", "regressor")
HEADS = ("sigmoid", "tanh", "classify")


class ColorizerError(Exception):
    """A problem the user can fix (bad path, bad image, wrong checkpoint): one line, no trace."""


@dataclass
class Config:
    model: str = "colorizer"          # "colorizer" (per-pixel a*b*) or "regressor" (mean a*, b*)
    head: str = "tanh"                # output head, which also fixes the target scaling
    rebalance: bool = True            # classify head: weight rare colours up (Zhang et al. 2016)
    temperature: float = 0.38         # classify head: annealed-mean decoding
    widths: tuple = ARCHS[2]
    # LeakyReLU(0.2): with plain ReLU the colorizer sat at the mean a*b* for the first epochs
    activation: str = "leaky_relu"
    epochs: int = 6
    lr: float = 1e-3
    weight_decay: float = 1e-7
    batch_size: int = 64
    seed: int = 0
    image_size: int = 128
    test_fraction: float = 0.1
    augment_factor: int = 10          # passes over the training split per epoch, each augmented
    crop_scale: tuple = (0.6, 1.0)    # area fraction of a random resized crop
    crop_ratio: tuple = (3 / 4, 4 / 3)
    flip: bool = True
    limit: int | None = None          # use only the first N images (sorted by name)
    data: str | None = None           # data folder; None: $COLORIZER_DATA, then ./face_images
    device: str = "auto"

    def __post_init__(self):
        if self.model not in MODELS:
            raise ColorizerError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.head not in HEADS:
            raise ColorizerError(f"unknown head {self.head!r}; choose one of {', '.join(HEADS)}")
        if self.head == "classify" and self.model != "colorizer":
            raise ColorizerError("the classify head is for the colorizer, not the regressor")
        self.widths = tuple(int(w) for w in self.widths)
        self.crop_scale = tuple(self.crop_scale)
        self.crop_ratio = tuple(self.crop_ratio)
        if self.image_size != 2 ** (len(self.widths) + 1):
            raise ColorizerError(
                f"{len(self.widths)} widths reduce {2 ** (len(self.widths) + 1)} px to 1x1, "
                f"not image_size={self.image_size}")

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def get_device(device="auto"):
    """CUDA when present, else CPU; an explicit name ("cpu", "cuda:1") is taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
