"""LiftedGAN's four networks (netSD, netSC, netD, netT) and its Gaussian blur, in the official key layout.

Widths are constructor arguments (the official ones are the defaults) so the reduced-width parity
fixture loads strictly into the same classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ScaleShift(nn.Module):
    """``x * weight + bias`` with ``weight, bias [1, dim]`` (the end of netSC's embeddings)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, dim))
        self.bias = nn.Parameter(torch.zeros(1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


class MLP(nn.Module):
    """``n_layer - 1`` blocks [Linear, (GroupNorm(dim/4, dim)), LeakyReLU 0.2], a final Linear, an optional
    output module (Tanh or ScaleShift). Keys: ``mlp.{0,3,6,9}`` with GroupNorm, ``mlp.{0,2,4,6}`` without."""

    def __init__(self, in_dim: int, out_dim: int, n_layer: int = 4, dim: int = 512, normalize: bool = False,
                 out_module: nn.Module | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_dim
        for _ in range(n_layer - 1):
            layers.append(nn.Linear(c, dim))
            if normalize:
                layers.append(nn.GroupNorm(dim // 4, dim))
            layers.append(nn.LeakyReLU(0.2))
            c = dim
        layers.append(nn.Linear(c, out_dim))
        if out_module is not None:
            layers.append(out_module)
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class StyleDecomposeNet(nn.Module):
    """netSD: w -> (style head, light ``[B,4]`` in (-1,1), view ``[B,6]`` in (-1,1)). D_L and D_V of the paper."""

    def __init__(self, style_dim: int = 512, light_dim: int = 4, view_dim: int = 6, n_layer: int = 4,
                 hidden: int = 512):
        super().__init__()
        self.model_style = MLP(style_dim, style_dim, n_layer, hidden, normalize=True)
        self.model_light = MLP(style_dim, light_dim, n_layer, hidden, out_module=nn.Tanh())
        self.model_view = MLP(style_dim, view_dim, n_layer, hidden, out_module=nn.Tanh())

    def forward(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model_style(w), self.model_light(w), self.model_view(w)


class StyleComposeNet(nn.Module):
    """netSC (M in the paper): ``M(w, l, v) = MLP(E_s(w) + E_l(l) + E_v(v))``."""

    def __init__(self, style_dim: int = 512, light_dim: int = 4, view_dim: int = 6, n_layer: int = 4,
                 hidden: int = 512):
        super().__init__()
        self.embed_style = MLP(style_dim, hidden, n_layer, hidden, normalize=True, out_module=ScaleShift(hidden))
        self.embed_light = MLP(light_dim, hidden, n_layer, hidden, normalize=True, out_module=ScaleShift(hidden))
        self.embed_view = MLP(view_dim, hidden, n_layer, hidden, normalize=True, out_module=ScaleShift(hidden))
        self.model = MLP(hidden, style_dim, n_layer, hidden, normalize=True)

    def forward(self, w: torch.Tensor, light: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        return self.model(self.embed_style(w) + self.embed_light(light) + self.embed_view(view))


def _gn(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(c // 4, c)


def _mlp(in_dim: int, width: int, n: int) -> nn.Sequential:
    """``n`` Linear + LeakyReLU(0.2) layers, ``in_dim -> width -> ... -> width`` (official ``mlp.{2k}`` keys)."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Linear(in_dim if i == 0 else width, width), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


def _up_blocks(size: int) -> int:
    """Stride-2 blocks between the 4-px start and ``size / 2`` (the last doubling is nearest-neighbour):
    5 at the official 256 px."""
    n = int(math.log2(size)) - 3
    if size != 2 ** (n + 3) or n < 1:
        raise ValueError(f"LiftedGAN's map networks need a power-of-two size >= 16, got {size}")
    return n


def _doubling(c_in: int, c_out: int, upsample: str) -> nn.Module:
    """One stride-2 step of netD. "transposed": the official 4x4 transposed conv. "resize": nearest doubling
    then a 3x3 conv (at 64 px the transposed conv's checkerboard, doubled by the final nearest up-sampling,
    grows into a 4-px stripe pattern of the depth during training: issue #13)."""
    if upsample == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False))


class DepthNet(nn.Module):
    """netD (D_S): ``w [B,in_dim]`` + generator feature ``[B,inject_dim,S,S]`` -> raw depth ``[B,1,S,S]``
    (``S = size``, 256 officially; smaller powers of two drop up-sampling blocks for the 64-px synthetic world).
    ``upsample``: see :func:`_doubling` ("transposed" is the official layout and key names)."""

    def __init__(self, in_dim: int = 512, out_dim: int = 1, z_dim: int = 512, n_mlp: int = 4, nf: int = 16,
                 inject_dim: int = 16, size: int = 256, upsample: str = "transposed"):
        super().__init__()
        if upsample not in ("transposed", "resize"):
            raise ValueError(f"DepthNet upsample must be 'transposed' or 'resize', got {upsample!r}")
        n_up = _up_blocks(size)
        self.mlp = _mlp(in_dim, z_dim, n_mlp)
        c = nf * 2 ** n_up
        net: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, 4, 1, 0, bias=False), nn.ReLU(),
                                nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.ReLU()]
        for _ in range(n_up):  # 4 -> size/2 px, halving channels
            net += [_doubling(c, c // 2, upsample), _gn(c // 2), nn.ReLU(),
                    nn.Conv2d(c // 2, c // 2, 3, 1, 1, bias=False), _gn(c // 2), nn.ReLU()]
            c //= 2
        # "resize" ends with a bilinear doubling: nearest copies would leave 2-px blocks in the depth
        net.append(nn.Upsample(scale_factor=2, mode="nearest" if upsample == "transposed" else "bilinear"))
        self.network = nn.Sequential(*net)
        self.inject = nn.Conv2d(inject_dim, nf, 1, 1, 0, bias=False)
        self.head = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1, bias=False), _gn(nf), nn.ReLU(),
                                  nn.Conv2d(nf, nf, 5, 1, 2, bias=False), _gn(nf), nn.ReLU(),
                                  nn.Conv2d(nf, out_dim, 5, 1, 2, bias=True))

    def forward(self, w: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        x = self.mlp(w)
        x = self.network(x.view(x.shape[0], -1, 1, 1))
        return self.head(x + self.inject(feat))


class TransformationNet(nn.Module):
    """netT (D_T, the transformation map): ``w`` -> raw map ``[B,1,S,S]`` (``S = size``, 256 officially)."""

    def __init__(self, in_dim: int = 512, out_dim: int = 1, z_dim: int = 16, n_mlp: int = 4, nf: int = 16,
                 size: int = 256):
        super().__init__()
        n_up = _up_blocks(size)
        self.mlp = _mlp(in_dim, z_dim, n_mlp)
        c = nf * 2 ** n_up
        net: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, 4, 1, 0, bias=False), nn.ReLU()]
        for _ in range(n_up):
            net += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), _gn(c // 2), nn.ReLU()]
            c //= 2
        net += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(nf, nf, 3, 1, 1, bias=False), _gn(nf),
                nn.ReLU(), nn.Conv2d(nf, out_dim, 5, 1, 2, bias=False)]
        self.network = nn.Sequential(*net)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = self.mlp(w)
        return self.network(x.view(x.shape[0], -1, 1, 1))


def gaussian_kernel(size: int = 10, sigma: float = 4.0) -> torch.Tensor:
    """LiftedGAN's blur kernel ``[2 size + 1, 2 size + 1]``.

    Each 1-D factor is ``exp(-((x - mu) / (2 sigma))^2) / (sigma sqrt(2 pi))`` (note the 2 sigma: the
    effective standard deviation is sigma*sqrt(2)); their product is normalised to sum 1. The constant
    factors are kept because they change the float32 result by ~1e-9.
    """
    n = 2 * size + 1
    grids = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                           indexing="ij")
    kernel = torch.ones(n, n)
    mean = (n - 1) / 2
    for g in grids:
        kernel = kernel * (1 / (sigma * math.sqrt(2 * math.pi)) * torch.exp(-(((g - mean) / (2 * sigma)) ** 2)))
    return kernel / torch.sum(kernel)


class GaussianBlur(nn.Module):
    """Depthwise blur with reflect padding ``size`` (``networks.Blur`` of the official code)."""

    def __init__(self, size: int = 10, sigma: float = 4.0):
        super().__init__()
        self.size = size
        self.register_buffer("kernel", gaussian_kernel(size, sigma), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B,C,H,W]`` -> same shape."""
        C = x.shape[1]
        x = F.pad(x, (self.size,) * 4, mode="reflect")
        return F.conv2d(x, self.kernel[None, None].expand(C, 1, -1, -1).to(x.dtype), groups=C)
