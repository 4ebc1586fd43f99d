"""StyleGAN2 building blocks in the rosinality (stylegan2-pytorch) layout, plain PyTorch, inference-exact.

Shared by the plugins whose official code vendors rosinality's modules (LiftedGAN, CNeRF/StyleSDF).
Parameter and buffer names are rosinality's, so those methods' ``g_ema`` state dicts load key for key.
The fused CUDA ops are replaced by their CPU reference branches (``upfirdn2d_native`` and the
``leaky_relu`` fallback of ``fused_leaky_relu``), which the official fixtures were produced with.
Equalised-lr scales are applied at run time, as in the original, so stored weights are used unchanged;
scale expressions keep the original's operation order so the float32 results match bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Blur", "ConstantInput", "ConvLayer", "Discriminator", "EqualConv2d", "EqualLinear", "FusedLeakyReLU",
    "ModulatedConv2d", "NoiseInjection", "PixelNorm", "ResBlock", "SLIM_CHANNELS", "SLIM_D_CHANNELS",
    "StyleGAN2Generator", "StyledConv", "ToRGB", "Upsample", "fused_leaky_relu", "make_kernel",
    "minibatch_stddev", "rosinality_channels", "upfirdn2d",
]

# LiftedGAN's slim tables (its vendored stylegan2-pytorch, shared/reference/liftedgan-training.md 1.3);
# rosinality's own defaults are :func:`rosinality_channels`.
SLIM_CHANNELS: dict[int, int] = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 32, 256: 16}
SLIM_D_CHANNELS: dict[int, int] = {4: 512, 8: 512, 16: 512, 32: 256, 64: 128, 128: 64, 256: 32}


def rosinality_channels(channel_multiplier: int = 2) -> dict[int, int]:
    """rosinality/stylegan2-pytorch's channel table (generator and discriminator) for a channel multiplier."""
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm,
            1024: 16 * cm}

BLUR_TAPS: tuple[float, ...] = (1, 3, 3, 1)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, negative_slope: float = 0.2,
                     scale: float = 2 ** 0.5, inplace: bool = False) -> torch.Tensor:
    """``leaky_relu(x + bias, negative_slope) * scale``.

    ``x [B,C,...]``; ``bias [C]`` broadcast on dim 1 (``None``: no bias). The ``sqrt(2)`` gain keeps the
    activation's second moment at that of its input for unit-Gaussian inputs (He init). ``inplace``
    (inference) overwrites ``x``: the same operations, bit for bit, without the temporaries.
    """
    if inplace:
        if bias is not None:
            x = x.add_(bias.view(1, bias.shape[0], *([1] * (x.ndim - 2))))
        return F.leaky_relu_(x, negative_slope).mul_(scale)
    if bias is not None:
        x = x + bias.view(1, bias.shape[0], *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope=negative_slope) * scale


