"""CNeRF's three discriminators, with the official state_dict key names.

* :class:`VolumeDiscriminator` (``gd``, stage 1): image + K-channel mask, two CoordConv residual
  branches summed, minibatch std, a 2x2 conv giving ``[logit, azimuth, elevation]``.
* :class:`ComponentDiscriminator` (``sd``, stage 1): one region (image x mask channel, the channel),
  a real/fake head and a K-way class head on one trunk.
* :class:`DualDiscriminator` (``d``, stage 2): StyleGAN2's residual discriminator with an image and a
  mask branch summed (rosinality's layers, minibatch stddev and channel table from :mod:`gan3d.nn.stylegan2`).

``channel_divisor`` divides the official (hard-coded) channel tables; 1 is the official network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan3d.nn.stylegan2 import (ConvLayer, EqualLinear, FusedLeakyReLU, ResBlock, fused_leaky_relu, minibatch_stddev,
                                rosinality_channels)

# official channel tables (resolution -> channels)
VOLUME_CHANNELS = {2: 400, 3: 400, 4: 400, 6: 400, 8: 400, 12: 400, 16: 400, 24: 400, 32: 256, 48: 256,
                   64: 128, 96: 128, 128: 64}
COMPONENT_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128}


def _uniform_bias(bias: torch.Tensor, fan_in: int) -> None:
    bound = math.sqrt(1 / fan_in)
    with torch.no_grad():
        bias.uniform_(-bound, bound)


class DiscConv(nn.Module):
    """``nn.Conv2d`` (key ``conv``), optionally followed by a leaky-ReLU with gain 1 and its own bias
    (key ``activation.bias``, initialised U(+-sqrt(1/(in k k)))); the conv then has no bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, bias: bool = True, activate: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, bias=bias and not activate)
        self.activate = activate
        if activate:
            self.activation = FusedLeakyReLU(out_ch)
            _uniform_bias(self.activation.bias, in_ch * kernel_size ** 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return fused_leaky_relu(out, self.activation.bias, scale=1.0) if self.activate else out


class CoordConv(nn.Module):
    """Two coordinate channels (y then x, each linspace(-1,1) over the pixels) appended, then a
    3x3 conv without bias (key ``conv.conv``) and a gain-1 leaky-ReLU with bias (key ``activation``)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Module()
        self.conv.conv = nn.Conv2d(in_ch + 2, out_ch, 3, padding=1, bias=False)
        self.activation = FusedLeakyReLU(out_ch)
        _uniform_bias(self.activation.bias, in_ch * 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        yy = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype).view(1, 1, H, 1).expand(B, 1, H, W)
        xx = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype).view(1, 1, 1, W).expand(B, 1, H, W)
        out = self.conv.conv(torch.cat([x, yy, xx], 1))
        return fused_leaky_relu(out, self.activation.bias, scale=1.0)


class CoordResBlock(nn.Module):
    """Two CoordConvs and a 2x2 average pool; skip = pool (+ 1x1 conv when channels change); sum / sqrt 2."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = CoordConv(in_ch, out_ch)
        self.conv2 = CoordConv(out_ch, out_ch)
        self.skip = DiscConv(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(self.conv2(self.conv1(x)), 2)
        skip = F.avg_pool2d(x, 2)
        if self.skip is not None:
            skip = self.skip(skip)
        return (out + skip) / math.sqrt(2)


def _divided(table: dict[int, int], divisor: int) -> dict[int, int]:
    return {k: max(1, v // divisor) for k, v in table.items()}


def _check_size(size: int, table: dict[int, int], what: str) -> None:
    if size not in table or 2 ** int(math.log2(size)) != size:
        raise ValueError(f"{what} works at power-of-two sizes {sorted(k for k in table if k & (k - 1) == 0)}; "
                         f"got {size}")


class VolumeDiscriminator(nn.Module):
    """Stage 1's global discriminator ``gd``: ``(image [B,3,R,R], mask [B,K,R,R])`` ->
    ``(logit [B,1], viewpoint [B,2] or None)`` (viewpoint = predicted azimuth, elevation in radians)."""

    def __init__(self, size: int = 64, num_classes: int = 9, viewpoint: bool = True, channel_divisor: int = 1):
        super().__init__()
        ch = _divided(VOLUME_CHANNELS, channel_divisor)
        _check_size(size, ch, "the volume discriminator")
        self.viewpoint = viewpoint
        for name, in_ch in (("convs_img", 3), ("convs_seg", num_classes)):
            layers: list[nn.Module] = [DiscConv(in_ch, ch[size], 1, activate=True)]
            c = ch[size]
            for i in range(int(math.log2(size)) - 1, 0, -1):
                layers.append(CoordResBlock(c, ch[2 ** i]))
                c = ch[2 ** i]
            setattr(self, name, nn.Sequential(*layers))
        self.final_conv = DiscConv(c + 1, 3 if viewpoint else 1, 2)

    def forward(self, image: torch.Tensor, mask: torch.Tensor):
        out = self.final_conv(minibatch_stddev(self.convs_img(image) + self.convs_seg(mask)))
        logit = out[:, :1].reshape(-1, 1)
        return logit, (out[:, 1:].reshape(-1, 2) if self.viewpoint else None)


class ComponentDiscriminator(nn.Module):
    """Stage 1's semantic component discriminator ``sd``: ``(image [B,3,R,R], region [B,1,R,R])`` ->
    ``(logit [B,1], class logits [B,K])``. The image branch sees ``image * region``."""

    def __init__(self, size: int = 64, num_classes: int = 9, channel_divisor: int = 1):
        super().__init__()
        ch = _divided(COMPONENT_CHANNELS, channel_divisor)
        _check_size(size, ch, "the component discriminator")
        for name, first in (("convs_img", DiscConv(3, ch[size], 1, activate=True)),
                            ("convs_seg", DiscConv(1, ch[size], 1))):  # the mask branch: bias, no activation
            layers: list[nn.Module] = [first]
            c = ch[size]
            for i in range(int(math.log2(size)), 2, -1):
                layers.append(CoordResBlock(c, ch[2 ** (i - 1)]))
                c = ch[2 ** (i - 1)]
            setattr(self, name, nn.Sequential(*layers))
        top = ch[4]
        self.final_conv = DiscConv(c + 1, top, 3)
        self.final_linear = nn.Sequential(EqualLinear(top * 4, top, activation=True), EqualLinear(top, 1))
        self.class_linear = nn.Sequential(EqualLinear(top * 4, top, activation=True), EqualLinear(top, num_classes))

    def forward(self, image: torch.Tensor, region: torch.Tensor):
        out = self.convs_img(image * region) + self.convs_seg(region)
        out = self.final_conv(minibatch_stddev(out)).reshape(image.shape[0], -1)
        return self.final_linear(out), self.class_linear(out)


class DualDiscriminator(nn.Module):
    """Stage 2's discriminator ``d``: ``(image [B,3,H,W], mask [B,K,H,W])`` -> logit ``[B,1]``."""

    def __init__(self, size: int = 512, num_classes: int = 9, channel_multiplier: int = 2, channel_divisor: int = 1):
        super().__init__()
        ch = _divided(rosinality_channels(channel_multiplier), channel_divisor)
        _check_size(size, ch, "the StyleGAN2 discriminator")
        for name, in_ch in (("convs_img", 3), ("convs_seg", num_classes)):
            layers: list[nn.Module] = [ConvLayer(in_ch, ch[size], 1)]
            c = ch[size]
            for i in range(int(math.log2(size)), 2, -1):
                layers.append(ResBlock(c, ch[2 ** (i - 1)]))
                c = ch[2 ** (i - 1)]
            setattr(self, name, nn.Sequential(*layers))
        self.final_conv = ConvLayer(c + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation=True), EqualLinear(ch[4], 1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.convs_img(image) + self.convs_seg(mask)
        B = out.shape[0]
        # only this discriminator falls back to groups of 3 or 2 when 4 does not divide the batch
        group = min(B, 4) if B % min(B, 4) == 0 else (3 if B % 3 == 0 else 2)
        out = minibatch_stddev(out, group)
        return self.final_linear(self.final_conv(out).reshape(image.shape[0], -1))
