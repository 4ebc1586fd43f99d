"""EG3D's dual discriminator (NVlabs ``DualDiscriminator``), in plain PyTorch.

It looks at 6 channels: the super-resolved image and the raw neural rendering, upsampled to the
image size with antialiased bilinear resizing. Residual blocks from the input resolution down to 8,
then the 4x4 epilogue with a minibatch-stddev channel, and a projection onto the mapped camera label
(``cmap``). Module and parameter names equal the official ones, so an official ``D`` state_dict loads
with ``strict=True``.

fp16 and channels-last are GPU speed settings of the official code that never change which numbers
it computes on a CPU; this module always runs in float32, with the official clamps (``conv_clamp``)
active wherever the official layers have them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..stylegan2 import FullyConnectedLayer, MappingNetwork, bias_act, setup_filter, upfirdn2d

LABEL_DIM = 25


def resize_antialiased(image: torch.Tensor, size: int) -> torch.Tensor:
    """EG3D's ``filtered_resizing(..., 'antialiased')``: ``[B,C,h,w]`` -> ``[B,C,size,size]``."""
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class Conv2dLayer(nn.Module):
    """Convolution with equalised learning rate, optional 2x FIR downsampling, bias, activation, clamp.

    ``weight [O,I,k,k]`` is used as ``weight / sqrt(I*k*k)``. With ``down=2`` a 3x3 layer blurs with
    the [1,3,3,1] filter (padding 2) and convolves with stride 2; a 1x1 layer blurs and subsamples
    first (padding 1). ``trainable=False`` (Freeze-D) stores weight and bias as buffers.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: int = 1, conv_clamp: float | None = None, trainable: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.activation = in_channels, out_channels, activation
        self.down, self.conv_clamp, self.kernel_size = down, conv_clamp, kernel_size
        self.register_buffer("resample_filter", setup_filter())
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = math.sqrt(2.0) if activation == "lrelu" else 1.0
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        b = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(b) if b is not None else None
        else:
            self.register_buffer("weight", weight)
            if b is not None:
                self.register_buffer("bias", b)
            else:
                self.bias = None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``x [B,I,H,W]`` -> ``[B,O,H/down,W/down]``."""
        w = self.weight * self.weight_gain
        if self.down == 1:
            x = F.conv2d(x, w, padding=self.padding)
        else:
            p = self.padding + 1  # the conv's own padding plus (4 filter taps - 2) / 2, all before the blur
            if self.kernel_size == 1:  # blur-subsample, then the 1x1 conv
                x = F.conv2d(upfirdn2d(x, self.resample_filter, padding=(p, p, p, p), down=self.down), w)
            else:  # blur, then the strided conv
                x = F.conv2d(upfirdn2d(x, self.resample_filter, padding=(p, p, p, p)), w, stride=self.down)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class DiscriminatorBlock(nn.Module):
    """Residual block at ``resolution``: [fromrgb] -> (skip, conv0 -> conv1), both halving the size,
    summed with gain sqrt(1/2) each."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int, img_channels: int,
                 first_layer_idx: int, conv_clamp: float | None = None, freeze_layers: int = 0):
        super().__init__()
        if in_channels not in (0, tmp_channels):
            raise ValueError(f"in_channels must be 0 or {tmp_channels}, got {in_channels}")
        self.in_channels, self.resolution, self.img_channels = in_channels, resolution, img_channels
        self.register_buffer("resample_filter", setup_filter())
        self.num_layers = 0

        def trainable() -> bool:
            idx = first_layer_idx + self.num_layers
            self.num_layers += 1
            return idx >= freeze_layers

        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp,
                                       trainable=trainable())
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp,
                                 trainable=trainable())
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp,
                                 trainable=trainable())
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2, trainable=trainable())

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None) -> torch.Tensor:
        """``x [B,C,R,R]`` (or the 6-channel ``img`` for the first block) -> ``[B,O,R/2,R/2]``."""
        if self.in_channels == 0:
            y = self.fromrgb(img)
            x = x + y if x is not None else y
        half = math.sqrt(0.5)
        y = self.skip(x, gain=half)
        x = self.conv1(self.conv0(x), gain=half)
        return y + x


class MinibatchStdLayer(nn.Module):
    """Appends the standard deviation over groups of ``group_size`` samples (sample ``i`` is in group
    ``i mod (N/G)``), averaged over channels and pixels, as ``num_channels`` extra channels."""

    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        G = min(self.group_size, N) if self.group_size is not None else N
        if N % G:
            raise ValueError(f"minibatch-std: batch {N} is not a multiple of the group size {G}")
        F_, c = self.num_channels, C // self.num_channels
        y = x.reshape(G, -1, F_, c, H, W)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4]).reshape(-1, F_, 1, 1).repeat(G, 1, H, W)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4: minibatch-std, 3x3 conv, fc, out; the logit is ``out . cmap / sqrt(cmap_dim)``."""

    def __init__(self, in_channels: int, cmap_dim: int, resolution: int = 4, mbstd_group_size: int | None = 4,
                 mbstd_num_channels: int = 1, conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.cmap_dim, self.resolution = in_channels, cmap_dim, resolution
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None) -> torch.Tensor:
        """``x [B,C,4,4]``, ``cmap [B,cmap_dim]`` -> logits ``[B,1]``."""
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class DualDiscriminator(nn.Module):
    """EG3D's discriminator of ``{'image': [B,3,R,R], 'image_raw': [B,3,r,r]}`` (both in ``[-1,1]``)
    conditioned on the rendering camera's label ``c [B,25]``; returns logits ``[B,1]``.

    Arguments as the official constructor (``architecture`` is always 'resnet'; ``num_fp16_res`` only
    decides, as there, whether the clamps exist through ``conv_clamp``). ``disc_c_noise > 0`` adds
    ``randn * c.std(0) * disc_c_noise`` to ``c`` **in place** before the mapping, as the official code
    does; the draw is ``D/c_noise`` of the ``draws`` passed to :meth:`forward`.
    """

    def __init__(self, c_dim: int = LABEL_DIM, img_resolution: int = 512, img_channels: int = 3,
                 channel_base: int = 32768, channel_max: int = 512, conv_clamp: float | None = 256,
                 cmap_dim: int | None = None, disc_c_noise: float = 0.0, freeze_layers: int = 0,
                 mapping_kwargs: dict | None = None, mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1):
        super().__init__()
        img_channels *= 2
        log2 = int(math.log2(img_resolution))
        if 2 ** log2 != img_resolution or img_resolution < 8:
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        cmap_dim = channels[4] if cmap_dim is None else cmap_dim
        if c_dim == 0:
            cmap_dim = 0
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(channels[res] if res < img_resolution else 0, channels[res], channels[res // 2],
                                       res, img_channels, layer_idx, conv_clamp=conv_clamp, freeze_layers=freeze_layers)
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if c_dim > 0:
            self.mapping = MappingNetwork(0, c_dim, cmap_dim, num_ws=None, w_avg_beta=None, **(mapping_kwargs or {}))
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, resolution=4, mbstd_group_size=mbstd_group_size,
                                        mbstd_num_channels=mbstd_num_channels, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", setup_filter())
        self.disc_c_noise = float(disc_c_noise)

    def forward(self, img: dict[str, torch.Tensor], c: torch.Tensor, draws=None) -> torch.Tensor:
        image = img["image"]
        raw = resize_antialiased(img["image_raw"], image.shape[-1])
        x = None
        h = torch.cat([image, raw], 1)
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, h)
        cmap = None
        if self.c_dim > 0:
            if self.disc_c_noise > 0:
                if draws is None:
                    raise ValueError("disc_c_noise > 0 needs a source of random draws")
                c += draws.randn("D/c_noise", c.shape, c.device) * c.std(0) * self.disc_c_noise
            cmap = self.mapping(None, c)
        return self.b4(x, cmap)
