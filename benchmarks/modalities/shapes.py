"""Procedurally rendered RGB-D shapes (synthetic): five solids, told apart by colour and depth together.

Each image shows one solid in front of a tilted background plane. Silhouettes come in two kinds
(circle, square) and depth profiles in three (dome, flat, peak), so neither the outline nor the
depth alone names the class:

=========  ==========  =============
class      silhouette  depth profile
=========  ==========  =============
sphere     circle      dome
disc       circle      flat
cone       circle      peak
box        square      flat
pyramid    square      peak
=========  ==========  =============

Colour carries the outline and Lambertian shading of the surface (so also some of its shape);
depth carries the profile. Colours, sizes, positions, rotations, the background and the light
are random; both channels get sensor noise and depth has missing pixels (0), like a Kinect's.
"""

from __future__ import annotations

import torch
from torch import Tensor

CLASSES = ("sphere", "disc", "cone", "box", "pyramid")
_CIRCLE = torch.tensor([True, True, True, False, False])
_PROFILE = torch.tensor([0, 1, 2, 1, 2])  # dome, flat, peak
_SQUARE_HALF = 0.85  # half side of a square, in radii: about a circle's area


def render_shapes(
    n: int, *, size: int = 32, missing: float = 0.02, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Render ``n`` synthetic RGB-D images with balanced classes (``i % 5``).

    Args:
        n: Number of images.
        size: Side in pixels.
        missing: Fraction of depth pixels dropped to 0 (missing measurements).
        generator: Source of randomness; the same state renders the same images.

    Returns:
        ``(rgb (n, 3, size, size) uint8, depth (n, size, size) metres with 0 = missing, labels (n,))``.
    """
    g = generator

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(shape or (n,), generator=g)

    labels = torch.arange(n) % len(CLASSES)
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = coords.view(1, size, 1), coords.view(1, 1, size)
    cy, cx = uniform(0.35, 0.65).view(n, 1, 1), uniform(0.35, 0.65).view(n, 1, 1)
    radius = uniform(0.2, 0.32).view(n, 1, 1)
    angle = uniform(0, torch.pi / 2).view(n, 1, 1)
    du, dv = (x - cx) / radius, (y - cy) / radius
    u, v = du * angle.cos() + dv * angle.sin(), -du * angle.sin() + dv * angle.cos()
    round_dist = (u**2 + v**2).sqrt()
    square_dist = torch.maximum(u.abs(), v.abs()) / _SQUARE_HALF
    circle = _CIRCLE[labels].view(n, 1, 1)
    dist = torch.where(circle, round_dist, square_dist)
    inside = dist <= 1
    profile = _PROFILE[labels].view(n, 1, 1)
    dome = (1 - dist.clamp(max=1) ** 2).sqrt()
    flat, peak = torch.full_like(dist, 0.6), 1 - dist.clamp(max=1)
    height = torch.where(profile == 0, dome, torch.where(profile == 1, flat, peak))
    height = height * inside
    # depth: a tilted background plane at 3-4 m, the solid 0.8-1.6 m in front of it
    background = uniform(3.0, 4.0).view(n, 1, 1) + uniform(-0.5, 0.5).view(n, 1, 1) * (y - 0.5)
    depth = torch.where(inside, background - 0.8 - 0.8 * height, background)
    depth = depth + 0.01 * torch.randn(n, size, size, generator=g)
    depth = depth * (torch.rand(n, size, size, generator=g) >= missing)
    # colour: albedo times Lambertian shading of the height field, over a dim random background
    gy, gx = torch.gradient(height * radius * size, dim=(1, 2))  # the height field in pixels
    normal = torch.stack([-gx, -gy, torch.ones_like(gx)], dim=1)
    normal = normal / normal.norm(dim=1, keepdim=True)
    light = torch.stack([uniform(-0.5, 0.5), uniform(-0.5, 0.5), torch.ones(n)], dim=1)
    light = (light / light.norm(dim=1, keepdim=True)).view(n, 3, 1, 1)
    shading = 0.25 + 0.75 * (normal * light).sum(dim=1, keepdim=True).clamp(min=0)
    albedo = uniform(0.3, 1.0, n, 3).view(n, 3, 1, 1)
    backdrop = uniform(0.0, 0.4, n, 3).view(n, 3, 1, 1)
    rgb = torch.where(inside[:, None], albedo * shading, backdrop.expand(n, 3, size, size))
    rgb = rgb + 0.03 * torch.randn(n, 3, size, size, generator=g)
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8), depth, labels
