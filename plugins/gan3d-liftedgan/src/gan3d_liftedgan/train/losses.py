"""LiftedGAN's loss terms (``models/lifted_gan.py`` and ``models/perc_loss.py`` of seasonSH/LiftedGAN).

Every function takes plain tensors so the tests can check each term against its formula on small
inputs (``shared/reference/liftedgan-training.md`` sections 2.3-2.5 and 4.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# VGG16 ``features`` slices ending at relu1_2, relu2_2, relu3_3, relu4_3
VGG_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``sum |a-b| m / sum m`` with ``mask [B,1,H,W]`` broadcast to the channels (so each valid pixel counts
    once per channel); the plain mean without a mask. ``a, b [B,C,H,W]``."""
    loss = (a - b).abs()
    if mask is None:
        return loss.mean()
    mask = mask.expand_as(loss)
    return (loss * mask).sum() / mask.sum()


class PerceptualLoss(nn.Module):
    """LiftedGAN's perceptual distance on frozen VGG16 features.

    Images in [-1,1] are mapped to [0,1] and ImageNet-normalised; features at ``n_scale`` scales (each an
    average-pooled half of the previous) from the slices in ``indices`` (1, 2, 3 = relu2_2, relu3_3,
    relu4_3). ``cosine``: channel-normalised features, squared difference summed over channels
    (``2 - 2 cos``). Each (scale, layer) map is averaged under the mask average-pooled to its size; the
    result is the mean over the ``n_scale * len(indices)`` terms.

    ``features``: VGG16's ``features[:23]`` (pretrained ImageNet weights in training; tests pass random ones).
    """

    def __init__(self, features: nn.Sequential, n_scale: int = 3, indices: tuple[int, ...] = (1, 2, 3),
                 loss_type: str = "cosine"):
        super().__init__()
        self.slices = nn.ModuleList(nn.Sequential(*[features[i] for i in range(a, b)]) for a, b in VGG_SLICES)
        self.requires_grad_(False)
        self.register_buffer("mean_rgb", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std_rgb", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.n_scale, self.indices, self.loss_type = n_scale, tuple(indices), loss_type

    def distance(self, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
        if self.loss_type == "cosine":
            return (F.normalize(f1, p=2, dim=1) - F.normalize(f2, p=2, dim=1)).pow(2).sum(1, keepdim=True)
        if self.loss_type == "l1":
            return (f1 - f2).abs()
        return (f1 - f2).pow(2)

    def forward(self, im1: torch.Tensor, im2: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``im1, im2 [B,3,H,W]`` in [-1,1], ``mask [B,1,H,W]`` or None -> scalar."""
        x = (torch.cat((im1, im2), 0) / 2 + 0.5 - self.mean_rgb) / self.std_rgb
        terms = []
        for s in range(self.n_scale):
            if s:
                x = F.avg_pool2d(x, 2, stride=2)
            feats, f = [], x
            for sl in self.slices:
                f = sl(f)
                feats.append(f.chunk(2, dim=0))
            for i in self.indices:
                d = self.distance(*feats[i])
                if mask is None:
                    terms.append(d.mean())
                    continue
                k = (mask.shape[2] // d.shape[2], mask.shape[3] // d.shape[3])
                m = F.avg_pool2d(mask, kernel_size=k, stride=k).expand_as(d)
                terms.append((d * m).sum() / m.sum())
        return sum(terms) / len(terms)


def image_loss(a: torch.Tensor, b: torch.Tensor, perceptual: PerceptualLoss | None, lam_perc: float,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """``L1_m(a,b) + lam_perc * P_m(a,b)`` (the official ``image_loss``)."""
    loss = masked_l1(a, b, mask)
    if lam_perc > 0 and perceptual is not None:
        loss = loss + lam_perc * perceptual(a, b, mask)
    return loss


def symmetric_loss(recon: torch.Tensor, recon_flip: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   perceptual: PerceptualLoss | None, lam_perc: float, lam_flip: float) -> torch.Tensor:
    """The reconstruction loss: ``L1_m + lam_perc P_m`` of the render, plus ``lam_flip`` times the same of the
    render of the mirrored depth and albedo; one mask (both renders' coverage) for all four terms."""
    loss = image_loss(recon, target, perceptual, lam_perc, mask)
    if lam_flip > 0:
        loss = loss + lam_flip * image_loss(recon_flip, target, perceptual, lam_perc, mask)
    return loss


def albedo_rank_loss(albedo: torch.Tensor, depth: torch.Tensor, blur: nn.Module, border_depth: float,
                     downsample: int | None) -> torch.Tensor:
    """Nuclear norm of the batch's high-frequency albedo: ``albedo [B,3,H,W]``'s channel mean minus its
    blur, kept where ``depth [B,H,W] <= border_depth - 0.01``, average-pooled by ``downsample``, as one
    ``[B, HW/downsample^2]`` matrix (one value per batch, not divided by B)."""
    a = albedo.mean(1, keepdim=True)
    residual = (a - blur(a)) * (depth[:, None] <= border_depth - 0.01).to(a.dtype)
    if downsample:
        residual = F.avg_pool2d(residual, downsample, stride=downsample)
    return torch.linalg.matrix_norm(residual.reshape(residual.shape[0], -1), ord="nuc")


def latent_regulariser(w: torch.Tensor, w_mu: torch.Tensor, w_sigma_inv: float | torch.Tensor) -> torch.Tensor:
    """``mean((w - w_mu)^2) * w_sigma_inv`` with ``w_sigma_inv = 0.5 / mean_std(w)^2`` (the 0.5 is the official's)."""
    return (w - w_mu).pow(2).mean() * w_sigma_inv


def identity_loss(e1: torch.Tensor, e2: torch.Tensor, keep: torch.Tensor) -> torch.Tensor | None:
    """``mean_kept sum_d (e1 - e2)^2`` of unit embeddings ``[B,E]`` over the samples ``keep [B]``; None when
    none is kept (the official code logs NaN then and adds no gradient)."""
    if not bool(keep.any()):
        return None
    return (e1[keep] - e2[keep]).pow(2).sum(1).mean()


class ContourGradientClip(torch.autograd.Function):
    """Identity forward; backward keeps the gradient of ``[B,H,W]`` only where a pixel and its four
    neighbours agree on receiving (non-)zero gradient: the rims of the rasteriser's gradient regions
    (silhouettes, occlusion edges), where that gradient is unreliable, get none."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        mask = (grad.abs() > 0).to(grad.dtype)[:, None]
        kernel = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]], dtype=grad.dtype,
                              device=grad.device).view(1, 1, 3, 3) / 4
        lap = F.conv2d(F.pad(mask, (1, 1, 1, 1), mode="reflect"), kernel)
        return (lap.abs() < 1e-5).squeeze(1).to(grad.dtype) * grad


def contour_clip(x: torch.Tensor) -> torch.Tensor:
    return ContourGradientClip.apply(x)
