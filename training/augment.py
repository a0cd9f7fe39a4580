"""Batch augmentation on normalised image tensors: random affine warps and contrast/brightness jitter.

The random numbers for a whole (global) batch are drawn in one place from one seeded generator,
so data-parallel processes that each take a slice of the batch augment exactly as one process would.
"""
from __future__ import annotations

import math


def random_affine(batch: int, settings: dict, generator):
    """Return ``(batch, 2, 3)`` affine matrices: random scale, small rotation and shift."""
    import torch

    rand = lambda: torch.rand(batch, generator=generator) * 2 - 1  # noqa: E731 - local shorthand
    scale = 1 + settings.get("scale", 0.0) * rand()
    angle = math.radians(settings.get("rotate_deg", 0.0)) * rand()
    shift = settings.get("shift", 0.0)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 2] = shift * rand()
    theta[:, 1, 2] = shift * rand()
    return theta


def random_jitter(batch: int, generator):
    """Return ``(batch, 2)`` uniform numbers in [-1, 1]: contrast and brightness draws for :func:`augment`."""
    import torch

    contrast = torch.rand(batch, generator=generator) * 2 - 1
    brightness = torch.rand(batch, generator=generator) * 2 - 1
    return torch.stack([contrast, brightness], dim=1)


def warp(maps, theta):
    """Apply affine ``theta`` to ``(batch, C, H, W)`` maps (zeros outside)."""
    import torch.nn.functional as F
    grid = F.affine_grid(theta, list(maps.shape), align_corners=False)
    return F.grid_sample(maps, grid, align_corners=False, padding_mode="zeros")


def augment(images, theta, settings: dict, jitter):
    """Warp a normalised batch with ``theta`` (padding stays at the image's floor) and jitter contrast/brightness.

    ``jitter`` is :func:`random_jitter`'s ``(batch, 2)`` draw; brightness is in normalised units (std 0.25).
    """
    floor = images.amin(dim=(1, 2, 3), keepdim=True)
    moved = warp(images - floor, theta) + floor
    contrast = 1 + settings.get("contrast", 0.0) * jitter[:, 0].view(-1, 1, 1, 1)
    brightness = settings.get("brightness", 0.0) * jitter[:, 1].view(-1, 1, 1, 1) * 4
    return moved * contrast + brightness
