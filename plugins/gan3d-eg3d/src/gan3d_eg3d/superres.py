"""EG3D's super-resolution modules (2X, 4X, 8X, 8XDC and the legacy Deepfp32).

Every module takes the raw rendering ``rgb [B,3,h,w]``, the 32-channel feature image ``x [B,32,h,w]``
and ``ws``, of which only the **last** w is used (repeated for the three layers of a block). The
widths are hard-coded (the ``channel_base``/``channel_max`` of ``sr_kwargs`` are ignored, as in the
official code). ``sr_num_fp16_res > 0`` (the released models) turns on ``conv_clamp = 256``, which the
official code applies even when it runs in fp32; we always run fp32.

Aliasing: for 2X (at 64 px) and 4X (at 128 px) no resize happens and the first block does not
upsample, so its in-place skip addition writes into ``rgb``. When ``rgb`` is a view of the feature
image (as in the official generator), the caller's ``image_raw`` changes; the generator reproduces
this on purpose (see :class:`gan3d_eg3d.generator.EG3DGenerator`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .stylegan2 import SynthesisBlock, setup_filter

W_DIM = 512  # the SR blocks hard-code w_dim 512


class _SuperResolution(nn.Module):
    """Two skip blocks after an optional bilinear (antialiased) resize to ``input_resolution``."""

    input_resolution: int
    resize_only_if_smaller = False

    def __init__(self, sr_num_fp16_res: int, sr_antialias: bool):
        super().__init__()
        self.sr_antialias = bool(sr_antialias)
        self.conv_clamp = 256 if sr_num_fp16_res > 0 else None

    def noise_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        """Shape of every layer's per-sample noise, by name (``block0.conv0``, ...)."""
        return {f"{b}.{name}": (batch, 1, getattr(self, b).resolution, getattr(self, b).resolution)
                for b in ("block0", "block1") for name in ("conv0", "conv1") if hasattr(getattr(self, b), name)}

    def forward(self, rgb: torch.Tensor, x: torch.Tensor, ws: torch.Tensor, noise_mode: str = "none",
                fused: bool | None = None, channels_last: bool = True,
                noises: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``rgb [B,3,h,w]``, ``x [B,C,h,w]``, ``ws [B,num_ws,512]`` -> image ``[B,3,R,R]``.

        ``noises``: unit noise per layer name of :meth:`noise_shapes` for 'random' mode (training)."""
        noises = noises or {}
        per_block = {b: {k.split(".", 1)[1]: v for k, v in noises.items() if k.startswith(b + ".")}
                     for b in ("block0", "block1")}
        ws = ws[:, -1:, :].repeat(1, 3, 1)
        res = x.shape[-1]
        if (res < self.input_resolution) if self.resize_only_if_smaller else (res != self.input_resolution):
            size = (self.input_resolution, self.input_resolution)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=self.sr_antialias)
            rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False, antialias=self.sr_antialias)
        # channels_last only changes memory layout (NHWC convolutions are faster on CPU); rgb is left
        # alone so that the in-place skip addition keeps writing into the caller's tensor
        x, rgb = self.block0(x, rgb, ws, noise_mode=noise_mode, fused=fused, channels_last=channels_last,
                             noises=per_block["block0"])
        x, rgb = self.block1(x, rgb, ws, noise_mode=noise_mode, fused=fused, channels_last=channels_last,
                             noises=per_block["block1"])
        return rgb


class SuperresolutionHybrid8XDC(_SuperResolution):
    """128 -> 512, "double channels" (256/128): FFHQ and FFHQ-rebalanced. No top-level buffer."""

    input_resolution = 128

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = True):
        super().__init__(sr_num_fp16_res, sr_antialias)
        if img_resolution != 512:
            raise ValueError(f"SuperresolutionHybrid8XDC makes 512 px images, not {img_resolution}")
        self.block0 = SynthesisBlock(channels, 256, W_DIM, 256, 3, is_last=False, conv_clamp=self.conv_clamp)
        self.block1 = SynthesisBlock(256, 128, W_DIM, 512, 3, is_last=True, conv_clamp=self.conv_clamp)


class SuperresolutionHybrid8X(_SuperResolution):
    """128 -> 512 with 128/64 channels (AFHQ); has an unused top-level ``resample_filter`` buffer."""

    input_resolution = 128

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = True):
        super().__init__(sr_num_fp16_res, sr_antialias)
        if img_resolution != 512:
            raise ValueError(f"SuperresolutionHybrid8X makes 512 px images, not {img_resolution}")
        self.block0 = SynthesisBlock(channels, 128, W_DIM, 256, 3, is_last=False, conv_clamp=self.conv_clamp)
        self.block1 = SynthesisBlock(128, 64, W_DIM, 512, 3, is_last=True, conv_clamp=self.conv_clamp)
        self.register_buffer("resample_filter", setup_filter())


class SuperresolutionHybrid4X(_SuperResolution):
    """128 -> 256: a no-up block at 128 then an up block; resizes only smaller inputs."""

    input_resolution = 128
    resize_only_if_smaller = True

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = True):
        super().__init__(sr_num_fp16_res, sr_antialias)
        if img_resolution != 256:
            raise ValueError(f"SuperresolutionHybrid4X makes 256 px images, not {img_resolution}")
        self.block0 = SynthesisBlock(channels, 128, W_DIM, 128, 3, is_last=False, conv_clamp=self.conv_clamp, up=1)
        self.block1 = SynthesisBlock(128, 64, W_DIM, 256, 3, is_last=True, conv_clamp=self.conv_clamp)
        self.register_buffer("resample_filter", setup_filter())


class SuperresolutionHybrid2X(_SuperResolution):
    """64 -> 128 (ShapeNet cars): a no-up block at 64 then an up block."""

    input_resolution = 64

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = True):
        super().__init__(sr_num_fp16_res, sr_antialias)
        if img_resolution != 128:
            raise ValueError(f"SuperresolutionHybrid2X makes 128 px images, not {img_resolution}")
        self.block0 = SynthesisBlock(channels, 128, W_DIM, 64, 3, is_last=False, conv_clamp=self.conv_clamp, up=1)
        self.block1 = SynthesisBlock(128, 64, W_DIM, 128, 3, is_last=True, conv_clamp=self.conv_clamp)
        self.register_buffer("resample_filter", setup_filter())


class SuperresolutionHybridDeepfp32(_SuperResolution):
    """Legacy 128 -> 256 module of early checkpoints (same blocks as 4X, no antialiasing)."""

    input_resolution = 128
    resize_only_if_smaller = True

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = False):
        super().__init__(sr_num_fp16_res, False)
        if img_resolution != 256:
            raise ValueError(f"SuperresolutionHybridDeepfp32 makes 256 px images, not {img_resolution}")
        self.block0 = SynthesisBlock(channels, 128, W_DIM, 128, 3, is_last=False, conv_clamp=self.conv_clamp, up=1)
        self.block1 = SynthesisBlock(128, 64, W_DIM, 256, 3, is_last=True, conv_clamp=self.conv_clamp)
        self.register_buffer("resample_filter", setup_filter())


class SuperresolutionHybrid2XSmall(_SuperResolution):
    """gan3d's small 2X module (not in the official code): ``R/2 -> R`` with configurable widths.

    The same structure as :class:`SuperresolutionHybrid2X` (a no-up block at the neural rendering
    resolution, then an up block) for models too small for the official hard-coded 128/64 channels,
    e.g. the ``synth64`` training preset (32 -> 64 px).
    """

    def __init__(self, channels: int, img_resolution: int, sr_num_fp16_res: int, sr_antialias: bool = True,
                 widths: tuple[int, int] | None = None):
        super().__init__(sr_num_fp16_res, sr_antialias)
        if img_resolution < 8 or img_resolution % 2:
            raise ValueError(f"SuperresolutionHybrid2XSmall needs an even resolution >= 8, not {img_resolution}")
        c0, c1 = widths or (128, 64)
        self.input_resolution = img_resolution // 2
        self.block0 = SynthesisBlock(channels, int(c0), W_DIM, img_resolution // 2, 3, is_last=False,
                                     conv_clamp=self.conv_clamp, up=1)
        self.block1 = SynthesisBlock(int(c0), int(c1), W_DIM, img_resolution, 3, is_last=True,
                                     conv_clamp=self.conv_clamp)


SR_MODULES: dict[str, type[_SuperResolution]] = {
    cls.__name__: cls for cls in (SuperresolutionHybrid8XDC, SuperresolutionHybrid8X, SuperresolutionHybrid4X,
                                  SuperresolutionHybrid2X, SuperresolutionHybridDeepfp32, SuperresolutionHybrid2XSmall)
}


def build_superresolution(module_path: str, channels: int, img_resolution: int, sr_num_fp16_res: int,
                          sr_antialias: bool, widths: tuple[int, int] | None = None) -> _SuperResolution:
    """The SR module named by ``rendering_kwargs['superresolution_module']`` (e.g. ``training.superresolution.SuperresolutionHybrid8XDC``).

    ``widths`` (the two blocks' channels) applies to the configurable small module only."""
    name = str(module_path).rsplit(".", 1)[-1]
    if name not in SR_MODULES:
        raise ValueError(f"unknown EG3D super-resolution module {module_path!r}; known: {', '.join(SR_MODULES)}")
    if name == SuperresolutionHybrid2XSmall.__name__:
        return SuperresolutionHybrid2XSmall(channels, img_resolution, sr_num_fp16_res, sr_antialias, widths)
    return SR_MODULES[name](channels, img_resolution, sr_num_fp16_res, sr_antialias)
