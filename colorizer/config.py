"""Run configuration: every setting once, with its help text and its check; errors."""

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from .quantize import TEMPERATURE

# The study's two feature-map tables. Seven stride-2 convolutions take 128 px to 1x1: the six
# widths below, then a seventh convolution that keeps the last width (2x2 -> 1x1).
ARCHS = {
    1: (32, 64, 128, 256, 256, 512),
    2: (8, 16, 32, 64, 128, 256),
}

MODELS = ("colorizer", "regressor")
HEADS = ("sigmoid", "tanh", "classify")
ACTIVATIONS = ("relu", "leaky_relu", "gelu")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine", "wsd")
SKIPS = ("none", "add", "concat")
STEMS = ("conv", "space_to_depth")
STEM_FOLD = 4             # space_to_depth: L* folded 4 x 4 into 16 channels, a quarter the side
CLASSIFY_DOWNSAMPLE = 4   # the classify head scores a*b* bins at 1/4 of the side (32 of 128 px)
PRECISIONS = ("auto", "float32", "bfloat16")
TEST_FRACTION = 0.1       # the study's 90/10 split
SPLIT_SEED = 0            # the fixed test split every figure is reported on
VAL_FRACTION = 0.1        # the share of the training split held out for validation
HOLDOUTS = ("test", "val")
MAX_WIDTH = 1024          # feature maps per layer at most (the widest model here has 512)
MAX_SIDE = 1024           # training side in px at most (the largest trained here: 256)
CACHE_MODES = ("auto", "on", "off")
IN_MEMORY_MB = 512        # --cache auto: a set whose float32 Lab would take more is cached on disk
# Settings that say where a run reads and computes and how often it saves, not what it trains
PLACE_SETTINGS = ("data", "device", "cache", "cache_dir", "checkpoint_every")
# Settings added after runs were first saved, with the value every run saved before them had
SINCE_ADDED = {"ab_stride": 1, "fused": False, "precision": "float32", "holdout": "test",
               "stem": "conv", "teachers": (), "distill": 0.0, "fusion": 0}


class ColorizerError(Exception):
    """A problem the user can fix (bad path, bad image, wrong checkpoint): one line, no trace."""


