"""Run configuration: every setting once, with its help text and its check; errors."""

import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from .heads import HEADS
from .quantize import TEMPERATURE

# The study's two feature-map tables. Seven stride-2 convolutions take 128 px to 1x1: the six
# widths below, then a seventh convolution that keeps the last width (2x2 -> 1x1).
ARCHS = {
    1: (32, 64, 128, 256, 256, 512),
    2: (8, 16, 32, 64, 128, 256),
}

MODELS = ("colorizer", "regressor")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "wsd")
WARMUP, COOLDOWN = 0.1, 0.3   # wsd: shares of the steps spent warming up and decaying to zero
STEMS = ("conv", "space_to_depth")
STEM_FOLD = 4             # space_to_depth: L* folded 4 x 4 into 16 channels, a quarter the side
PRECISIONS = ("auto", "float32", "bfloat16")
CROP_SCALE, CROP_RATIO = (0.6, 1.0), (3 / 4, 4 / 3)   # a random resized crop: area, aspect
TEST_FRACTION = 0.1       # the study's 90/10 split
SPLIT_SEED = 0            # the fixed test split every figure is reported on
VAL_FRACTION = 0.1        # the share of the training split held out for validation
HOLDOUTS = ("test", "val")
MAX_WIDTH = 1024          # feature maps per layer at most (the widest model here has 512)
MAX_SIDE = 1024           # training side in px at most (the largest trained here: 256)
MAX_ITEMS = 64            # items in a list setting (widths: the deepest model here has 6)
CACHE_MODES = ("auto", "on", "off")
IN_MEMORY_MB = 512        # --cache auto: a set whose float32 Lab would take more is cached on disk
# Settings that say where a run reads and computes and how often it saves, not what it trains
PLACE_SETTINGS = ("data", "device", "cache", "checkpoint_every")
# Settings added after runs were first saved, with the value every run saved before them had
SINCE_ADDED = {"ab_stride": 1, "precision": "float32", "holdout": "test", "stem": "conv"}
# Settings removed (or narrowed), with the version and the values under which a saved model is
# one this code builds; a model saved with another is refused (its result page names the commit
# that ran it). A removed setting saved at a buildable value is dropped when read.
REMOVED = {"fusion": ("0.7.0", (0,)),
           "skips": ("0.7.0 (add) and 0.10.0 (concat)", ("none",)),
           "hints": ("0.9.0", ("none",)),                # a network trained with hints
           "activation": ("0.10.0", ("leaky_relu",)),    # relu and gelu: in no stored run
           "cache_dir": ("0.10.0", None),                # where a run reads: $COLORIZER_CACHE
           "stem_init": ("0.11.0", ("random",))}         # whiten: study_recipe-5min


class ColorizerError(Exception):
    """A problem the user can fix (bad path, bad image, wrong checkpoint): one line, no trace."""


# A settings file or a weights file's JSON metadata is refused past these before it is parsed
MAX_SETTINGS_BYTES = 1 << 20    # a run's history for 10,000 epochs fits in a tenth of this
MAX_NESTING = 32                # a run's settings nest 3 deep


def parse_settings(text, what, toml=False):
    """JSON (or TOML) text a user can hand over, parsed once its size and nesting are bounded:
    the value, or one line naming `what` is wrong with it."""
    if len(text) > MAX_SETTINGS_BYTES:
        raise ColorizerError(f"{what}: over {MAX_SETTINGS_BYTES} bytes of settings")
    depth = deepest = 0
    for ch in text:                     # brackets inside strings count too: a bound, not a parse
        depth += (ch in "[{") - (ch in "]}")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise ColorizerError(f"{what}: nested deeper than {MAX_NESTING}")
    try:
        if toml:
            import tomllib

            return tomllib.loads(text)
        return json.loads(text)
    except (ValueError, RecursionError) as e:       # (tomllib and json errors are ValueErrors)
        raise ColorizerError(f"{what}: not {'TOML' if toml else 'JSON'} ({e})") from None


def read_settings_file(path, what=None):
    """parse_settings of a regular file (a FIFO or a device is refused, not read), its size
    checked before it is read."""
    path, what = Path(path), what or str(path)
    try:
        if not path.is_file():
            raise ColorizerError(f"{what}: not a regular file")
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise ColorizerError(f"{what}: over {MAX_SETTINGS_BYTES} bytes of settings")
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ColorizerError(f"{what}: cannot read it ({e})") from None
    return parse_settings(text, what, toml=path.suffix == ".toml")