def make_kernel(taps: Sequence[float] | Sequence[Sequence[float]]) -> torch.Tensor:
    """FIR taps -> float32 2-D kernel ``[k,k]`` normalised to sum 1 (1-D taps: their outer product)."""
    k = torch.tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Up-sample by zero insertion, pad, FIR-filter (a true convolution), down-sample; rosinality's
    ``upfirdn2d_native`` with the same ``up``/``down``/``pad`` on both axes.

    ``x [B,C,H,W]``, ``kernel [kh,kw]``; ``pad = (before, after)``, negative values crop. Output
    ``[B,C,(H*up + p0 + p1 - kh)//down + 1, (W*up + p0 + p1 - kw)//down + 1]``. Each channel is filtered
    on its own, as the reference does (it reshapes to ``B*C`` single-channel images); a depthwise
    convolution forms the same sums bit for bit (the parity tests compare with ``torch.equal``) and is
    several times faster on CPU than thousands of one-channel images.
    """
    B, C, H, W = x.shape
    p0, p1 = pad
    out = x
    if up > 1:  # up-1 zeros after every sample, on both axes
        out = F.pad(x.reshape(B, C, H, 1, W, 1), (0, up - 1, 0, 0, 0, up - 1)).reshape(B, C, H * up, W * up)
    out = F.pad(out, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    h, w = out.shape[-2:]
    out = out[:, :, max(-p0, 0):h - max(-p1, 0), max(-p0, 0):w - max(-p1, 0)]
    # conv2d correlates; the flipped kernel makes it the convolution the reference computes
    k = torch.flip(kernel, (0, 1)).to(out.dtype)[None, None].expand(C, 1, -1, -1)
    out = F.conv2d(out, k, groups=C)
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out


class PixelNorm(nn.Module):
    """``[B,D,...]`` -> same, each latent scaled to unit mean square over dim 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalised-lr linear ``[...,in] -> [...,out]``.

    ``weight [out,in]`` is stored divided by ``lr_mul`` and used times ``lr_mul / sqrt(in)``; ``bias [out]``
    is used times ``lr_mul`` (the mapping network's lr 0.01). ``activation``: fused leaky-ReLU after.
    """

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul  # the original's order: bit-identical products
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Equalised-lr conv ``[B,in,H,W] -> [B,out,H',W']``: ``weight [out,in,k,k]`` used times
    ``1/sqrt(in*k*k)``; optional ``bias [out]``."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Learned ``bias [C]`` + leaky-ReLU(0.2) * sqrt(2) on ``[B,C,...]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class Blur(nn.Module):
    """FIR low-pass ``[B,C,H,W] -> [B,C,H+p0+p1-k+1,...]`` with buffer ``kernel [k,k]``.

    After a stride-``upsample_factor`` transposed conv only one in ``factor**2`` samples is non-zero,
    so the stored kernel carries that gain (``factor**2``) to keep the mean level.
    """

    def __init__(self, taps: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """FIR up-sampling ``[B,C,H,W] -> [B,C,factor*H,factor*W]`` (buffer ``kernel [k,k]``, gain ``factor**2``)."""

    def __init__(self, taps: Sequence[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * factor ** 2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Per-sample style-modulated (optionally demodulated) convolution, run as one grouped conv.

    ``weight [1,out,in,k,k]``; ``modulation`` maps ``style [B,style_dim]`` to in-channel scales ``[B,in]``
    (bias initialised to 1, so a fresh layer starts unmodulated). Demodulation rescales each output
    filter to unit L2 norm, which makes the output statistics independent of the style's magnitude.
    ``upsample``: stride-2 transposed conv followed by :class:`Blur`, as the reference does.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_kernel: Sequence[float] = BLUR_TAPS):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x [B,in,H,W]``, ``style [B,style_dim]`` -> ``[B,out,H',W']`` (``H' = 2H`` when up-sampling)."""
        B, _, H, W = x.shape
        weight = self.scale * self.weight * self.modulation(style).view(B, 1, self.in_ch, 1, 1)  # [B,out,in,k,k]
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)  # [B,out]
            weight = weight * demod.view(B, self.out_ch, 1, 1, 1)
        x = x.reshape(1, B * self.in_ch, H, W)  # one group per sample, each with its own weights
        if self.upsample:
            # conv_transpose2d weights are [in, out/groups, k, k]
            weight = weight.transpose(1, 2).reshape(B * self.in_ch, self.out_ch, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=B)
            return self.blur(out.view(B, self.out_ch, out.shape[-2], out.shape[-1]))
        out = F.conv2d(x, weight.reshape(B * self.out_ch, self.in_ch, self.k, self.k), padding=self.padding,
                       groups=B)
        return out.view(B, self.out_ch, out.shape[-2], out.shape[-1])


class NoiseInjection(nn.Module):
    """``x [B,C,H,W] + weight * noise [B|1,1,H,W]``; fresh Gaussian noise when ``noise`` is None."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x.add_(self.weight * noise) if inplace else x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv -> noise -> bias + leaky-ReLU: ``[B,in,H,W] -> [B,out,H',W']``.

    ``unused_bias``: register the parameter ``bias [1,out,1,1]`` that StyleSDF-derived code (CNeRF) has in
    its module and checkpoints but never uses (the bias applied is ``activate.bias``); it exists only so
    such state dicts load strictly. rosinality's own StyledConv has no such key.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[float] = BLUR_TAPS, demodulate: bool = True, unused_bias: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, demodulate=demodulate,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        if unused_bias:
            self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style)
        if torch.is_grad_enabled():
            return self.activate(self.noise(out, noise))
        # inference: the same operations in place on the fresh convolution output (at 512 px each
        # temporary is 64 MB, and allocating it costs as much as the arithmetic)
        return fused_leaky_relu(self.noise(out, noise, inplace=True), self.activate.bias, inplace=True)


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation + ``bias [1,out,1,1]``, plus the skip from the previous
    resolution: ``x [B,in,H,W]``, ``skip [B,out,H/2,W/2]`` (``[B,out,H,W]`` when ``upsample=False``)
    -> ``[B,out,H,W]``. ``out_ch`` is 3 for RGB; other branches (e.g. semantic logits) reuse it."""

    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True, blur_kernel: Sequence[float] = BLUR_TAPS,
                 out_ch: int = 3):
        super().__init__()
        self.upsample = Upsample(blur_kernel) if upsample else None
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + (skip if self.upsample is None else self.upsample(skip))
        return out


