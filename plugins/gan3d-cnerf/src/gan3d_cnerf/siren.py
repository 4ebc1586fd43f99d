"""CNeRF's local semantic generators: FiLM-modulated SIREN MLPs, one per semantic class.

Each :class:`LocalGenerator` maps a point (z-normalised coordinates) and a view direction to
``[rgb logit (3), residual SDF (1), feature (W), mask logit (1)]`` under five style codes: three for the
shape trunk, two for the texture trunk. The same class, with only its SDF head used, is the frozen
"init" SDF network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AffineHead(nn.Module):
    """``std_init * (W x + b) + bias_init`` (the official ``LinearLayer``; the constants are not learned)."""

    def __init__(self, in_dim: int, out_dim: int, std_init: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_dim).uniform_(-bound, bound))
        self.std_init, self.bias_init = std_init, bias_init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        if self.std_init != 1.0:
            out = self.std_init * out
        if self.bias_init != 0.0:
            out = out + self.bias_init
        return out


class FiLMSiren(nn.Module):
    """``sin(gamma * (A x + a) + beta)`` with per-sample ``gamma = 15 G(s) + 30``, ``beta = 0.25 B(s)``."""

    def __init__(self, in_dim: int, out_dim: int, style_dim: int, first: bool = False):
        super().__init__()
        bound = 1.0 / 3.0 if first else math.sqrt(6.0 / in_dim) / 25.0
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_dim).uniform_(-1 / math.sqrt(in_dim), 1 / math.sqrt(in_dim)))
        self.gamma = AffineHead(style_dim, out_dim, std_init=15.0, bias_init=30.0)
        self.beta = AffineHead(style_dim, out_dim, std_init=0.25, bias_init=0.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x [B,P,in]`` (P points per sample), ``style [B,S]`` -> ``[B,P,out]``."""
        h = F.linear(x, self.weight, self.bias)
        gamma = self.gamma(style).unsqueeze(1)  # [B,1,out]: one modulation per sample, shared by its points
        beta = self.beta(style).unsqueeze(1)
        return torch.sin(gamma * h + beta)