def option(default, help, **kw):
    """A Config field with what the command line needs to offer it (help, choices, metavar);
    file_only=True: a setting no figure or user changes from the command line, set in a
    settings file (`train --config FILE`)."""
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class Config:
    """Every setting of a run. The defaults are the project's chosen configuration for the faces
    on a CPU; PRESETS hold the study's own (`--preset study-case1`, ...)."""
    # the model
    model: str = option("colorizer", "a*b* per pixel, or the regressor's mean a*, b*",
                        choices=MODELS)
    head: str = option("sigmoid", "output head; it fixes the target scaling",
                       choices=tuple(HEADS))
    rebalance: bool = option(True, "classify: weight rare colours up (Zhang et al. 2016)")
    temperature: float = option(TEMPERATURE, "classify: annealed-mean temperature", metavar="T",
                                file_only=True)
    widths: tuple = option(ARCHS[2], "encoder widths, comma-separated (or --arch)",
                           metavar="W1,W2,...")
    # The encoder halves the side down to 1x1, repeating the last width where the widths run out
    image_size: int | None = option(None, "training side, a power of 2 [2 ** (len(widths) + 1)]",
                                    metavar="PX", file_only=True)
    # space_to_depth: L* folded STEM_FOLD x STEM_FOLD into channels at a quarter of the side,
    # then one 3x3 convolution to the second width: the first two halvings as one dense operation
    stem: str = option("space_to_depth", "first halvings: conv (the study's) or space_to_depth",
                       choices=STEMS)
    ab_stride: int = option(4, "a*b* at 1/N of the side, upsampled (1: the study's)",
                            metavar="N")
    # the training
    epochs: int = option(41, "epochs of --augment-factor passes over the training split",
                         metavar="N")
    # minutes: the run times its epochs and sets their number so that it ends (evaluation and
    # checkpoints included) within N minutes of its process's start; --epochs is then the
    # first plan only (train.Plan)
    minutes: float | None = option(None, "plan the run by the clock: end within N minutes",
                                   metavar="N")
    lr: float = option(8e-3, "learning rate (the peak of a schedule)", metavar="LR")
    weight_decay: float = option(1e-4, "weight decay (adam: L2 in the gradient)", metavar="WD")
    optimizer: str = option("adamw", "adam (the study's) or adamw", choices=OPTIMIZERS)
    # wsd: a linear warm-up over WARMUP of the steps, stable, a linear decay to zero over COOLDOWN
    schedule: str = option("wsd", "constant (the study's) or wsd (warm-up, stable, decay)",
                           choices=SCHEDULES)
    batch_size: int = option(64, "images per batch", metavar="N")
    # auto: bfloat16 autocast where the device computes it natively (devices.native_bf16:
    # AVX512-BF16 or AMX CPUs, GPUs from Ampere on), else float32; a run saves what it resolved to
    precision: str = option("auto", "forward and loss in float32, bfloat16 or auto (bf16 where "
                            "native)", choices=PRECISIONS)
    seed: int = option(0, "training seed: weights and augmentation (not the split)",
                       metavar="N")
    # val: a fixed, seeded VAL_FRACTION of the training split held out for choosing settings; the
    # test figures are then computed once, at the end, beside the validation ones
    holdout: str = option("test", "scored each epoch on test, or on val (held out)",
                          choices=HOLDOUTS)
    augment_factor: int = option(10, "augmented passes over the training split an epoch",
                                 metavar="N")
    crop_scale: tuple = option(CROP_SCALE, "area fraction of a random resized crop",
                               metavar="MIN,MAX", file_only=True)
    crop_ratio: tuple = option(CROP_RATIO, "aspect range of a random resized crop",
                               metavar="MIN,MAX", file_only=True)
    flip: bool = option(True, "mirror half the training images left-right")
    init_from: str | None = option(None, "start from another run's weights (to fine-tune)",
                                   metavar="CHECKPOINT")
    # the data and where the run computes
    limit: int | None = option(None, "only the first N images (sorted by name)", metavar="N")
    data: str | None = option(None, "image folder [$COLORIZER_DATA, ./face_images]",
                              metavar="DIR")
    # on: decode the images once into an on-disk float16 cache, flat memory; off: float32 in
    # memory; auto: on above IN_MEMORY_MB of float32 images
    cache: str = option("auto", f"on-disk image cache (auto: above {IN_MEMORY_MB} MB)",
                        choices=CACHE_MODES)
    device: str = option("auto", "auto (CUDA if present), cpu, cuda, cuda:1, ...",
                         metavar="DEVICE")
    checkpoint_every: int = option(1, "write the checkpoint every N epochs and after the last",
                                   metavar="N", file_only=True)

    def __post_init__(self):
        for f in fields(self):                  # kinds first: nothing below sees a wrong one
            _check_kind(f, getattr(self, f.name))
        self.widths = tuple(int(w) for w in self.widths)
        if self.image_size is None:
            self.image_size = 2 ** (len(self.widths) + 1)
        self.crop_scale = tuple(float(v) for v in self.crop_scale)
        self.crop_ratio = tuple(float(v) for v in self.crop_ratio)
        for f in fields(self):
            value = getattr(self, f.name)
            if "choices" in f.metadata and value not in f.metadata["choices"]:
                _refuse(f.name, "one of " + ", ".join(f.metadata["choices"]), value)
        for name, accepts, ok in _checks(self):
            if not ok:
                _refuse(name, accepts, getattr(self, name))

    @property
    def depth(self):
        """How many stride-2 convolutions take image_size to 1x1."""
        return self.image_size.bit_length() - 1

    def to_dict(self):
        return asdict(self)

    def trains_like(self, other):
        """Whether `other` trains the same run (it may read from elsewhere: PLACE_SETTINGS)."""
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self)
                   if f.name not in PLACE_SETTINGS)

    @classmethod
    def from_dict(cls, d):
        """The Config a saved dict describes (read through `migrate`)."""
        try:
            return cls(**migrate(d))
        except (TypeError, ValueError, OverflowError) as e:      # a value of the wrong kind
            raise ColorizerError(f"unreadable settings ({e})") from None


