"""Colour hints (Zhang, Zhu, Isola et al. 2017, "Real-Time User-Guided Image Colorization with
Learned Deep Priors"): the points a person gives, the maps the network sees them as, and the
points training simulates from the truth.

A hint is a colour at a point of a photo. The network sees hints as three channels beside L*:
a*, b* (over AB_SCALE) where a hint lies and 0 elsewhere, and a mask, 1 there. Each hint covers a
small square patch of the network's input.
"""

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import ColorizerError

CHANNELS = 3            # a*, b* / AB_SCALE and the mask
AB_SCALE = 128.0
POINT_SIDE = 3          # a person's point (and the sweeps' points) covers 3 x 3 px of the input
# Training's points, as colorization-pytorch's add_color_patches_rand_gt draws them: a geometric
# number (another point while a uniform draw exceeds STOP: 1/8 of images get none, 7 on
# average), each a P x P patch, P uniform in 1..MAX_PATCH, its corner normal around the centre
# (sd a quarter of the side, clipped), filled with the patch's mean true a*b*
STOP = 1 / 8
MAX_PATCH = 9
MAX_POINTS = 64         # simulated points per image at most (more: under 0.02 % of images)
WORST_WINDOW = 9        # a corrective point goes to the centre of the worst 9 x 9 error
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Hint:
    """A colour at a point of a photo: x, y in the photo's own pixels (0, 0 the top left pixel;
    any size: they are mapped onto the network's grid) and the colour as raw a*, b*.
    `Hint.at(x, y, "#c0392b")` or `Hint.at(x, y, (a, b))` makes one; `Hint.parse("120,80,#c0392b")`
    reads the command line's."""
    x: float
    y: float
    ab: tuple

    @classmethod
    def at(cls, x, y, colour):
        """A hint at (x, y) of the colour `colour`: sRGB hex ("#c0392b") or raw (a*, b*)."""
        return cls(_number(x, "x"), _number(y, "y"), ab_of(colour))

    @classmethod
    def parse(cls, text):
        """"x,y,#rrggbb" or "x,y,a,b" -> a Hint, or one line saying what is wrong."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) not in (3, 4):
            raise ColorizerError(f"hint {text!r}: give x,y,#rrggbb or x,y,a,b")
        colour = parts[2] if len(parts) == 3 else tuple(parts[2:])
        return cls.at(parts[0], parts[1], colour)

    @classmethod
    def of(cls, item):
        """A Hint from a Hint, a (x, y, colour) sequence or a {"x", "y", "colour"} mapping (a hint
        file's entries)."""
        if isinstance(item, Hint):
            return item
        if isinstance(item, str):
            return cls.parse(item)
        if isinstance(item, dict):
            if not {"x", "y", "colour"} <= item.keys():
                raise ColorizerError(f"hint {item!r}: needs x, y and colour")
            return cls.at(item["x"], item["y"], item["colour"])
        if isinstance(item, (list, tuple)) and len(item) == 3:
            return cls.at(*item)
        raise ColorizerError(f"hint {item!r}: give (x, y, colour)")


def _number(value, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ColorizerError(f"hint {what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ColorizerError(f"hint {what} {value!r} is not a finite number")
    return number


def ab_of(colour):
    """Raw (a*, b*) of a colour given as sRGB hex ("#c0392b") or as (a*, b*) itself."""
    if isinstance(colour, str):
        match = _HEX.fullmatch(colour.strip())
        if not match:
            raise ColorizerError(f"hint colour {colour!r}: give #rrggbb or a*, b*")
        from .data import rgb_to_lab

        rgb = np.frombuffer(bytes.fromhex(match.group(1)), np.uint8).reshape(1, 1, 3)
        return tuple(float(v) for v in rgb_to_lab(rgb)[1:, 0, 0])
    try:
        a, b = (_number(v, "colour") for v in colour)
    except (TypeError, ValueError):
        raise ColorizerError(f"hint colour {colour!r}: give #rrggbb or a*, b*") from None
    if max(abs(a), abs(b)) > AB_SCALE:
        raise ColorizerError(f"hint colour {colour!r}: a*, b* lie within ±{AB_SCALE:g}")
    return a, b


def maps(hints, image_hw, grid_hw):
    """The network's hint maps (1, 3, h, w) on a `grid_hw` grid for Hints on an image of
    `image_hw` (H, W) px, each point a POINT_SIDE square at its place on the grid. A hint
    outside the image is one line."""
    (H, W), (h, w) = image_hw, grid_hw
    hints = check(hints, image_hw)
    y = torch.tensor([_corner(p.y, H, h) for p in hints], dtype=torch.long)
    x = torch.tensor([_corner(p.x, W, w) for p in hints], dtype=torch.long)
    values = torch.tensor([p.ab for p in hints], dtype=torch.float32).reshape(-1, 2)
    return stamp((1, h, w), torch.zeros_like(y), y, x, torch.full_like(y, POINT_SIDE), values)


def check(hints, image_hw):
    """Hints (Hint.of each item) that all lie on an image of `image_hw` (H, W) px, or one line
    naming the first that does not."""
    H, W = image_hw
    hints = [Hint.of(p) for p in hints]
    for p in hints:
        if not (0 <= p.x < W and 0 <= p.y < H):
            raise ColorizerError(f"hint at ({p.x:g}, {p.y:g}) lies outside the {W} x {H} image")
    return hints


def _corner(v, n, side):
    """The top or left edge, on a grid of `side`, of the point square at `v` of `n` px."""
    return min(max(int(v * side / n) - POINT_SIDE // 2, 0), side - POINT_SIDE)


def pyramid(hint_maps, sides):
    """{side: hint maps (B, 3, side, side)} for square `sides` that halve one into the next:
    each cell's mean hinted a*b* (over its hinted pixels) and whether it holds a hint at all;
    at 1 x 1, the image's mean hinted colour. What the decoder sees at each of its sides.
    Pooled from the largest side down, 2 x 2 at a time (one pass over the full maps)."""
    mask = hint_maps[:, 2:].float()
    weighted = torch.cat([hint_maps[:, :2].float() * mask, mask], 1).contiguous()
    out, sides = {}, sorted(set(sides), reverse=True)
    weighted = F.avg_pool2d(weighted, hint_maps.shape[-1] // sides[0])
    for side in sides:
        if weighted.shape[-1] != side:
            weighted = F.avg_pool2d(weighted, weighted.shape[-1] // side)
        share = weighted[:, 2:]
        out[side] = torch.cat([weighted[:, :2] / share.clamp(min=1e-6), (share > 0).float()], 1)
    return out


def as_maps(hints, shape, takes_hints=True):
    """Hint maps (N, 3, H, W) for images of `shape` (N, 1, H, W) from what `predict` takes:
    None; maps themselves; Hints (or (x, y, colour) items) for each image, in its pixels; for one
    image, its Hints. None where no image has a hint; a hint for a model that takes none (a
    regressor: it paints one colour) is one line."""
    N, _, H, W = shape
    if hints is None:
        return None
    if isinstance(hints, torch.Tensor):
        if tuple(hints.shape) != (N, CHANNELS, H, W):
            raise ColorizerError(f"hint maps must be {(N, CHANNELS, H, W)}, got "
                                 f"{tuple(hints.shape)}")
        return hints if takes_hints else _refuse_hints()
    hints = list(hints)
    if N == 1 and not (hints and isinstance(hints[0], (list, tuple)) and hints[0]
                       and not isinstance(hints[0][0], (int, float, str))):
        hints = [hints]                         # one image's points, not a list per image
    if len(hints) != N:
        raise ColorizerError(f"hints for {len(hints)} images, but {N} images")
    if not any(len(h) for h in hints):
        return None
    if not takes_hints:
        _refuse_hints()
    return torch.cat([maps(h, (H, W), (H, W)) for h in hints])


def _refuse_hints():
    raise ColorizerError("a regressor takes no colour hints (it paints one colour): give a "
                         "colorizer")


def stamp(shape, b, y, x, size, values):
    """Hint maps (B, 3, H, W) for `shape` (B, H, W): point i a size[i] square with its top left
    corner at (y[i], x[i]) of image b[i], filled with values[i] (raw a*, b*); where points
    overlap, the later one (as colorization-pytorch paints them, one after another)."""
    B, H, W = shape
    d = torch.arange(MAX_PATCH)
    dy, dx = d.repeat_interleave(MAX_PATCH), d.repeat(MAX_PATCH)           # (81,)
    inside = (dy < size[:, None]) & (dx < size[:, None])                  # (N, 81)
    rows, cols = (y[:, None] + dy).clamp(max=H - 1), (x[:, None] + dx).clamp(max=W - 1)
    flat = ((b[:, None] * H + rows) * W + cols)[inside]
    order = torch.arange(len(b))[:, None].expand_as(inside)[inside]
    owner = torch.full((B * H * W,), -1, dtype=torch.long).scatter_reduce(
        0, flat, order, "amax")                       # the last point painted at each pixel
    table = torch.cat([torch.zeros(1, CHANNELS),                       # row 0: no point
                       torch.cat([values.float() / AB_SCALE, torch.ones(len(b), 1)], 1)])
    return table[owner + 1].view(B, H, W, CHANNELS).permute(0, 3, 1, 2)   # channels-last


def patch_means(ab, b, y, x, size):
    """The mean true a*b* (N, 2) over each point's square: its pixels gathered (at most
    MAX_PATCH ** 2 a point; a batch's few hundred points cost less than any pass over it)."""
    H, W = ab.shape[-2:]
    d = torch.arange(MAX_PATCH)
    dy, dx = d.repeat_interleave(MAX_PATCH), d.repeat(MAX_PATCH)
    inside = ((dy < size[:, None]) & (dx < size[:, None])).float()      # (N, 81)
    rows, cols = (y[:, None] + dy).clamp(max=H - 1), (x[:, None] + dx).clamp(max=W - 1)
    pixels = ab[b[:, None], :, rows, cols]                              # (N, 81, 2)
    return (pixels * inside[..., None]).sum(1) / inside.sum(1, keepdim=True)


def simulate(ab, generator):
    """Training's hints for a batch of true a*b* (B, 2, H, W), drawn as colorization-pytorch's
    add_color_patches_rand_gt draws them (see STOP): the maps (B, 3, H, W) on ab's device.

    Every number is drawn on the CPU from `generator`, the same count of them for any batch of
    that size (the run stays reproducible); drawn after the crop and flip, the points lie where
    the augmented image has those colours."""
    B, _, H, W = ab.shape
    u = torch.rand(B, 1 + MAX_POINTS, generator=generator)
    normal = torch.randn(B, MAX_POINTS, 2, generator=generator)
    count = (torch.log(u[:, 0]) / math.log(1 - STOP)).floor().clamp(max=MAX_POINTS)
    taken = torch.arange(MAX_POINTS)[None] < count[:, None]             # (B, K)
    size = 1 + (u[:, 1:] * MAX_PATCH).long().clamp(max=MAX_PATCH - 1)   # (B, K) in 1..9
    free = torch.stack([H - size + 1, W - size + 1], -1)               # corner positions (B, K, 2)
    corner = (free / 2 + normal * free / 4).floor().clamp(min=0)
    corner = torch.minimum(corner, free - 1).long()
    b = torch.arange(B)[:, None].expand_as(taken)[taken]
    y, x, size = corner[..., 0][taken], corner[..., 1][taken], size[taken]
    values = patch_means(ab.cpu(), b, y, x, size)
    return stamp((B, H, W), b, y, x, size, values).to(ab.device)


def worst_centres(pred, ab, window=WORST_WINDOW):
    """(y, x) (B,) each: the centre of the `window` x `window` region where `pred` is furthest
    from the truth `ab` (squared error, both (B, 2, H, W))."""
    return worst_windows(((pred.float() - ab.float()) ** 2).sum(1, keepdim=True), window)


def worst_windows(err, window=WORST_WINDOW):
    """(y, x) (B,) each: the centre of the `window` x `window` region of largest total `err`
    (B, 1, H, W)."""
    pooled = F.avg_pool2d(F.avg_pool2d(err, (window, 1), stride=1), (1, window), stride=1)
    width = err.shape[-1] - window + 1
    top = pooled.flatten(1).argmax(1).cpu()
    return top // width + window // 2, top % width + window // 2


def add_points(hint_maps, ab, y, x, keep=None):
    """`hint_maps` with one more POINT_SIDE point per image centred at (y, x) (B,), of the
    image's true patch mean (`keep`: which images get one; default all)."""
    B, _, H, W = ab.shape
    b = torch.arange(B)
    if keep is not None:
        b, y, x = b[keep], y[keep], x[keep]
    y = (y - POINT_SIDE // 2).clamp(0, H - POINT_SIDE)
    x = (x - POINT_SIDE // 2).clamp(0, W - POINT_SIDE)
    size = torch.full_like(b, POINT_SIDE)
    values = patch_means(ab.cpu(), b, y, x, size)
    new = stamp((B, H, W), b, y, x, size, values).to(hint_maps.device)
    return torch.where(new[:, 2:] > 0, new, hint_maps)


def random_points(ab, n, generator):
    """Hint maps (B, 3, H, W) with `n` POINT_SIDE points per image, placed as training places
    them (normal around the centre), each of its true patch mean: the sweeps' random points."""
    B, _, H, W = ab.shape
    normal = torch.randn(B, n, 2, generator=generator)
    free = torch.tensor([H - POINT_SIDE + 1, W - POINT_SIDE + 1])
    corner = torch.minimum((free / 2 + normal * free / 4).floor().clamp(min=0), free - 1).long()
    b = torch.arange(B).repeat_interleave(n)
    y, x = corner[..., 0].flatten(), corner[..., 1].flatten()
    size = torch.full_like(b, POINT_SIDE)
    return stamp((B, H, W), b, y, x, size, patch_means(ab.cpu(), b, y, x, size)).to(ab.device)
