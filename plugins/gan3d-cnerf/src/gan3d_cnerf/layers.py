"""CNeRF-specific layers; the shared StyleGAN2 blocks live in :mod:`gan3d.nn.stylegan2`.

Parameter names match the official CNeRF/StyleSDF modules so that ``checkpoint["g_ema"]`` loads key for key.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan3d.nn.stylegan2 import EqualConv2d, FusedLeakyReLU, fused_leaky_relu


class MappingLinear(nn.Module):
    """The renderer mapping layer: plain linear + leaky-ReLU(0.2) with gain 1 (no lr equalisation)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / math.sqrt(in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(F.linear(x, self.weight), self.bias, scale=1.0)


class ConvLayer(nn.Sequential):
    """``feature_transfer``: 3x3 equalised conv without bias (key ``0``) + fused leaky-ReLU (key ``1``)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3):
        super().__init__(EqualConv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
                         FusedLeakyReLU(out_ch))
