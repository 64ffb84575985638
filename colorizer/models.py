"""The Regressor and the Colorizer, built from a Config; their heads (colorizer.heads) looked up
by name; their loss."""

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import quantize
from .config import STEM_FOLD, ColorizerError, Config
from .heads import CLASSIFY_DOWNSAMPLE, HEADS, Sigmoid, Tanh
from .spread import Spread

# L* in [0, 100] is centred and scaled before the first convolution (as Zhang et al.'s l_cent,
# l_norm). Each head maps raw a*b* into its output range and back; the sigmoid scaling
# (ab + 128) / 255 is the study's own, so its loss is comparable with the study's table.
L_CENT, L_NORM = 50.0, 100.0


def normalize_l(L):
    return (L - L_CENT) / L_NORM


def head(name):
    """The head of that name, or one line naming the heads there are."""
    if name not in HEADS:
        raise ColorizerError(f"unknown head {name!r}; one of {', '.join(HEADS)}")
    return HEADS[name]


def encode_ab(ab, name):
    """Raw a*b* -> the head's range: (0, 1) for sigmoid, (-1, 1) for tanh (Head.encode; the
    classify head has no such map: see colorizer.quantize)."""
    if not isinstance(head(name), (Sigmoid, Tanh)):
        raise ColorizerError(f"the {name} head has no range to encode into")
    return head(name).encode(ab)


def decode_ab(y, name):
    """The head's output -> raw a*b*; the inverse of encode_ab."""
    return head(name).decode(y)


LEAKY_SLOPE = 0.2         # with plain ReLU the colorizer sat at the mean a*b* for its first epochs


def _activation():
    """LeakyReLU, in place: it overwrites its BatchNorm's output, which backward does not need."""
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)