def migrate(d):
    """A run's saved settings as today's Config takes them: a setting added since it was saved
    takes the value the run trained with (SINCE_ADDED), not today's default; a setting that
    no longer exists is dropped, or refused where the model it built is one this code cannot
    (REMOVED)."""
    if not isinstance(d, dict):
        raise ColorizerError(f"settings must be a mapping, got {type(d).__name__}")
    for name, (version, buildable) in REMOVED.items():
        if name in d and buildable is not None and d[name] not in buildable:
            raise ColorizerError(f"this model was trained with --{name} {d[name]}, removed in "
                                 f"{version} (its result page names the commit that can load it)")
    known = {f.name for f in fields(Config)}
    return {**SINCE_ADDED, **{k: v for k, v in d.items() if k in known}}


@dataclass(frozen=True)
class DemoLimits:
    """What one request to the demo may upload (docs/usage.md, "Security")."""
    max_file_mb: float = 25         # per file (Gradio refuses larger uploads itself)
    max_pixels: int = 50_000_000    # per image, from its header: ~25 bytes a pixel to colorize
    max_files: int = 16             # per request


# Named configurations, `train --preset NAME`: each the few settings it changes from the
# defaults above (the project's own choice, docs/results.md)
STUDY_CASES = {"study-case1": dict(widths=ARCHS[1], epochs=100, lr=5e-3, weight_decay=1e-7),
               "study-case2": dict(widths=ARCHS[1], epochs=400, lr=1e-4, weight_decay=1e-5),
               "study-arch2": dict(widths=ARCHS[2], epochs=50, lr=5e-3, weight_decay=1e-7)}
STUDY_TRAINING = dict(optimizer="adam", schedule="constant", stem="conv", ab_stride=1,
                      precision="float32")
PRESETS = {
    # the study's table: Architecture 1 with its two hyper-parameter cases, and its
    # Architecture 2 setting (given for both of that architecture's "cases"); the study's Adam
    # at a constant rate, stride-2 convolutions from L*, a*b* at the full side, float32
    **{name: {**STUDY_TRAINING, **case} for name, case in STUDY_CASES.items()},
    # the study's training at a CPU's budget (tanh, lr 1e-3, 6 epochs): the notebook's
    # short study sections
    "study-short": {**STUDY_TRAINING, "head": "tanh", "lr": 1e-3, "weight_decay": 1e-7,
                    "epochs": 6},
    # the project's training before the space-to-depth stem, bfloat16 and the rate of 0.11.0
    # (the speed reference), and the same with a*b* at the full side
    "quarter-side": dict(stem="conv", precision="float32", lr=2e-3, epochs=28),
    "full-side": dict(stem="conv", precision="float32", lr=2e-3, ab_stride=1, epochs=20),
}


def preset(name, **kw):
    """A Config from a named preset, `kw` over it."""
    return Config(**{**PRESETS[name], **kw})


