"""Batched random resized crops and horizontal flips of L*a*b* tensors, seeded."""

import math

import torch
import torch.nn.functional as F


def random_resized_crop(lab, generator, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), flip=True):
    """Crop each image of a (B, C, H, W) batch at its own random box and resize back to (H, W).

    One affine grid for the whole batch: L* and a*b* are channels of the same tensor, so they
    move together. The box covers `scale` of the area with aspect `ratio` (as torchvision's
    RandomResizedCrop); with `flip`, half the images are mirrored left-right.
    """
    B = lab.shape[0]
    u = torch.rand(B, 5, generator=generator)          # drawn on the CPU: same numbers on any device
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)        # box size as a fraction of the side
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)                    # box centre, normalised coordinates [-1, 1]
    cy = (1 - h) * (2 * u[:, 3] - 1)
    sx = torch.where(u[:, 4] < 0.5, -w, w) if flip else w
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    theta = theta.to(device=lab.device, dtype=lab.dtype)
    grid = F.affine_grid(theta, list(lab.shape), align_corners=False)
    return F.grid_sample(lab, grid, mode="bilinear", padding_mode="border", align_corners=False)
