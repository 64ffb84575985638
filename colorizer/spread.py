"""The hint part: a colour point's correction carried over its region of the photo.

A model's own prediction stays as it is; each point adds the difference between its colour and
the prediction there, spread to the pixels that look like the pointed one (near it, of a like
lightness L*, coloured alike by the model): the premise of Levin, Lischinski and Weiss 2004
("neighbouring pixels of similar intensity should have similar colours"), as a cross-bilateral
weighted mean of the points' corrections (Shepard's normalised weights, with a floor `kappa`
that keeps far pixels as the model had them):

    ab(p) = base(p) + sum_q w(p, q) r(q) / (sum_q w(p, q) + kappa)

w is a Gaussian in distance, L* and the model's a*b*. A point far from the model's colour
(a person's own colour) and one near it (a small correction of the model) spread differently: two
sets of widths, mixed by the size of the correction; the near ones also shift the whole photo by
their weighted mean (the model's error is in part the image's mean: docs/results.md). No point:
no change at all. Last, what is left at the points themselves is closed over a few px round
them (`_fine`). Its 13 numbers are fitted to simulated people (research.hint_fit).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hints import AB_SCALE

CELL = 4            # points are pooled into 4 x 4 px cells of the model's input,
CELLS = 256         # at most this many cells with a point (64 points of 3 x 3 px touch <= 256),
GRID = 64           # and the correction computed on a 64 x 64 grid (at most), then upsampled
FINE = 4            # the fine pass's kernel reaches this far (px of the model's input)


def _log(*values):
    return nn.Parameter(torch.tensor([math.log(v) for v in values]))


class Spread(nn.Module):
    """(L* (B, 1, S, S), the model's a*b* (B, 2, S, S), hint maps (B, 3, S, S)) -> a*b* with the
    points' corrections spread (raw units). Index 0 of each pair: a small correction of the
    model's colour; 1: a large one (a colour of the person's own)."""

    def __init__(self):
        super().__init__()
        self.log_xy = _log(12.0, 12.0)          # width in px of the model's input
        self.log_l = _log(10.0, 10.0)           # in L* units
        self.log_ab = _log(10.0, 30.0)          # in a*b* units, of the model's colours
        self.log_kappa = _log(1.0, 1.0)         # in hinted pixels
        self.gate = nn.Parameter(torch.tensor([15.0, 5.0]))   # where "large" begins, how sharply
        self.log_shift = _log(20.0)             # the floor of the whole-photo shift
        self.log_fine = _log(1.5, 0.1)          # what is left at the points: width (px), floor

    def forward(self, L, base, hint_maps, cells=CELLS):
        B, _, S, _ = L.shape
        table = _cells(L, base, hint_maps, cells)                       # (B, 8, k)
        r, Lq, abq, yx, n = table[:, :2], table[:, 2:3], table[:, 3:5], table[:, 5:7], table[:, 7:]
        large = torch.sigmoid((r.norm(dim=1, keepdim=True) - self.gate[0])
                              / self.gate[1].abs().clamp(min=0.5))     # (B, 1, k)
        grid = min(GRID, S)
        d2 = _distances(F.adaptive_avg_pool2d(L, grid), F.adaptive_avg_pool2d(base, grid),
                        Lq, abq, yx, S)                                 # 3 x (B, P, k)
        delta = 0
        for i, share in enumerate((1 - large, large)):
            w = torch.exp(-(d2[0] / (2 * torch.exp(2 * self.log_xy[i]))
                            + d2[1] / (2 * torch.exp(2 * self.log_l[i]))
                            + d2[2] / (2 * torch.exp(2 * self.log_ab[i])))) * (n * share)
            delta = delta + (w @ r.transpose(1, 2)) / (w.sum(2, keepdim=True)
                                                       + torch.exp(self.log_kappa[i]))
        delta = delta.transpose(1, 2).reshape(B, 2, grid, grid)         # (B, 2, grid, grid)
        near = n * (1 - large)                                          # the whole-photo shift
        shift = (near * r).sum(2) / (near.sum(2) + torch.exp(self.log_shift[0]))   # (B, 2)
        out = base + F.interpolate(delta, size=(S, S), mode="bilinear",
                                   align_corners=False) + shift[:, :, None, None]
        return out + self._fine(out, hint_maps)

    def _fine(self, out, hint_maps):
        """What is left between the points and `out`, where they lie and a few px round them:
        the normalised convolution (Knutsson & Westin 1993) of the rest with a small Gaussian."""
        mask = hint_maps[:, 2:].to(out.dtype)
        rest = mask * (hint_maps[:, :2] * AB_SCALE - out)
        sigma = torch.exp(self.log_fine[0])
        taps = torch.arange(-FINE, FINE + 1, dtype=out.dtype)
        g = torch.exp(-taps ** 2 / (2 * sigma ** 2))
        kernel = (g[:, None] * g[None, :])[None, None]                  # (1, 1, k, k)
        spread = F.conv2d(torch.cat([rest, mask], 1).flatten(0, 1)[:, None], kernel,
                          padding=FINE).view(out.shape[0], 3, *out.shape[-2:])
        return spread[:, :2] / (spread[:, 2:] + torch.exp(self.log_fine[1]))


def _cells(L, base, hint_maps, k):
    """The hinted cells (B, 8, k), the k with the most hinted pixels (none: weight 0): each
    one's mean correction r (2), L* (1) and model a*b* (2) over its hinted pixels, its centre
    (y, x) in px, and how many of its pixels carry a point."""
    B, _, S, _ = L.shape
    mask = hint_maps[:, 2:].to(base.dtype)
    r = mask * (hint_maps[:, :2] * AB_SCALE - base)
    share = F.avg_pool2d(mask, CELL)                                    # (B, 1, n, n)
    means = torch.cat([F.avg_pool2d(r, CELL), F.avg_pool2d(mask * L, CELL),
                       F.avg_pool2d(mask * base, CELL)], 1) / share.clamp(min=1e-6)
    n = S // CELL
    centre = (torch.arange(n, dtype=base.dtype) + 0.5) * CELL - 0.5
    y, x = torch.meshgrid(centre, centre, indexing="ij")
    table = torch.cat([means, y.expand(B, 1, n, n), x.expand(B, 1, n, n),
                       share * CELL * CELL], 1).flatten(2)              # (B, 8, n * n)
    top = share.flatten(1).topk(min(k, n * n), 1).indices           # (B, k)
    return torch.gather(table, 2, top[:, None].expand(B, table.shape[1], top.shape[1]))


def _distances(L, base, Lq, abq, yx, side):
    """Squared distances (B, P, k) from each pixel of the grid (L*, a*b* pooled to it) to each
    cell: in px of the model's input, in L*, in the model's a*b*."""
    B, _, grid, _ = L.shape
    centre = (torch.arange(grid, dtype=L.dtype) + 0.5) * (side / grid) - 0.5
    y, x = torch.meshgrid(centre, centre, indexing="ij")
    y, x = y.reshape(1, -1, 1), x.reshape(1, -1, 1)
    Lp = L.flatten(2).transpose(1, 2)                                   # (B, P, 1)
    abp = base.flatten(2).transpose(1, 2)                               # (B, P, 2)
    xy = (y - yx[:, :1]) ** 2 + (x - yx[:, 1:]) ** 2
    ab = (abp[..., :1] - abq[:, :1]) ** 2 + (abp[..., 1:] - abq[:, 1:]) ** 2
    return xy.expand(B, -1, -1), (Lp - Lq) ** 2, ab