class ConstantInput(nn.Module):
    """The learned ``[1,C,size,size]`` input of the synthesis network, repeated over the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class StyleGAN2Generator(nn.Module):
    """rosinality's StyleGAN2 generator (``Generator`` of stylegan2-pytorch), key for key.

    ``style`` is the mapping network (PixelNorm + ``n_mlp`` equalised linear layers with lr_mul
    ``lr_mlp``); ``noises.noise_*`` are the fixed noise maps drawn at construction (what ``g_ema``
    stores and LiftedGAN renders with). ``channels`` maps each resolution 4..size to its width.
    """

    def __init__(self, size: int = 256, style_dim: int = 512, n_mlp: int = 8, channels: dict[int, int] | None = None,
                 lr_mlp: float = 0.01):
        super().__init__()
        channels = {int(k): int(v) for k, v in (channels or SLIM_CHANNELS).items()}
        log_size = int(math.log2(size))
        if 2 ** log_size != size or size < 4:
            raise ValueError(f"StyleGAN2 sizes are powers of two >= 4, got {size}")
        missing = [2 ** i for i in range(2, log_size + 1) if 2 ** i not in channels]
        if missing:
            raise ValueError(f"the channel table lacks resolution(s) {missing}")
        self.size, self.style_dim, self.n_mlp, self.lr_mlp = size, style_dim, n_mlp, lr_mlp
        self.channels = {r: c for r, c in channels.items() if r <= size}
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True)
                                                  for _ in range(n_mlp)])
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], 3, style_dim)
        self.to_rgb1 = ToRGB(channels[4], style_dim, upsample=False)
        self.log_size = log_size
        self.num_layers = (log_size - 2) * 2 + 1
        self.n_latent = log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = channels[4]
        for i in range(3, log_size + 1):
            out_ch = channels[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B,style_dim]`` -> ``w [B,style_dim]``."""
        return self.style(z)

    def noise_shapes(self, batch: int) -> list[tuple[int, int, int, int]]:
        """Shapes ``[B,1,r,r]`` of the per-layer noise maps :meth:`synthesis` takes."""
        return [(batch, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)) for i in range(self.num_layers)]

    def stored_noise(self) -> list[torch.Tensor]:
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def synthesis(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image ``[B,3,size,size]`` (unclamped) and the last StyledConv feature ``[B,channels[size],size,size]``.

        ``ws``: one ``w [B,style_dim]`` for every layer, or per-layer ``[B,n_latent,style_dim]`` (style
        mixing). Layer order as rosinality: conv1 and to_rgb1 take ``ws[:,0]`` and ``ws[:,1]``; block k's two
        convs and ToRGB take ``ws[:,1+2k]``, ``ws[:,2+2k]``, ``ws[:,3+2k]``. ``noise``: per-layer maps
        (:meth:`noise_shapes`), default the stored ones.
        """
        if noise is None:
            noise = self.stored_noise()
        if ws.ndim == 2:
            def style(_: int) -> torch.Tensor:
                return ws
        else:
            def style(i: int) -> torch.Tensor:
                return ws[:, i]
        out = self.input(ws.shape[0])
        out = self.conv1(out, style(0), noise[0])
        skip = self.to_rgb1(out, style(1))
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * k](out, style(1 + 2 * k), noise[2 * k + 1])
            out = self.convs[2 * k + 1](out, style(2 + 2 * k), noise[2 * k + 2])
            skip = to_rgb(out, style(3 + 2 * k), skip)
        return skip, out

    def mix(self, ws: list[torch.Tensor], crossover: int | None) -> torch.Tensor:
        """Per-layer styles ``[B,n_latent,D]``: ``ws[0]`` for layers ``< crossover``, ``ws[1]`` from there
        (rosinality's style mixing); with one ``w`` every layer gets it."""
        if len(ws) == 1 or crossover is None:
            return ws[0][:, None].repeat(1, self.n_latent, 1)
        return torch.cat((ws[0][:, None].repeat(1, crossover, 1),
                          ws[1][:, None].repeat(1, self.n_latent - crossover, 1)), 1)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """rosinality's minibatch standard deviation: ``[B,C,H,W] -> [B,C+1,H,W]``.

    Samples ``i`` and ``i + B/G`` (``G = min(B, group_size)``, which must divide ``B``) form a group; the
    appended channel is the group's std (no Bessel correction, ``+1e-8`` inside the root) averaged over
    C, H and W.
    """
    B, C, H, W = x.shape
    G = min(B, group_size)
    if B % G:
        raise ValueError(f"minibatch stddev: the batch {B} must be divisible by the group size {G}")
    s = x.view(G, -1, 1, C, H, W)
    s = torch.sqrt(s.var(0, unbiased=False) + 1e-8)
    s = s.mean([2, 3, 4], keepdim=True).squeeze(2)
    return torch.cat((x, s.repeat(G, 1, H, W)), 1)


class ConvLayer(nn.Sequential):
    """rosinality's ConvLayer ``[B,in,H,W] -> [B,out,H',W']``: (FIR blur when down-sampling) -> stride-2 or
    same-size EqualConv2d -> bias + leaky-ReLU. Keys ``0, 1, 2`` as in rosinality's checkpoints."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, downsample: bool = False, bias: bool = True,
                 activate: bool = True, blur_kernel: Sequence[float] = BLUR_TAPS):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
        layers.append(EqualConv2d(in_ch, out_ch, kernel_size, stride=2 if downsample else 1,
                                  padding=0 if downsample else kernel_size // 2, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_ch))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """The discriminator's residual block ``[B,in,H,W] -> [B,out,H/2,W/2]``; the sum is divided by sqrt(2)
    to keep the variance of the two added branches."""

    def __init__(self, in_ch: int, out_ch: int, blur_kernel: Sequence[float] = BLUR_TAPS):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, activate=False, bias=False, blur_kernel=blur_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """rosinality's StyleGAN2 discriminator, key for key: ``[B,3,size,size]`` in [-1,1] -> logits ``[B,1]``.

    fromRGB (1x1), one :class:`ResBlock` per resolution down to 4x4, minibatch stddev (group 4), a 3x3
    conv and two equalised linear layers. ``channels`` maps each resolution 4..size to its width.
    """

    def __init__(self, size: int = 256, channels: dict[int, int] | None = None, stddev_group: int = 4):
        super().__init__()
        channels = {int(k): int(v) for k, v in (channels or SLIM_D_CHANNELS).items()}
        log_size = int(math.log2(size))
        missing = [2 ** i for i in range(2, log_size + 1) if 2 ** i not in channels]
        if 2 ** log_size != size or missing:
            raise ValueError(f"discriminator size {size} must be a power of two with a width for every "
                             f"resolution (missing {missing})")
        self.size = size
        self.channels = {r: c for r, c in channels.items() if r <= size}
        self.stddev_group = stddev_group
        convs: list[nn.Module] = [ConvLayer(3, channels[size], 1)]
        in_ch = channels[size]
        for i in range(log_size, 2, -1):
            out_ch = channels[2 ** (i - 1)]
            convs.append(ResBlock(in_ch, out_ch))
            in_ch = out_ch
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(in_ch + 1, channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 4 * 4, channels[4], activation=True),
                                          EqualLinear(channels[4], 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = minibatch_stddev(self.convs(image), self.stddev_group)
        out = self.final_conv(out)
        return self.final_linear(out.reshape(out.shape[0], -1))
