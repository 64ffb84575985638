"""Quantized a*b* for colorization as classification (Zhang, Isola & Efros, ECCV 2016).

The a*b* plane is cut into 10 x 10 bins; the bins that sRGB colours occupy are the classes.
Targets are soft-encoded over each pixel's nearest bins, rare colours are up-weighted by the
inverse of a smoothed prior, and a distribution is decoded by its annealed mean.
"""

import itertools
from functools import cache

import numpy as np
import torch
from skimage import color

GRID = 10.0         # bin size, CIELAB units (Sec. 3.1)
SIGMA = 5.0         # soft-encoding and prior-smoothing Gaussian (Sec. 3.1, 3.2)
NEIGHBOURS = 5      # bins a target is spread over (Sec. 3.1)
LAMBDA = 0.5        # mix of the smoothed prior with the uniform distribution (Sec. 3.2)
TEMPERATURE = 0.38  # annealed mean (Sec. 3.3)
_LIMIT = 120        # |a*|, |b*| of any sRGB colour stays below this


@cache
def _gamut_bins(steps=128):
    """Bin centres (Q, 2) of the a*b* bins that sRGB colours fall in.

    Every sRGB colour on a steps^3 lattice (including the cube's faces, so the extremes are in)
    is converted to Lab and rounded to its nearest bin centre.
    """
    v = np.linspace(0, 1, steps)
    rgb = np.array(list(itertools.product(v, v, v)))[None]         # (1, steps^3, 3)
    ab = color.rgb2lab(rgb)[0, :, 1:]
    centres = np.unique(np.rint(ab / GRID), axis=0) * GRID
    # on the CPU whatever device is the default when first asked (a meta-device skeleton, say):
    # the cache keeps it for every later caller
    return torch.tensor(centres, dtype=torch.float32, device="cpu")


def bin_centres():
    """The classes: a*b* bin centres in gamut, (Q, 2), raw units."""
    return _gamut_bins().clone()


@cache
def _neighbour_table(k):
    """For every integer (a*, b*) in [-_LIMIT, _LIMIT]^2, its k nearest class indices.

    Encoding looks up the rounded a*b*'s k + 4 nearest classes and keeps the k nearest to the
    exact a*b*, instead of searching all Q classes for every pixel.
    """
    v = torch.arange(-_LIMIT, _LIMIT + 1, dtype=torch.float32, device="cpu")
    cells = torch.cartesian_prod(v, v)                              # (n*n, 2)
    index = torch.cdist(cells, _gamut_bins()).topk(k, dim=1, largest=False).indices
    return index.reshape(len(v), len(v), k)


@cache
def _on_device(make, device, dtype, *args):
    """make(*args) on `device` (in `dtype`, unless None), copied there once per process."""
    return make(*args).to(device, dtype) if dtype is not None else make(*args).to(device)


def encode(ab, k=NEIGHBOURS, sigma=SIGMA):
    """Soft-encode raw a*b* (B, 2, H, W) over the k nearest in-gamut bins.

    Returns (index, weight), each (B, k, H, W): class indices and their Gaussian weights
    exp(-d^2 / 2 sigma^2), normalised to sum to 1 over k.
    """
    table = _on_device(_neighbour_table, ab.device, None, k + 4)
    centres = _on_device(_gamut_bins, ab.device, ab.dtype)
    cell = (ab.round() + _LIMIT).long().clamp(0, 2 * _LIMIT)       # (B, 2, H, W)
    cand = table[cell[:, 0], cell[:, 1]].permute(0, 3, 1, 2)       # (B, k + 4, H, W)
    d2 = ((centres[cand] - ab.permute(0, 2, 3, 1)[:, None]) ** 2).sum(-1)
    d2, pick = d2.topk(k, dim=1, largest=False)                     # (B, k, H, W)
    return cand.gather(1, pick), torch.softmax(-d2 / (2 * sigma**2), dim=1)


def cross_entropy(scores, index, weight):
    """Cross-entropy of class scores (..., Q) against soft targets: -sum_k weight_k
    log softmax(scores)[index_k], per row, for `index` and `weight` (..., k).

    Its gradient, softmax(scores) minus the soft target, is written in one pass over the scores;
    autograd through log_softmax and gather takes three and zero-fills a scores-sized tensor.
    """
    return _SoftCrossEntropy.apply(scores, index, weight)


class _SoftCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores, index, weight):
        p = torch.softmax(scores, dim=-1)
        ctx.save_for_backward(p, index, weight)
        # (a probability that underflows to 0 counts as 1e-30: the value stays finite)
        return -(weight * p.gather(-1, index).clamp_min(1e-30).log()).sum(-1)

    @staticmethod
    def backward(ctx, grad):
        p, index, weight = ctx.saved_tensors
        grad = grad[..., None]
        return (p * grad).scatter_add_(-1, index, -weight * grad), None, None


def nearest(ab):
    """Index of the nearest in-gamut bin, (B, H, W)."""
    index, _ = encode(ab, k=1)
    return index[:, 0]


def smoothed_prior(ab, sigma=SIGMA):
    """The empirical class distribution of raw a*b* (N, 2, H, W), smoothed with a Gaussian in
    a*b* space (sigma units), as a (Q,) tensor summing to 1."""
    return smoothed_prior_of(class_counts(ab), sigma)


def class_counts(ab):
    """How many a*b* values (N, 2, H, W) fall nearest each bin: (Q,) float64, additive over
    blocks of images."""
    return torch.bincount(nearest(ab).flatten(), minlength=len(_gamut_bins())).double()


def smoothed_prior_of(counts, sigma=SIGMA):
    """smoothed_prior from the bins' counts."""
    centres = _gamut_bins()
    p = counts / counts.sum()
    kernel = torch.exp(-torch.cdist(centres, centres).double() ** 2 / (2 * sigma**2))
    kernel = kernel / kernel.sum(0, keepdim=True)                  # each bin's mass is kept
    return (kernel @ p).float()


def rebalance_weights(prior, lam=LAMBDA):
    """w proportional to ((1 - lam) * prior + lam / Q)^-1, scaled so that E_prior[w] = 1.

    The uniform share keeps every weight finite, also for classes the training split never has.
    """
    q = len(prior)
    w = 1.0 / ((1 - lam) * prior.double() + lam / q)
    return (w / (prior.double() * w).sum()).float()


def annealed_mean(logits, temperature=TEMPERATURE):
    """Decode class scores (B, Q, H, W) to a*b* (B, 2, H, W): the mean of softmax(logits / T).

    T = 1 gives the distribution's mean, T -> 0 its mode (Sec. 3.3).
    """
    centres = _on_device(_gamut_bins, logits.device, logits.dtype)
    p = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, centres)