def option(default, help, **kw):
    """A Config field with what the command line needs to offer it (help, choices, metavar)."""
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class Config:
    """Every setting of a run. The defaults are the project's chosen configuration for the faces
    on a CPU (PRESETS[DEFAULT_PRESET]); PRESETS["study-short"] holds the study's own."""
    model: str = option("colorizer", "colorizer (per-pixel a*b*) or regressor (mean a*, b*)",
                        choices=MODELS)
    head: str = option("sigmoid", "output head, which also fixes the target scaling", choices=HEADS)
    rebalance: bool = option(True, "classify head: weight rare colours up (Zhang et al. 2016)")
    temperature: float = option(TEMPERATURE, "classify head: annealed-mean temperature "
                                "(T -> 0: mode, 1: mean)")
    widths: tuple = option(ARCHS[2], "comma-separated encoder widths (or --arch)",
                           metavar="W1,W2,...")
    image_size: int | None = option(None, "training side in px, a power of 2: the encoder halves "
                                    "it down to 1x1, repeating the last width where the widths "
                                    "run out (default: one halving per width and one more, "
                                    "128 px for the study's six widths)", metavar="PX")
    skips: str = option("none", "colorizer: the study's bottleneck alone (none), or each encoder "
                        "map added to (add) or stacked onto (concat) the decoder map of its size",
                        choices=SKIPS)
    fusion: int = option(0, "colorizer: 0 (the decoder starts from the 1x1 code alone), or a "
                         "side in px where it starts instead, from the encoder's map of that "
                         "side with the 1x1 code stacked onto every position, mixed by a 1x1 "
                         "convolution (Iizuka et al. 2016's fusion of global and local "
                         "features)", metavar="PX")
    stem: str = option("space_to_depth", "the encoder's first halvings: conv (the study's stride-2 "
                       "convolutions from the 1-channel L*), or space_to_depth (L* folded "
                       f"{STEM_FOLD} x {STEM_FOLD} into {STEM_FOLD ** 2} channels at a quarter "
                       "of the side, then one 3x3 convolution to the second width: the first two "
                       "halvings as one dense operation)", choices=STEMS)
    ab_stride: int = option(4, "sigmoid / tanh colorizer: predict a*b* at 1/N of the side, N a "
                            "power of 2, upsampled bilinearly to the full side (1: the study's "
                            "full-side output; the classify head always scores at 1/4)",
                            metavar="N")
    # LeakyReLU(0.2): with plain ReLU the colorizer sat at the mean a*b* for the first epochs
    activation: str = option("leaky_relu", "activation after each BatchNorm", choices=ACTIVATIONS)
    epochs: int = option(41, "epochs, each --augment-factor augmented passes over the training "
                         "split")
    lr: float = option(2e-3, "learning rate (the peak of a schedule)")
    weight_decay: float = option(1e-4, "weight decay (Adam: L2 in the gradient; AdamW: decoupled)")
    optimizer: str = option("adamw", "adam (the study's) or adamw", choices=OPTIMIZERS)
    fused: bool = option(True, "adam / adamw: the whole update as one fused kernel (faster, "
                         "most on a CPU; the same update up to rounding)")
    schedule: str = option("wsd", "learning rate over the run: constant (the study's), "
                           "onecycle, cosine after a linear warm-up, or wsd (warm-up, stable, "
                           "then a linear decay to zero over --cooldown)", choices=SCHEDULES)
    warmup: float = option(0.1, "onecycle / cosine / wsd: share of the steps spent warming up")
    cooldown: float = option(0.3, "wsd: share of the steps spent decaying to zero at the end")
    ema: float = option(0.0, "decay per step of an exponential moving average of the weights, "
                        "which is then what is evaluated and saved, its BatchNorm statistics "
                        "measured again at the end (0: off)")
    batch_size: int = option(64, "images per batch")
    precision: str = option("auto", "training's forward pass and loss: float32, bfloat16 "
                            "autocast, or auto: bfloat16 where the device computes it natively "
                            "(`colorizer.devices.native_bf16`: AVX512-BF16 or AMX CPUs, GPUs "
                            "from Ampere on), else float32; a run's saved settings say which "
                            "(evaluation stays float32)", choices=PRECISIONS)
    seed: int = option(0, "training seed: initial weights and augmentation (not the split)")
    split_seed: int = option(SPLIT_SEED, "seed of the train/test split (every figure here: 0)")
    test_fraction: float = option(TEST_FRACTION, "share of the images held out for test")
    holdout: str = option("test", "what each epoch and the run are scored on: test (training on "
                          "the whole training split), or val: a fixed, seeded "
                          f"{VAL_FRACTION:.0%} of the training split held out from training, "
                          "for choosing settings (the test figures are computed once, at the "
                          "end, beside the validation ones)", choices=HOLDOUTS)
    augment_factor: int = option(10, "augmented passes over the training split per epoch")
    crop_scale: tuple = option((0.6, 1.0), "area fraction of a random resized crop",
                               metavar="MIN,MAX")
    crop_ratio: tuple = option((3 / 4, 4 / 3), "aspect range of a random resized crop",
                               metavar="MIN,MAX")
    flip: bool = option(True, "mirror half the training images left-right")
    init_from: str | None = option(None, "start from the weights of another run's checkpoint "
                                   "(same model and head), e.g. to fine-tune on your own photos",
                                   metavar="CHECKPOINT")
    teachers: tuple = option((), "colorizer checkpoints whose mean a*b* the run learns beside "
                             "the truth, --distill of it (colorizer.distill)",
                             metavar="CKPT,CKPT")
    distill: float = option(0.0, "with --teachers: the share of the teachers' mean in the "
                            "target a*b* (0: the truth alone, 1: the teachers' alone)")
    limit: int | None = option(None, "use only the first N images (sorted by name), for quick runs")
    data: str | None = option(None, "image folder (default: $COLORIZER_DATA, then ./face_images)")
    cache: str = option("auto", "decode the images once into an on-disk float16 cache and train "
                        "from it (flat memory): on, off (float32 in memory), or auto (on above "
                        f"{IN_MEMORY_MB} MB of float32 images)", choices=CACHE_MODES)
    cache_dir: str | None = option(None, "where the cache lives, outside the data folder "
                                   "(default: $COLORIZER_CACHE, else ~/.cache/colorizer)",
                                   metavar="DIR")
    device: str = option("auto", "auto (CUDA if present), cpu, cuda, cuda:1, ...")
    checkpoint_every: int = option(1, "write the run's checkpoint every N epochs, and always after "
                                   "the last (a killed run loses at most N epochs)", metavar="N")

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if self.image_size is None:
            self.image_size = 2 ** (len(self.widths) + 1)
        self.crop_scale = tuple(float(v) for v in self.crop_scale)
        self.crop_ratio = tuple(float(v) for v in self.crop_ratio)
        self.teachers = tuple(str(p) for p in self.teachers)
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
        """The Config a saved dict describes; a setting added since it was saved takes the value
        that the run trained with (SINCE_ADDED), not today's default."""
        if not isinstance(d, dict):
            raise ColorizerError(f"settings must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{**SINCE_ADDED, **{k: v for k, v in d.items() if k in known}})
        except (TypeError, ValueError, OverflowError) as e:      # a value of the wrong kind
            raise ColorizerError(f"unreadable settings ({e})") from None


# Named configurations, `train --preset NAME`, each spelling out every training setting, so that
# a name keeps its meaning whatever the defaults become (result files and tables use these names):
# quarter-side: the project's `train` settings since they were chosen (a*b* at a quarter of the
#   side, fused AdamW, warm-up-stable-decay to 2e-3, 28 epochs: benchmarks/results/design_10min.md);
# full-side: the same with a*b* at the full side, the plain optimizer, 20 epochs (wsd.md);
# space-to-depth: quarter-side with the space-to-depth stem at the 41 epochs that ten minutes of
#   this CPU buy it (quiet epoch time 14.4 s; chosen on validation over three seeds against
#   quarter-side at its ten minutes: benchmarks/results/study_time-10min.md); the project's
#   `train` settings on 2026-12-02;
# auto-precision: space-to-depth with bfloat16 autocast where the device computes it natively,
#   float32 elsewhere (so space-to-depth itself on an AVX2 CPU): on an AVX512-BF16 CPU its whole
#   training step runs 1.23x the images/s of float32 (levers_pipeline.md), and at ten minutes
#   there its validation error cannot be told from float32's over three seeds (7.95 ± 0.23
#   against 8.09 ± 0.12 units², though its probe gave it only 4 % more epochs:
#   study_precision-10min.md): the same error for less time; `train`'s settings since 2026-12-03;
# study-short: the study's optimizer (Adam at a constant rate) at a CPU's budget, with the tanh
#   head, lr 1e-3 and 6 epochs: none of the study's cases, what the notebook's short study
#   sections train with (named `study` before 0.7.0);
# study-case1, study-case2: the study's Architecture 1 (32..512) with its two hyper-parameter
#   cases exactly as its table gives them (100 epochs, lr 5e-3, wd 1e-7; 400 epochs, lr 1e-4,
#   wd 1e-5), Adam at a constant rate, the conv stem, a*b* at the full side, float32;
# study-arch2: the study's Architecture 2 (8..256) setting, which its table gives for both of
#   that architecture's "cases" (50 epochs, lr 5e-3, wd 1e-7).
_QUARTER_SIDE = dict(model="colorizer", head="sigmoid", rebalance=True, temperature=TEMPERATURE,
                     widths=ARCHS[2], skips="none", fusion=0, stem="conv", ab_stride=4,
                     activation="leaky_relu",
                     epochs=28, lr=2e-3, weight_decay=1e-4, optimizer="adamw", fused=True,
                     schedule="wsd", warmup=0.1, cooldown=0.3, ema=0.0, batch_size=64,
                     precision="float32", augment_factor=10, crop_scale=(0.6, 1.0),
                     crop_ratio=(3 / 4, 4 / 3), flip=True)
_STUDY = {**_QUARTER_SIDE, "optimizer": "adam", "schedule": "constant", "fused": False,
          "ab_stride": 1, "stem": "conv", "precision": "float32"}
STUDY_CASES = {"study-case1": dict(widths=ARCHS[1], epochs=100, lr=5e-3, weight_decay=1e-7),
               "study-case2": dict(widths=ARCHS[1], epochs=400, lr=1e-4, weight_decay=1e-5),
               "study-arch2": dict(widths=ARCHS[2], epochs=50, lr=5e-3, weight_decay=1e-7)}
PRESETS = {"quarter-side": _QUARTER_SIDE,
           "space-to-depth": {**_QUARTER_SIDE, "stem": "space_to_depth", "epochs": 41},
           "auto-precision": {**_QUARTER_SIDE, "stem": "space_to_depth", "epochs": 41,
                              "precision": "auto"},
           "full-side": {**_QUARTER_SIDE, "ab_stride": 1, "fused": False, "epochs": 20},
           "study-short": {**_STUDY, "head": "tanh", "lr": 1e-3, "weight_decay": 1e-7,
                           "epochs": 6},
           **{name: {**_STUDY, **case} for name, case in STUDY_CASES.items()}}
DEFAULT_PRESET = "auto-precision"     # what Config()'s defaults are (a test holds them to it)


def preset(name, **kw):
    """A Config from a named preset, `kw` over it."""
    return Config(**{**PRESETS[name], **kw})


def option_words(cfg, reference):
    """The `train` options that turn `reference` into `cfg` (what a run trains with, not where
    it reads or its seed), e.g. '--widths 32,64,128,256,256,512 --epochs 6'."""
    words = []
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if f.name in (*PLACE_SETTINGS, "seed", "image_size") or value == getattr(reference,
                                                                                  f.name):
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
        ("skips", "none for the regressor (it has no decoder)",
         c.model == "colorizer" or c.skips == "none"),
        ("fusion", "0, or a power of 2 from 2 below the colorizer's output side where the "
         "encoder has a map (with --skips none)", c.fusion == 0 or _fusion_ok(c)),
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
        ("lr", "a positive finite number", _positive(c.lr)),
        ("weight_decay", "a finite number >= 0", _positive(c.weight_decay, zero=True)),
        # BatchNorm at the 1x1 bottleneck cannot normalise a single value
        ("batch_size", "a whole number >= 2", c.batch_size >= 2),
        ("warmup", "a number in [0, 1)", 0 <= c.warmup < 1),
        ("cooldown", "a number in (0, 1] that leaves room for --warmup",
         0 < c.cooldown <= 1 and c.warmup + c.cooldown <= 1),
        ("ema", "a number in [0, 1)", 0 <= c.ema < 1),
        ("seed", "a whole number >= 0", c.seed >= 0),
        ("split_seed", "a whole number >= 0", c.split_seed >= 0),
        ("test_fraction", "a number between 0 and 1 (exclusive)", 0 < c.test_fraction < 1),
        ("augment_factor", "a whole number >= 1", c.augment_factor >= 1),
        ("crop_scale", "MIN,MAX with 0 < MIN <= MAX <= 1",
         len(c.crop_scale) == 2 and 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1),
        ("crop_ratio", "MIN,MAX with 0 < MIN <= MAX",
         len(c.crop_ratio) == 2 and 0 < c.crop_ratio[0] <= c.crop_ratio[1]),
        # a split needs one image for training and one for test
        ("limit", "a whole number >= 2", c.limit is None or c.limit >= 2),
        ("data", "a folder, not a file", c.data is None or not Path(c.data).is_file()),
        ("distill", "a number in (0, 1] with --teachers, else 0",
         0 < c.distill <= 1 if c.teachers else c.distill == 0),
        ("teachers", "colorizer checkpoints, for a colorizer",
         not c.teachers or c.model == "colorizer"),
        ("device", "auto, cpu, cuda or cuda:N", _device_ok(c.device)),
        ("checkpoint_every", "a whole number >= 1", c.checkpoint_every >= 1),
    ]


def check_inputs(c):
    """Refuse a run whose starting weights or teachers are missing, on one line. Checked when a
    run starts, not when settings are read: a checkpoint names the files its run started from,
    and loads wherever those went since."""
    for name, paths in (("init_from", [c.init_from] if c.init_from else []),
                        ("teachers", c.teachers)):
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            _refuse(name, "existing checkpoint files" if name == "teachers" else
                    "an existing checkpoint file", missing[0])


def _fusion_ok(c):
    """Whether the encoder has a map at side c.fusion and the decoder at least one layer past it."""
    output_side = c.image_size // (CLASSIFY_DOWNSAMPLE if c.head == "classify" else c.ab_stride)
    largest_map = c.image_size // (STEM_FOLD if c.stem == "space_to_depth" else 2)
    return (c.model == "colorizer" and c.skips == "none" and _power_of_2(c.fusion)
            and 2 <= c.fusion < output_side and c.fusion <= largest_map)


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
    raise ColorizerError(f"--{name.replace('_', '-')} takes {accepts}; got {value!r}")
