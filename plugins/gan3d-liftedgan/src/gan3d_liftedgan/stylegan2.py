"""The slim 256-px StyleGAN2 generator LiftedGAN distils (rosinality layout, inference only).

State-dict keys and numerics follow rosinality's stylegan2-pytorch as vendored by LiftedGAN, so the
authors' ``g_ema`` loads strictly: equalised-lr linear/conv layers, grouped modulated convolutions,
FIR up-sampling with the gain already folded into the stored kernel buffers, and the fixed noise
buffers ``noises.noise_*`` (LiftedGAN never draws fresh noise).

The channel table is the authors' slim one ({4:512, 8:512, 16:256, 32:128, 64:64, 128:32, 256:16}),
not rosinality's default; it is a constructor argument so reduced-width fixtures load too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SLIM_CHANNELS: dict[int, int] = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 32, 256: 16}


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, slope: float = 0.2, scale: float = 2**0.5) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * sqrt(2)`` with ``bias [C]`` broadcast on dim 1 (the CPU branch of the op)."""
    shape = (1, bias.shape[0]) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope=slope) * scale


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR-filter (true convolution: flipped kernel), downsample.

    x: ``[B,C,H,W]``; kernel ``[kh,kw]``; the same ``up``/``down``/``pad`` on both axes; output size
    ``(H*up + pad0 + pad1 - kh) // down + 1``. Each channel is filtered as its own single-channel image,
    as the reference implementation does (it keeps its rounding).
    """
    B, C, H, W = x.shape
    p0, p1 = pad
    out = x.reshape(B * C, H, 1, W, 1)
    if up > 1:  # zeros after every sample, on both axes
        out = F.pad(out, (0, up - 1, 0, 0, 0, up - 1))
    out = out.reshape(B * C, 1, H * up, W * up)
    out = F.pad(out, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    h, w = out.shape[-2:]
    out = out[:, :, max(-p0, 0):h - max(-p1, 0), max(-p0, 0):w - max(-p1, 0)]
    k = torch.flip(kernel, (0, 1)).to(out.dtype)[None, None]
    out = F.conv2d(out, k)
    out = out[:, :, ::down, ::down]
    return out.reshape(B, C, out.shape[-2], out.shape[-1])


def make_kernel(taps: list[float]) -> torch.Tensor:
    """Normalised outer product of a 1-D FIR: ``[k,k]`` summing to 1."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalised-lr linear: the weight is stored divided by ``lr_mul`` and scaled by ``lr_mul/sqrt(in)``."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class Blur(nn.Module):
    """FIR blur with a stored kernel buffer (``kernel``, already multiplied by the up-sampling gain)."""

    def __init__(self, taps: list[float], pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """×2 FIR up-sampling of the ToRGB skip (kernel buffer ``kernel`` carries the gain 4)."""

    def __init__(self, taps: list[float], factor: int = 2):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * factor**2)
        self.factor = factor
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Per-sample modulated (and optionally demodulated) convolution, run as one grouped conv."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_taps: tuple[float, ...] = (1, 3, 3, 1)):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_taps) - factor) - (kernel_size - 1)
            self.blur = Blur(list(blur_taps), pad=((p + 1) // 2 + factor - 1, p // 2 + 1), gain=factor**2)
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """x ``[B,in,H,W]``, style ``[B,style_dim]`` -> ``[B,out,H',W']`` (H' = 2H when up-sampling)."""
        B, C, H, W = x.shape
        s = self.modulation(style).view(B, 1, C, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(B, self.out_ch, 1, 1, 1)
        weight = weight.view(B * self.out_ch, C, self.k, self.k)
        if self.upsample:
            x = x.view(1, B * C, H, W)
            weight = weight.view(B, self.out_ch, C, self.k, self.k).transpose(1, 2)
            weight = weight.reshape(B * C, self.out_ch, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=B)
            out = out.view(B, self.out_ch, out.shape[-2], out.shape[-1])
            return self.blur(out)
        x = x.view(1, B * C, H, W)
        out = F.conv2d(x, weight, padding=self.padding, groups=B)
        return out.view(B, self.out_ch, H, W)


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample([1, 3, 3, 1])
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class StyleGAN2Generator(nn.Module):
    """rosinality-layout StyleGAN2 generator (``g_ema``) restricted to what LiftedGAN uses.

    ``style`` is the mapping network (PixelNorm + ``n_mlp`` equalised linear layers, lr_mul 0.01).
    :meth:`synthesis` always feeds one w to every layer and uses the stored noise buffers.
    """

    def __init__(self, size: int = 256, style_dim: int = 512, n_mlp: int = 8,
                 channels: dict[int, int] | None = None, lr_mlp: float = 0.01):
        super().__init__()
        channels = {int(k): int(v) for k, v in (channels or SLIM_CHANNELS).items()}
        self.size, self.style_dim, self.n_mlp, self.lr_mlp = size, style_dim, n_mlp, lr_mlp
        self.channels = channels
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True)
                                                  for _ in range(n_mlp)])
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], 3, style_dim)
        self.to_rgb1 = ToRGB(channels[4], style_dim, upsample=False)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = channels[4]
        for i in range(3, self.log_size + 1):
            out_ch = channels[2**i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B,style_dim]`` -> ``w [B,style_dim]``."""
        return self.style(z)

    def synthesis(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``w [B,style_dim]`` for all layers -> image ``[B,3,size,size]`` (unclamped) and the last
        StyledConv feature ``[B,channels[size],size,size]`` (the input LiftedGAN's depth net injects)."""
        noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        out = self.input(w.shape[0])
        out = self.conv1(out, w, noise[0])
        skip = self.to_rgb1(out, w)
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * k](out, w, noise[2 * k + 1])
            out = self.convs[2 * k + 1](out, w, noise[2 * k + 2])
            skip = to_rgb(out, w, skip)
        return skip, out