class LocalGenerator(nn.Module):
    """One semantic region's radiance field (official ``SirenGenerator``; key names kept).

    depth shape layers driven by the shape code, two texture layers driven by the texture code; the
    mask head reads the shape trunk, the SDF and feature heads read the texture trunk, colour is a
    linear map of the feature.
    """

    def __init__(self, width: int = 128, style_dim: int = 256, depth: int = 3):
        super().__init__()
        self.width, self.depth = width, depth
        self.shape_linears = nn.ModuleList(
            [FiLMSiren(3, width, style_dim, first=True)] + [FiLMSiren(width, width, style_dim) for _ in range(depth - 1)])
        self.texture_linears = nn.ModuleList([FiLMSiren(width, width, style_dim) for _ in range(2)])
        self.mask_linears = AffineHead(width + 3, 1)
        self.feature_linear = AffineHead(width + 3, width)
        self.rgb_linear = AffineHead(width, 3)
        self.sdf_linear = AffineHead(width, 1)

    @property
    def num_codes(self) -> int:
        """Style codes this generator reads: ``depth`` shape layers + 2 texture layers."""
        return self.depth + 2

    def trunk(self, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor):
        """Shared trunk: returns ``(mask logit [B,P,1], texture-trunk output [B,P,W])``.

        points, viewdirs ``[B,P,3]``; codes ``[B,depth+2,S]`` (shape codes first).
        """
        h = points
        for i, layer in enumerate(self.shape_linears):
            h = layer(h, codes[:, i])
        mask = self.mask_linears(torch.cat([h, viewdirs], -1))
        for i, layer in enumerate(self.texture_linears):
            h = layer(h, codes[:, self.depth + i])
        return mask, h

    def sdf(self, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Only the SDF head ``[B,P,1]`` (how the init network is used)."""
        _, h = self.trunk(points, viewdirs, codes)
        return self.sdf_linear(h)

    def forward(self, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor):
        """-> ``(rgb logit [B,P,3], residual sdf [B,P,1], feature [B,P,W], mask logit [B,P,1])``."""
        mask, h = self.trunk(points, viewdirs, codes)
        sdf = self.sdf_linear(h)
        feature = self.feature_linear(torch.cat([h, viewdirs], -1))
        rgb = self.rgb_linear(feature)
        return rgb, sdf, feature, mask


def _film_stacked(layers: list[FiLMSiren], h: torch.Tensor, styles: torch.Tensor, first: bool) -> torch.Tensor:
    """One FiLM-SIREN layer of K generators at once.

    layers: the K generators' modules of this layer; h ``[B,P,in]`` (first layer, shared input) or
    ``[K,B,P,in]``; styles ``[K,B,S]`` -> ``[K,B,P,out]``.
    """
    weight = torch.stack([m.weight for m in layers])  # [K,out,in]
    bias = torch.stack([m.bias for m in layers])      # [K,out]
    if first:
        lin = torch.einsum("bpi,koi->kbpo", h, weight)
    else:
        lin = torch.matmul(h, weight.transpose(1, 2).unsqueeze(1))
    lin = lin + bias[:, None, None]
    gamma = _head_stacked([m.gamma for m in layers], styles)  # [K,B,out]
    beta = _head_stacked([m.beta for m in layers], styles)
    return torch.sin(gamma.unsqueeze(2) * lin + beta.unsqueeze(2))


def _head_stacked(heads: list[AffineHead], x: torch.Tensor) -> torch.Tensor:
    """K affine heads on their own inputs ``x [K,...,in]`` -> ``[K,...,out]``."""
    weight = torch.stack([m.weight for m in heads])  # [K,out,in]
    bias = torch.stack([m.bias for m in heads])
    shape = x.shape
    out = torch.baddbmm(bias.unsqueeze(1), x.reshape(shape[0], -1, shape[-1]), weight.transpose(1, 2))
    out = out.reshape(*shape[:-1], weight.shape[1])
    std, b0 = heads[0].std_init, heads[0].bias_init
    if std != 1.0:
        out = std * out
    if b0 != 0.0:
        out = out + b0
    return out


def _split_head_stacked(heads: list[AffineHead], h: torch.Tensor, viewdirs: torch.Tensor) -> torch.Tensor:
    """K heads on ``concat(h [K,B,P,W], viewdirs [B,P,3])`` without copying the view directions K times."""
    weight = torch.stack([m.weight for m in heads])  # [K,out,W+3]
    bias = torch.stack([m.bias for m in heads])
    W = h.shape[-1]
    out = torch.matmul(h, weight[:, :, :W].transpose(1, 2).unsqueeze(1))
    return out + torch.einsum("bpi,koi->kbpo", viewdirs, weight[:, :, W:]) + bias[:, None, None]


def evaluate_stacked(generators, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor,
                     with_features: bool = True):
    """All K local generators in one pass of batched matrix products (same maths as K
    :meth:`LocalGenerator.forward` calls; one GEMM per layer instead of K small ones).

    points, viewdirs ``[B,P,3]``; codes ``[B,K,depth+2,S]`` (per class, shape codes first) ->
    ``(rgb [K,B,P,3], sdf [K,B,P,1], feature [K,B,P,W], mask [K,B,P,1])``. Gradients reach every
    generator's own parameters (the stacks are built from them at each call).
    """
    gens = list(generators)
    depth = gens[0].depth
    styles = codes.permute(1, 0, 2, 3)  # [K,B,depth+2,S]
    h = points
    for i in range(depth):
        h = _film_stacked([g.shape_linears[i] for g in gens], h, styles[:, :, i], first=i == 0)
    mask = _split_head_stacked([g.mask_linears for g in gens], h, viewdirs)
    for i in range(2):
        h = _film_stacked([g.texture_linears[i] for g in gens], h, styles[:, :, depth + i], first=False)
    sdf = _head_stacked([g.sdf_linear for g in gens], h)
    feature = _split_head_stacked([g.feature_linear for g in gens], h, viewdirs)
    rgb = _head_stacked([g.rgb_linear for g in gens], feature)
    return rgb, sdf, feature if with_features else None, mask


def _film_operands(layers: list[FiLMSiren], styles: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One FiLM-SIREN layer of K generators as ``bmm`` operands for styles ``[K,B,S]``: weights
    ``[K*B,in,out]``, biases, gammas and betas ``[K*B,1,out]``.

    The modulation stays outside the weights (folding ``gamma`` into them, ``gamma ~ 30``, moved the
    fused colour by 3e-5, over the parity tolerance); it is applied in place on each block.
    """
    weight = torch.stack([m.weight for m in layers])  # [K,out,in]
    bias = torch.stack([m.bias for m in layers])      # [K,out]
    gamma = _head_stacked([m.gamma for m in layers], styles)  # [K,B,out]
    beta = _head_stacked([m.beta for m in layers], styles)
    K, B, O = gamma.shape
    w = weight.transpose(1, 2).unsqueeze(1).expand(K, B, -1, O).reshape(K * B, -1, O)
    b = bias.unsqueeze(1).expand(K, B, O).reshape(K * B, 1, O)
    return w, b, gamma.reshape(K * B, 1, O), beta.reshape(K * B, 1, O)


def _head_operands(heads: list[AffineHead], batch: int, split: int | None = None):
    """K affine heads as ``bmm`` operands for ``batch`` samples: weights ``[K*B,in,out]`` (with
    ``std_init`` folded in) and biases ``[K*B,1,out]``; with ``split`` the weights are cut into the
    first ``split`` inputs and the rest (the view direction)."""
    weight = torch.stack([m.weight for m in heads])  # [K,out,in]
    bias = torch.stack([m.bias for m in heads])
    std, b0 = heads[0].std_init, heads[0].bias_init
    if std != 1.0:
        weight, bias = std * weight, std * bias
    if b0 != 0.0:
        bias = bias + b0
    K, O, _ = weight.shape
    w = weight.transpose(1, 2).unsqueeze(1).expand(K, batch, -1, O).reshape(K * batch, -1, O)
    b = bias.unsqueeze(1).expand(K, batch, O).reshape(K * batch, 1, O)
    return (w, b) if split is None else (w[:, :split], w[:, split:], b)


class PreparedGenerators:
    """K local generators with their style codes applied once, for inference.

    Built once per latent (codes ``[B,K,depth+2,S]``: the stacked weights, modulations and heads);
    calling it on a block of points runs every layer as one batched product followed by in-place
    bias, modulation and activation (``baddbmm``'s broadcast copy of the bias is 5x slower than an
    ``add_``), and the heads that read the view direction accumulate both products into one output
    (no concatenation). Same outputs as :func:`evaluate_stacked` up to float rounding. No
    autograd: training uses :func:`evaluate_stacked`.
    """

    def __init__(self, generators, codes: torch.Tensor):
        gens = list(generators)
        self.K, self.B, self.depth = len(gens), codes.shape[0], gens[0].depth
        width = gens[0].width
        styles = codes.permute(1, 0, 2, 3)  # [K,B,depth+2,S]
        self.shape = [_film_operands([g.shape_linears[i] for g in gens], styles[:, :, i]) for i in range(self.depth)]
        self.texture = [_film_operands([g.texture_linears[i] for g in gens], styles[:, :, self.depth + i])
                        for i in range(2)]
        self.mask = _head_operands([g.mask_linears for g in gens], self.B, split=width)
        self.feature = _head_operands([g.feature_linear for g in gens], self.B, split=width)
        self.rgb = _head_operands([g.rgb_linear for g in gens], self.B)
        self.sdf_head = _head_operands([g.sdf_linear for g in gens], self.B)

    def _per_class(self, x: torch.Tensor) -> torch.Tensor:
        """``[B,P,3]`` -> ``[K*B,P,3]`` (the shared input of every class)."""
        return x.unsqueeze(0).expand(self.K, -1, -1, -1).reshape(self.K * self.B, x.shape[1], x.shape[2])

    def _trunk(self, points: torch.Tensor, vd: torch.Tensor | None):
        h = self._per_class(points)
        for w, b, gamma, beta in self.shape:
            h = torch.bmm(h, w).add_(b).mul_(gamma).add_(beta).sin_()
        mask = None
        if vd is not None:
            wh, wv, b = self.mask
            mask = torch.bmm(vd, wv).add_(b).baddbmm_(h, wh)
        for w, b, gamma, beta in self.texture:
            h = torch.bmm(h, w).add_(b).mul_(gamma).add_(beta).sin_()
        return mask, h

    def sdf(self, points: torch.Tensor, viewdirs: torch.Tensor) -> torch.Tensor:
        """Only the SDF head: points, viewdirs ``[B,P,3]`` -> ``[K,B,P,1]``."""
        _, h = self._trunk(points, None)
        w, b = self.sdf_head
        return torch.bmm(h, w).add_(b).reshape(self.K, self.B, -1, 1)

    def __call__(self, points: torch.Tensor, viewdirs: torch.Tensor):
        """points, viewdirs ``[B,P,3]`` -> ``(rgb [K,B,P,3], sdf [K,B,P,1], feature [K,B,P,W], mask [K,B,P,1])``."""
        vd = self._per_class(viewdirs)
        mask, h = self._trunk(points, vd)
        w, b = self.sdf_head
        sdf = torch.bmm(h, w).add_(b)
        wh, wv, b = self.feature
        feature = torch.bmm(vd, wv).add_(b).baddbmm_(h, wh)
        w, b = self.rgb
        rgb = torch.bmm(feature, w).add_(b)
        K, B, P = self.K, self.B, points.shape[1]
        return (rgb.reshape(K, B, P, -1), sdf.reshape(K, B, P, 1), feature.reshape(K, B, P, -1),
                mask.reshape(K, B, P, 1))
