"""StyleGAN2 building blocks in plain PyTorch (the CPU path of the official fused ops, no CUDA kernels).

Parameter and buffer names match the official CNeRF/StyleSDF modules so that ``checkpoint["g_ema"]``
loads key for key. Scales (equalised learning rate) are applied at run time, as in the original, so the
stored weights are used unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None, slope: float = 0.2,
                     scale: float = SQRT2) -> torch.Tensor:
    """``leaky_relu(x + bias, slope) * scale`` with ``bias [C]`` broadcast on dim 1 (``x [B,C,...]``)."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, slope) * scale


def make_kernel(taps: list[float]) -> torch.Tensor:
    """Separable FIR taps -> normalised 2D kernel ``[k,k]`` (sums to 1)."""
    k = torch.tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Up-sample by zero insertion, pad, convolve with ``kernel`` (true convolution), down-sample.

    ``x [B,C,H,W]``, ``kernel [k,k]``; ``pad = (before, after)`` on both axes (may be negative = crop).
    Equals the reference ``upfirdn2d_native`` of the StyleGAN2 ops.
    """
    B, C, H, W = x.shape
    out = x.reshape(B * C, 1, H, W)
    if up > 1:
        # zero insertion: each input pixel followed by up-1 zeros in both directions
        out = out.reshape(B * C, 1, H, 1, W, 1)
        out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])
        out = out.reshape(B * C, 1, H * up, W * up)
    p0, p1 = pad
    out = F.pad(out, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    h, w = out.shape[-2:]
    out = out[:, :, max(-p0, 0):h - max(-p1, 0), max(-p0, 0):w - max(-p1, 0)]
    # conv2d is a correlation; flipping the kernel makes it the convolution the reference computes
    weight = torch.flip(kernel, [0, 1]).to(out.dtype)[None, None]
    out = F.conv2d(out, weight)
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out.reshape(B, C, out.shape[-2], out.shape[-1])


class PixelNorm(nn.Module):
    """Normalise each latent to unit mean square (over dim 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class MappingLinear(nn.Module):
    """The renderer mapping layer: plain linear + leaky-ReLU(0.2) with gain 1 (no lr equalisation)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / math.sqrt(in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(F.linear(x, self.weight), self.bias, scale=1.0)


class EqualLinear(nn.Module):
    """Linear layer with run-time weight scale ``lr_mul / sqrt(in)`` and bias scale ``lr_mul``."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Conv2d with run-time weight scale ``1/sqrt(in*k*k)``; optional bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size ** 2)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky-ReLU(0.2) * sqrt(2); the bias is the parameter ``bias [C]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class ConvLayer(nn.Sequential):
    """``feature_transfer``: 3x3 equalised conv without bias (key ``0``) + fused leaky-ReLU (key ``1``)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3):
        super().__init__(EqualConv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
                         FusedLeakyReLU(out_ch))


class Blur(nn.Module):
    """FIR low-pass after a transposed convolution (buffer ``kernel [4,4]``)."""

    def __init__(self, taps: list[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR up-sampling of skip connections (buffer ``kernel [4,4]``)."""

    def __init__(self, taps: list[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * factor ** 2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Style-modulated conv (StyleGAN2); ``weight [1,out,in,k,k]``, ``modulation`` style -> in-channel scales.

    ``upsample`` uses a stride-2 transposed conv followed by :class:`Blur`, as the reference does.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_kernel: tuple[float, ...] = (1, 3, 3, 1)):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(list(blur_kernel), pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x [B,in,H,W]``, ``style [B,style_dim]`` -> ``[B,out,H',W']``."""
        B, _, H, W = x.shape
        s = self.modulation(style).view(B, 1, self.in_ch, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(B, self.out_ch, 1, 1, 1)
        # grouped convolution: one group per sample, each with its own modulated weights
        x = x.reshape(1, B * self.in_ch, H, W)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(B * self.in_ch, self.out_ch, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=B)
            out = self.blur(out.view(B, self.out_ch, out.shape[-2], out.shape[-1]))
            return out
        weight = weight.reshape(B * self.out_ch, self.in_ch, self.k, self.k)
        out = F.conv2d(x, weight, padding=self.padding, groups=B)
        return out.view(B, self.out_ch, out.shape[-2], out.shape[-1])


class NoiseInjection(nn.Module):
    """``x + weight * noise``; fresh Gaussian noise when none is given."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv -> noise -> bias + leaky-ReLU.

    ``bias [1,C,1,1]`` exists in the official module (and its checkpoints) but is never used; it is kept
    only so that the official state_dict loads strictly.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False,
                 blur_kernel: tuple[float, ...] = (1, 3, 3, 1)):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation + bias, plus the up-sampled skip (RGB or semantic logits)."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, upsample: bool = True,
                 blur_kernel: tuple[float, ...] = (1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(list(blur_kernel))
        else:
            self.upsample = None
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            if self.upsample is not None:
                skip = self.upsample(skip)
            out = out + skip
        return out