# At the 1x1 bottleneck the k=4, s=2, p=1 convolutions are matrix products over the kernel's
# central 2x2 taps (the rest meet only padding): computed as such, since oneDNN runs them as
# padded 4x4 kernels several times slower (docs/design.md). Same parameters, same numbers.
class Down(nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 4, 2, 1); on a 2x2 input, computed as the product it is."""

    def __init__(self, c_in, c_out, bias=False):
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)

    def forward(self, x):
        if x.shape[-2:] != (2, 2):
            return super().forward(x)
        w = self.weight[:, :, 1:3, 1:3].flatten(1)                     # (c_out, c_in * 4)
        return F.linear(x.flatten(1), w, self.bias)[:, :, None, None]  # (B, c_out, 1, 1)


class Up(nn.ConvTranspose2d):
    """nn.ConvTranspose2d(c_in, c_out, 4, 2, 1); on a 1x1 input, computed as the product it is."""

    def __init__(self, c_in, c_out, bias=False):
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)

    def forward(self, x, output_size=None):
        if x.shape[-2:] != (1, 1) or output_size is not None:
            return super().forward(x, output_size)
        w = self.weight[:, :, 1:3, 1:3]                                # (c_in, c_out, 2, 2)
        y = (x.flatten(1) @ w.flatten(1)).view(-1, *w.shape[1:])      # (B, c_out, 2, 2)
        return y if self.bias is None else y + self.bias[:, None, None]


def _down(c_in, c_out):
    return [Down(c_in, c_out), nn.BatchNorm2d(c_out), _activation()]


def _up(c_in, c_out):
    return [Up(c_in, c_out), nn.BatchNorm2d(c_out), _activation()]


def ladder(widths, depth=None):
    """The width after each of `depth` halvings: `widths`, then its last width repeated
    (default depth: one more than the widths, 128 px for the study's six)."""
    depth = depth or len(widths) + 1
    if depth < len(widths):
        raise ColorizerError(f"{len(widths)} widths need at least {len(widths)} halvings, "
                             f"got {depth}")
    return (*widths, *[widths[-1]] * (depth - len(widths)))


def encoder(widths, depth=None, stem="conv", channels=1):
    """`depth` halvings from `channels` x 2^depth x 2^depth down to widths[-1] x 1 x 1.

    With widths (8, 16, 32, 64, 128, 256) and depth 7, seven stride-2 convolutions:
    1 x 128 x 128 -> 8 x 64 x 64 -> 16 x 32 x 32 -> 32 x 16 x 16 -> 64 x 8 x 8
    -> 128 x 4 x 4 -> 256 x 2 x 2 -> 256 x 1 x 1 (the seventh halving keeps the last width;
    at 256 px, depth 8, an eighth does too). With the space_to_depth stem the first two halvings
    are one: 1 x 128 x 128 folded into 16 x 32 x 32, then a 3x3 convolution to 16 x 32 x 32.
    """
    chans = (channels, *ladder(widths, depth))
    layers = []
    if stem == "space_to_depth":
        layers += [nn.PixelUnshuffle(STEM_FOLD),
                   nn.Conv2d(channels * STEM_FOLD ** 2, chans[2], 3, 1, 1, bias=False),
                   nn.BatchNorm2d(chans[2]), _activation()]
        chans = chans[2:]
    for c_in, c_out in zip(chans[:-1], chans[1:]):
        layers += _down(c_in, c_out)
    return nn.Sequential(*layers)


class Regressor(nn.Module):
    """L* (B, 1, H, W) -> the image's mean a*, mean b* in head space (B, 2)."""

    kind = "regressor"

    def __init__(self, cfg=None, /, **settings):
        super().__init__()
        cfg = _config(cfg, settings, "regressor")
        self.head = cfg.head
        self.encoder = encoder(cfg.widths, cfg.depth, cfg.stem)
        self.fc = nn.Linear(cfg.widths[-1], 2)
        self.out = HEADS[cfg.head].activation()

    def forward(self, L):
        z = self.encoder(normalize_l(L)).flatten(1)     # (B, widths[-1])
        return self.out(self.fc(z))                      # (B, 2)

    def decode(self, out, size=None):
        return decode_ab(out, self.head)


class Colorizer(nn.Module):
    """L* (B, 1, H, W) -> a*b* in head space (B, 2, H, W): the encoder, then its mirror image.

    With `ab_stride` N > 1 the decoder stops N times short of the full side, (B, 2, H/N, W/N),
    is trained against the target's block means, and its decoded a*b* is upsampled to full
    size: the last, largest maps (the costliest part of a step) are not computed. With the
    classify head the decoder stops at a quarter of the side and predicts scores over the Q
    in-gamut a*b* bins, (B, Q, H/4, W/4), as Zhang et al. predict at 56 of 224 px; the decoded
    a*b* is upsampled to full size.

    Colour hints are not the network's: `spread` (colorizer.spread) carries a person's points
    over the decoded a*b* where points are given (evaluation.predict), and the network's output
    stays what it is without them. Its few numbers are fitted apart from training (they take no
    gradient here).
    """

    kind = "colorizer"

    def __init__(self, cfg=None, /, **settings):
        super().__init__()
        cfg = _config(cfg, settings, "colorizer")
        self.head, self.temperature = cfg.head, cfg.temperature
        self.stride = CLASSIFY_DOWNSAMPLE if cfg.head == "classify" else cfg.ab_stride
        self.encoder = encoder(cfg.widths, cfg.depth, cfg.stem)
        self.decoder = nn.Sequential(*_decoder(cfg))
        if cfg.head == "classify":      # from the training split (Head.fit_to), saved with weights
            q = len(quantize.bin_centres())
            self.register_buffer("prior", torch.full((q,), 1.0 / q))
            self.register_buffer("class_weights", torch.ones(q))
        self.spread = Spread().requires_grad_(False)

    def forward(self, L):
        return self.decoder(self.encoder(normalize_l(L)))   # the study's: through the 1x1 code

    def decode(self, out, size=None):
        """The network's output -> raw a*b* (B, 2, H, W) at `size` (default: its stride times
        the output's side), upsampled bilinearly where the network predicts at a lower side."""
        ab = head(self.head).decode(out, self.temperature)
        size = tuple(size or (self.stride * s for s in ab.shape[-2:]))
        if tuple(ab.shape[-2:]) == size:
            return ab
        return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def _config(cfg, settings, kind):
    """The Config a model is built from: `cfg`, or `settings` over Config's defaults (one set of
    defaults: Colorizer() and build_model(Config()) build the same model)."""
    if cfg is None:
        return Config(model=kind, **settings)
    if settings:
        raise TypeError("give a Config or settings by name, not both")
    return cfg


def _decoder(cfg):
    """The encoder's ladder backwards from the 1x1 code, without its first rung:
    widths[-1] x 1 x 1 -> widths[-1] x 2 x 2 -> widths[-2] x 4 x 4 -> ..., stopping at the
    classify head's side (Q class scores per pixel) or `ab_stride` short of the full side (2
    channels through the head's activation)."""
    rungs = ladder(cfg.widths, cfg.depth)
    chans = (rungs[-1], *reversed(rungs[:-1]))
    if cfg.head == "classify":                                      # stop at CLASSIFY_DOWNSAMPLE
        chans = chans[:-1]
    else:
        chans = chans[:len(chans) - (cfg.ab_stride.bit_length() - 1)]
    layers = [layer for c_in, c_out in zip(chans[:-1], chans[1:]) for layer in _up(c_in, c_out)]
    if cfg.head == "classify":
        return [*layers, nn.Conv2d(chans[-1], len(quantize.bin_centres()), 1)]
    return [*layers, Up(chans[-1], 2, bias=True), HEADS[cfg.head].activation()]


def with_temperature(model, temperature):
    """A classify model decoding at `temperature`, sharing `model`'s weights and leaving it as it
    was (a shallow copy: what one caller sets, no other caller sees); other heads as they are."""
    if not head(model.head).decodes_at_temperature or temperature is None:
        return model
    model = copy.copy(model)
    model.temperature = float(temperature)
    return model


def input_side(model):
    """The side in px a model's encoder takes down to 1x1: one halving per stride-2 convolution,
    times the stem's fold."""
    folds = [m.downscale_factor for m in model.encoder if isinstance(m, nn.PixelUnshuffle)]
    return 2 ** sum(isinstance(m, Down) for m in model.encoder) * math.prod(folds)


def build_model(cfg):
    """The model a Config describes, its weights channels-last (faster: docs/design.md)."""
    model = {"regressor": Regressor, "colorizer": Colorizer}[cfg.model](cfg)
    model.config = cfg                  # what it was built from (hub.save_pretrained writes it)
    return model.to(memory_format=torch.channels_last)


def target(ab, model_kind, head):
    """What a model of this kind is trained to output for a batch of raw a*b* (B, 2, H, W)."""
    if model_kind == "regressor":
        ab = ab.mean(dim=(2, 3))
    return encode_ab(ab, head)


def loss_fn(model, out, ab):
    """The training loss of a model's output for raw a*b* (B, 2, H, W): its head's
    (Head.loss). A colorizer's output below the full side is scored against the target's
    block means at its own side."""
    if model.kind == "colorizer" and out.shape[-2:] != ab.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, out.shape[-2:])
    return head(model.head).loss(model, out, ab)
