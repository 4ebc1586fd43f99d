"""CNeRF's 2D stage: a StyleGAN2 synthesis network from the 64x64 feature map to full resolution,
with a second output branch (``to_seg*``) that refines the volume-rendered semantic mask.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan3d.nn.stylegan2 import EqualLinear, PixelNorm, StyledConv, ToRGB


def decoder_channels(channel_multiplier: int, divisor: int = 1) -> dict[int, int]:
    """Feature channels per resolution (StyleGAN2's table; ``divisor`` > 1 for small models)."""
    cm = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm,
             1024: 16 * cm}
    return {r: max(1, c // divisor) for r, c in table.items()}


class Decoder(nn.Module):
    """Mapping (PixelNorm + 5 EqualLinear, lr 0.01) and synthesis from ``in_size`` to ``size``.

    style_dim: the renderer's latent size S; the decoder's own latents have ``2 S`` entries.
    in_channels: channels of the transferred feature map (256 in the official model).
    """

    def __init__(self, size: int, style_dim: int, num_classes: int, channel_multiplier: int = 2,
                 in_size: int = 64, in_channels: int = 256, lr_mapping: float = 0.01,
                 blur_kernel: tuple[float, ...] = (1, 3, 3, 1), channel_divisor: int = 1):
        super().__init__()
        self.size, self.in_size = size, in_size
        self.w_dim = 2 * style_dim
        layers: list[nn.Module] = [PixelNorm(), EqualLinear(style_dim, self.w_dim, lr_mul=lr_mapping, activation=True)]
        layers += [EqualLinear(self.w_dim, self.w_dim, lr_mul=lr_mapping, activation=True) for _ in range(4)]
        self.style = nn.Sequential(*layers)

        ch = decoder_channels(channel_multiplier, channel_divisor)
        log_size, log_in = int(math.log2(size)), int(math.log2(in_size))
        if 2 ** log_size != size or 2 ** log_in != in_size or log_size <= log_in:
            raise ValueError(f"decoder sizes must be powers of two with size > in_size, got {size} and {in_size}")
        self.conv1 = StyledConv(in_channels, ch[in_size], 3, self.w_dim, blur_kernel=blur_kernel,
                                 unused_bias=True)
        self.to_rgb1 = ToRGB(ch[in_size], self.w_dim, upsample=False)
        self.to_seg1 = ToRGB(ch[in_size], self.w_dim, upsample=False, out_ch=num_classes)
        self.num_layers = (log_size - log_in) * 2 + 1
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_segs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 2 * log_in + 1) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = ch[in_size]
        for lg in range(log_in + 1, log_size + 1):
            out_ch = ch[2 ** lg]
            self.convs.append(StyledConv(in_ch, out_ch, 3, self.w_dim, upsample=True, blur_kernel=blur_kernel,
                                         unused_bias=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, self.w_dim, blur_kernel=blur_kernel, unused_bias=True))
            self.to_rgbs.append(ToRGB(out_ch, self.w_dim))
            self.to_segs.append(ToRGB(out_ch, self.w_dim, out_ch=num_classes))
            in_ch = out_ch
        self.n_latent = (log_size - log_in) * 2 + 2

    def map(self, w: torch.Tensor, mean: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
        """Renderer w ``[B,S]`` -> decoder w ``[B,2S]``, truncated towards ``mean [1,2S]`` when ``psi < 1``."""
        out = self.style(w)
        if psi < 1:
            if mean is None:
                raise ValueError("decoder truncation needs the mean decoder latent")
            out = mean + psi * (out - mean)
        return out

    def fixed_noise(self) -> list[torch.Tensor]:
        """The stored noise maps (the official inference uses them: ``randomize_noise=False``)."""
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def noise_shapes(self, batch: int) -> list[tuple[int, int, int, int]]:
        """Shapes of the per-layer noise maps for ``batch`` samples (what training draws)."""
        return [(batch, 1) + tuple(n.shape[-2:]) for n in self.fixed_noise()]

    def forward(self, features: torch.Tensor, w: torch.Tensor, seg_in: torch.Tensor | None = None,
                randomize_noise: bool = False, noise: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``features [B,C,h,w]``, decoder w ``[B,2S]`` (one code for every layer) or per-layer latents
        ``[B,n_latent,2S]`` (style mixing in training), low-res mask ``seg_in [B,K,h,w]`` (skip of the
        semantic branch) -> ``(image [B,3,H,W], semantic [B,K,H,W])``. ``noise``: the per-layer noise maps
        (training supplies its own draws); else fresh (``randomize_noise``) or the stored ones.
        """
        latent = w if w.ndim == 3 else w.unsqueeze(1).expand(-1, self.n_latent, -1)
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.fixed_noise()
        out = self.conv1(features, latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])  # the RGB skip starts empty: low-res RGB is not fed
        skip_seg = self.to_seg1(out, latent[:, 1], seg_in)
        i = 1
        for j in range(len(self.to_rgbs)):
            out = self.convs[2 * j](out, latent[:, i], noise[2 * j + 1])
            out = self.convs[2 * j + 1](out, latent[:, i + 1], noise[2 * j + 2])
            skip = self.to_rgbs[j](out, latent[:, i + 2], skip)
            skip_seg = self.to_segs[j](out, latent[:, i + 2], skip_seg)
            i += 2
        return skip, skip_seg
