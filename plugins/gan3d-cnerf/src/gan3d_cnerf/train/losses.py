"""CNeRF's loss terms (official ``losses.py`` formulas), each a small function of tensors.

Weights are applied by the trainers, so each term here can be checked against its formula alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_logistic(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """Non-saturating discriminator loss ``mean softplus(-real) + mean softplus(fake)`` (logits ``[B,1]``)."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def g_nonsaturating(fake_logit: torch.Tensor) -> torch.Tensor:
    """Generator loss ``mean softplus(-fake)``."""
    return F.softplus(-fake_logit).mean()


def viewpoint(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 (beta 1) between predicted and sampled ``(azimuth, elevation)`` ``[B,2]`` (radians), mean."""
    return F.smooth_l1_loss(pred, target)


def classify(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the semantic discriminator's class head ``[B,K]`` against region labels ``[B]``."""
    return F.cross_entropy(logits, labels)


def r1_penalties(real_logit: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """R1 gradient penalties: for each input, ``mean_b sum (d sum(real_logit) / d input)^2`` (in the graph)."""
    grads = torch.autograd.grad(real_logit.sum(), inputs, create_graph=True)
    return [g.pow(2).reshape(g.shape[0], -1).sum(1).mean() for g in grads]


def eikonal(gradient: torch.Tensor) -> torch.Tensor:
    """``mean (|grad SDF| - 1)^2`` over every sample point; ``gradient [...,3]``."""
    return ((gradient.norm(dim=-1) - 1) ** 2).mean()


def minimal_surface(sdf: torch.Tensor, beta: float = 100.0) -> torch.Tensor:
    """``mean exp(-beta |sdf|)``: penalises surface (zero crossings) the image does not need."""
    return torch.exp(-beta * sdf.abs()).mean()


def sphere_sdf_l1(pred: torch.Tensor, points: torch.Tensor, radius: float) -> torch.Tensor:
    """The sphere pre-fit loss: ``mean |pred - (|p| - radius)|`` with ``p [...,3]`` world points."""
    return (pred - (points.norm(dim=-1, keepdim=True) - radius)).abs().mean()
