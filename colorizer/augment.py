"""Batched random resized crops and horizontal flips of L*a*b* tensors, seeded."""

import math

import torch
import torch.nn.functional as F


def crop_draws(n, generator):
    """The uniform numbers that random_resized_crop spends on n images, (n, 5), drawn on the CPU:
    the same numbers on any device. Drawn for many batches at once, they are the numbers that
    batch-by-batch draws give, in order."""
    return torch.rand(n, 5, generator=generator)


def random_resized_crop(lab, generator, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), flip=True,
                        draws=None):
    """Crop each image of a (B, C, H, W) batch at its own random box and resize back to (H, W).

    One affine grid for the whole batch: L* and a*b* are channels of the same tensor, so they
    move together. The box covers `scale` of the area with aspect `ratio` (as torchvision's
    RandomResizedCrop); with `flip`, half the images are mirrored left-right. `draws`: the
    batch's crop_draws, already on lab's device (training draws an epoch's at once); else they
    are drawn from `generator` here.
    """
    B = lab.shape[0]
    u = crop_draws(B, generator) if draws is None else draws
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)        # box size as a fraction of the side
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)                    # box centre, normalised coordinates [-1, 1]
    cy = (1 - h) * (2 * u[:, 3] - 1)
    sx = torch.where(u[:, 4] < 0.5, -w, w) if flip else w
    # The box is axis-aligned, so the sampling grid is separable: x depends on the column only,
    # y on the row only. Building it from two (B, W) and (B, H) rows costs a fraction of
    # F.affine_grid's per-pixel matrix product.
    B, _, H, W = lab.shape
    kw = dict(device=lab.device, dtype=lab.dtype)
    gx = sx.to(**kw)[:, None] * _centres(W, **kw) + cx.to(**kw)[:, None]      # (B, W)
    gy = h.to(**kw)[:, None] * _centres(H, **kw) + cy.to(**kw)[:, None]       # (B, H)
    grid = torch.stack([gx[:, None, :].expand(B, H, W), gy[:, :, None].expand(B, H, W)], dim=-1)
    return F.grid_sample(lab, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _centres(n, **kw):
    """Pixel centres in grid_sample's normalised coordinates (align_corners=False)."""
    return (torch.arange(n, **kw) + 0.5) * (2.0 / n) - 1.0