def option_words(cfg, reference):
    """The `train` options that turn `reference` into `cfg` (what a run trains with, not where
    it reads or its seed), e.g. '--widths 32,64,128,256,256,512 --epochs 6'."""
    words = []
    for f in fields(Config):
        value = getattr(cfg, f.name)
        planned = f.name == "epochs" and cfg.minutes is not None     # (--minutes plans them)
        if f.name in (*PLACE_SETTINGS, "seed", "image_size") or planned or value == getattr(
                reference, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            words += [flag, ",".join(map(str, value))]
        else:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(words)


def _checks(c):
    """(field, what it accepts, whether the value is accepted), one row per rule."""
    return [
        ("head", "sigmoid or tanh for the regressor (classify is per pixel)",
         not (c.model == "regressor" and c.head == "classify")),
        ("temperature", "a positive finite number", _positive(c.temperature)),
        ("stem", "conv where there are fewer than two widths to fold into",
         c.stem == "conv" or len(c.widths) >= 2),
        ("widths", f"one or more whole numbers from 1 to {MAX_WIDTH}",
         c.widths and 0 < min(c.widths) and max(c.widths) <= MAX_WIDTH),
        ("image_size", f"a power of 2 from {2 ** len(c.widths)} (one halving per width at least) "
         f"to {MAX_SIDE}",
         2 ** len(c.widths) <= c.image_size <= MAX_SIDE and _power_of_2(c.image_size)),
        ("ab_stride", "a power of 2 below the image size",
         _power_of_2(c.ab_stride) and c.ab_stride < c.image_size),
        ("epochs", "a whole number >= 1", c.epochs >= 1),
        ("minutes", "a positive number of minutes", c.minutes is None or _positive(c.minutes)),
        ("lr", "a positive finite number", _positive(c.lr)),
        ("weight_decay", "a finite number >= 0", _positive(c.weight_decay, zero=True)),
        # BatchNorm at the 1x1 bottleneck cannot normalise a single value
        ("batch_size", "a whole number >= 2", c.batch_size >= 2),
        ("seed", "a whole number >= 0", c.seed >= 0),
        ("augment_factor", "a whole number >= 1", c.augment_factor >= 1),
        ("crop_scale", "MIN,MAX with 0 < MIN <= MAX <= 1",
         len(c.crop_scale) == 2 and 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1),
        ("crop_ratio", "MIN,MAX with 0 < MIN <= MAX",
         len(c.crop_ratio) == 2 and 0 < c.crop_ratio[0] <= c.crop_ratio[1]),
        # a split needs one image for training and one for test
        ("limit", "a whole number >= 2", c.limit is None or c.limit >= 2),
        ("data", "a folder, not a file", c.data is None or not Path(c.data).is_file()),
        ("device", "auto, cpu, cuda or cuda:N", _device_ok(c.device)),
        ("checkpoint_every", "a whole number >= 1", c.checkpoint_every >= 1),
    ]


def check_inputs(c):
    """Refuse a run whose starting weights are missing, on one line. Checked when a run starts,
    not when settings are read: a checkpoint names the file its run started from, and loads
    wherever that went since."""
    if c.init_from and not Path(c.init_from).is_file():
        _refuse("init_from", "an existing checkpoint file", c.init_from)


def _check_kind(f, value):
    """Refuse a value of the wrong kind for field `f`, on one line: an int setting takes a whole
    number (not 128.0, not "five", not True), a float setting a number, a tuple setting a list of
    numbers (widths: of whole numbers), a text setting text; None only where the field allows it."""
    kinds = [k for k in (typing.get_args(f.type) or (f.type,)) if k is not type(None)]
    if value is None and len(kinds) < len(typing.get_args(f.type) or (f.type,)):
        return
    kind = kinds[0]
    if kind is tuple:
        number = int if f.name == "widths" else (int, float)
        ok = isinstance(value, (list, tuple)) and 0 < len(value) <= MAX_ITEMS and all(
            isinstance(v, number) and not isinstance(v, bool) for v in value)
        accepts = "a list of whole numbers" if f.name == "widths" else "a list of numbers"
    elif kind is float:
        ok, accepts = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif kind is int:
        ok, accepts = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    else:
        ok, accepts = isinstance(value, kind), {str: "text", bool: "true or false"}[kind]
    if not ok:
        _refuse(f.name, accepts, value)


def _power_of_2(n):
    return n >= 1 and n & (n - 1) == 0


def _positive(x, zero=False):
    return math.isfinite(x) and (x >= 0 if zero else x > 0)


def _device_ok(name):
    if name == "auto":
        return True
    try:
        torch.device(name)
    except (RuntimeError, TypeError):
        return False
    return True


def _refuse(name, accepts, value):
    """One line naming the setting as the user gives it: its option, or its name in a settings
    file (file_only)."""
    f = next(f for f in fields(Config) if f.name == name)
    given = name if f.metadata.get("file_only") else "--" + name.replace("_", "-")
    raise ColorizerError(f"{given} takes {accepts}; got {value!r}")
