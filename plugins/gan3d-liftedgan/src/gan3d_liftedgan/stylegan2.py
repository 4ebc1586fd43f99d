"""The slim 256-px StyleGAN2 generator LiftedGAN distils (rosinality layout, inference only).

State-dict keys and numerics follow rosinality's stylegan2-pytorch as vendored by LiftedGAN, so the
authors' ``g_ema`` loads strictly. The layers are the shared ones of :mod:`gan3d.nn.stylegan2`; this
module adds the generator itself, with the fixed noise buffers ``noises.noise_*`` (LiftedGAN never draws
fresh noise).

The channel table is the authors' slim one ({4:512, 8:512, 16:256, 32:128, 64:64, 128:32, 256:16}),
not rosinality's default; it is a constructor argument so reduced-width fixtures load too.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan3d.nn.stylegan2 import EqualLinear, PixelNorm, StyledConv, ToRGB, fused_leaky_relu, upfirdn2d

# fused_leaky_relu and upfirdn2d are re-exported: the parity tests check them under this module's name
__all__ = ["SLIM_CHANNELS", "ConstantInput", "StyleGAN2Generator", "fused_leaky_relu", "upfirdn2d"]

SLIM_CHANNELS: dict[int, int] = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 32, 256: 16}


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
