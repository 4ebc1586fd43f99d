"""StyleGAN2 layers as EG3D uses them, in plain PyTorch (no custom CUDA ops).

Module and parameter names equal the official ones so that an official ``state_dict`` loads with
``strict=True``. Only the inference path is implemented (EG3D's ``eval()`` behaviour: fused
modulated convolutions, fp32 everywhere). The maths follows the reference paths of StyleGAN2-ADA's
ops: ``bias_act`` = add bias -> activation -> gain -> clamp; ``upfirdn2d`` = zero-insertion -> pad
-> FIR filter; the up-convolution is a stride-2 transposed conv followed by the FIR blur.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


# ------------------------------------------------------------------------------------------ low-level ops
def setup_filter(taps=(1, 3, 3, 1)) -> torch.Tensor:
    """``[4,4]`` FIR filter: outer product of ``taps`` normalised to sum 1 (StyleGAN's resample filter)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def bias_act(x: torch.Tensor, b: torch.Tensor | None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """``x [B,C,...]`` + bias ``[C]`` -> activation -> ``* gain`` -> clamp to ``[-clamp, clamp]``.

    ``gain`` defaults to sqrt(2) for lrelu (slope 0.2) and 1 for linear, as StyleGAN does.
    """
    if act not in ("linear", "lrelu"):
        raise ValueError(f"unsupported activation {act!r}")
    gain = (SQRT2 if act == "lrelu" else 1.0) if gain is None else gain
    # Without autograd, work in place: these maps are up to 128x512x512 floats and each pass costs.
    inplace = not torch.is_grad_enabled()
    if b is not None:
        b = b.reshape([1, -1] + [1] * (x.ndim - 2))
        x = x.add_(b) if inplace else x + b
    if act == "lrelu":
        x = F.leaky_relu_(x, 0.2) if inplace else F.leaky_relu(x, 0.2)
    if gain != 1:
        x = x.mul_(gain) if inplace else x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, padding=(0, 0, 0, 0), gain: float = 1.0,
              down: int = 1, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Upsample ``x [B,C,H,W]`` by zero insertion, pad (x0, x1, y0, y1; negative crops), FIR-filter,
    keep every ``down``-th pixel; then add ``bias [C]`` when given.

    The filter is a true convolution (flipped), scaled by ``gain`` (the 2D filter's gain is ``gain``
    itself, i.e. ``gain ** (ndim/2)`` with ndim 2). Downsampling is the filter's stride: the same
    sums as filtering everything and then dropping pixels.
    """
    B, C, H, W = x.shape
    k = (f * gain).to(x.dtype).flip([0, 1])
    k = k[None, None].repeat(C, 1, 1, 1)
    px0, px1, py0, py1 = padding
    if up == 1 and px0 == px1 == py0 == py1 >= 0:
        # the convolution's own zero padding: no padded copy of the (often 128x513x513) input
        return F.conv2d(x, k, bias, groups=C, stride=down, padding=px0)
    if up > 1:
        x = x.reshape(B, C, H, 1, W, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(B, C, H * up, W * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    return F.conv2d(x, k, bias, groups=C, stride=down)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x upsampling of the skip image: zero insertion, pad (2,1,2,1), 4x4 filter ``f``, gain 4.

    Computed as a stride-2 transposed convolution with ``4 f`` and padding 1 (per channel), which
    forms the same sums without materialising the zero-inserted image: output pixel ``o`` gets
    ``sum_i x[i] f[o + 1 - 2i]`` either way.
    """
    C = x.shape[1]
    k = (f * 4.0).to(x.dtype)[None, None].repeat(C, 1, 1, 1)
    return F.conv_transpose2d(x, k, stride=2, padding=1, groups=C)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None = None,
                     up: int = 1, padding: int = 0, resample_filter: torch.Tensor | None = None,
                     demodulate: bool = True, fused: bool | None = None, bias: torch.Tensor | None = None,
                     gain: float = 1.0) -> torch.Tensor:
    """StyleGAN2's modulated convolution of ``x [B,I,H,W]`` with ``weight [O,I,k,k]`` and ``styles [B,I]``.

    ``fused=True`` is the official inference path: per-sample weights ``W*s*dcoef`` in one grouped
    convolution (groups = B), noise added after. ``fused=False`` scales the activations instead (one
    ordinary convolution for the whole batch, faster on CPU for B>1); it equals the fused result up
    to float rounding (~1e-6). ``fused=None`` picks fused for B=1 (where it is an ordinary convolution
    with the official rounding) and activation scaling for larger batches.

    ``up=2`` is the up-convolution: stride-2 transposed conv with the stored weight unflipped, then
    the [1,3,3,1] FIR with gain 4 and padding 1 (2H+1 -> 2H pixels). Returns ``[B,O,H*up,W*up]``.

    ``gain`` scales the convolution and ``bias [O]`` is added before the noise: ``gain * conv + bias +
    noise``. On the fused path both ride along for free (gain in the per-sample weights, bias inside the
    convolution or the FIR), which saves passes over the output at inference.
    """
    B = x.shape[0]
    O, I, kh, kw = weight.shape
    if fused is None:
        fused = B == 1
    if demodulate:
        w = weight.unsqueeze(0) * styles.reshape(B, 1, I, 1, 1)  # [B,O,I,k,k]
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [B,O]
    if fused:
        if not demodulate:
            w = weight.unsqueeze(0) * styles.reshape(B, 1, I, 1, 1)
            if gain != 1:
                w = w * gain
        else:
            w = w * (dcoefs * gain if gain != 1 else dcoefs).reshape(B, O, 1, 1, 1)
        # At B=1 no reshape: reshaping rewrites the batch stride, after which torch no longer sees a
        # channels-last input and falls back to NCHW convolutions (2-3x slower on CPU)
        xg = x if B == 1 else x.reshape(1, B * I, *x.shape[2:])
        if up == 1:
            y = F.conv2d(xg, w.reshape(B * O, I, kh, kw), None if bias is None else bias.repeat(B),
                         padding=padding, groups=B)
            bias = None  # already added by the convolution
        else:
            # transposed conv wants [groups*in, out/groups, k, k]
            wt = w.transpose(1, 2).reshape(B * I, O, kh, kw)
            y = F.conv_transpose2d(xg, wt, stride=up, groups=B)
        if B > 1:
            y = y.reshape(B, O, *y.shape[2:])
    else:
        xs = x * styles.reshape(B, I, 1, 1)
        if up == 1:
            y = F.conv2d(xs, weight, padding=padding)
        else:
            y = F.conv_transpose2d(xs, weight.transpose(0, 1), stride=up)
        if demodulate:
            y = y * (dcoefs * gain if gain != 1 else dcoefs).reshape(B, O, 1, 1)
        elif gain != 1:
            y = y * gain
        if up == 1 and bias is not None:
            y = y + bias.reshape(1, O, 1, 1)
            bias = None  # added; an up-convolution adds it in the FIR below
    if up > 1:
        y = upfirdn2d(y, resample_filter, padding=(1, 1, 1, 1), gain=float(up * up), bias=bias)
    if noise is not None:
        y = y.add_(noise) if not torch.is_grad_enabled() else y + noise
    return y


# ------------------------------------------------------------------------------------------ layers
class FullyConnectedLayer(nn.Module):
    """Linear layer with StyleGAN's equalised learning rate.

    The stored ``weight [out,in]`` is used as ``weight * lr_mul / sqrt(in)`` and ``bias [out]`` as
    ``bias * lr_mul``; linear layers use ``addmm`` (as the official code), others matmul + bias_act.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N,in]`` -> ``[N,out]``."""
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (+ conditioning label c) -> ``w [N,num_ws,w_dim]``; z normalised first, then the c embedding."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None, activation: str = "lrelu",
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation=activation,
                                                        lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        """``z [N,z_dim]`` (None when ``z_dim`` is 0), ``c [N,c_dim]`` -> ``ws [N,num_ws,w_dim]``
        (``[N,w_dim]`` when ``num_ws`` is None); truncation towards ``w_avg``.

        ``update_emas`` moves ``w_avg`` towards this batch's mean w (training: ``mean(w).lerp(w_avg, beta)``).
        """
        x = normalize_2nd_moment(z.float()) if self.z_dim > 0 else None
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.float()))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas and self.w_avg_beta is not None and hasattr(self, "w_avg"):
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is None:
            return x
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            # torch.lerp reproduces the official rounding bit for bit
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x = x.clone()
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class SynthesisLayer(nn.Module):
    """3x3 modulated conv (optionally 2x up), noise, bias, lrelu*sqrt(2), clamp (the SR's 256)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, conv_clamp: float | None = None, activation: str = "lrelu"):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution, self.up = in_channels, out_channels, resolution, up
        self.padding = kernel_size // 2
        self.conv_clamp, self.activation = conv_clamp, activation
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", setup_filter())
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                fused: bool | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B,I,R/up,R/up]``, ``w [B,w_dim]`` -> ``[B,O,R,R]``.

        ``noise [B,1,R,R]``: the standard-normal draw to use in 'random' mode (training draws it from
        its replayable source); None draws it here.
        """
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        styles = self.affine(w)
        unit, noise = noise, None
        if noise_mode == "random":
            if unit is None:
                unit = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            noise = unit * self.noise_strength
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        if torch.is_grad_enabled():  # training: the official order of operations
            x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                                 resample_filter=self.resample_filter, demodulate=True, fused=fused)
            return bias_act(x, self.bias, act=self.activation, clamp=self.conv_clamp)
        # Inference: lrelu(y + b) * g == lrelu(g y + g b) for g > 0, so the gain joins the modulated
        # weights and the bias the convolution: two passes fewer over the output (rounding-level change)
        g = SQRT2 if self.activation == "lrelu" else 1.0
        x = modulated_conv2d(x, self.weight, styles, noise=None if noise is None else noise * g, up=self.up,
                             padding=self.padding, resample_filter=self.resample_filter, demodulate=True,
                             fused=fused, bias=self.bias * g, gain=g)
        return bias_act(x, None, act=self.activation, gain=1.0, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated conv without demodulation; styles scaled by 1/sqrt(in); bias, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if torch.is_grad_enabled():  # training: the official order of operations
            x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
            return bias_act(x, self.bias, clamp=self.conv_clamp)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused, bias=self.bias)
        return bias_act(x, None, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One skip-architecture block: [const] / conv0 (2x up, or no up for ``up=1``), conv1, ToRGB.

    ``up=1`` is EG3D's ``SynthesisBlockNoUp`` (first block of the 2X/4X super-resolution), whose skip
    image is added **in place** (``img += torgb(x)``), exactly as the official code; see the aliasing
    note in :mod:`gan3d_eg3d.superres`.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, conv_clamp: float | None = None, up: int = 2):
        super().__init__()
        self.in_channels, self.resolution, self.img_channels, self.is_last, self.up = (
            in_channels, resolution, img_channels, is_last, up)
        self.num_conv = 0
        self.num_torgb = 1  # skip architecture: every block has a ToRGB
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        self.register_buffer("resample_filter", setup_filter())
        if in_channels != 0:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=up, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "random",
                fused: bool | None = None, channels_last: bool = False,
                noises: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``ws [B,num_conv+1,w_dim]``; ``x [B,I,R/up,R/up]``, ``img [B,C,R/up,R/up]`` -> same at R.

        ``noises``: unit noise per layer name (``conv0``/``conv1``) for 'random' mode, see
        :meth:`SynthesisLayer.forward`.
        """
        noises = noises or {}
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            if channels_last:  # mkldnn convolutions are markedly faster on NHWC tensors on CPU
                x = x.contiguous(memory_format=torch.channels_last)
        else:
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x = self.conv0(x.float(), next(w_iter), noise_mode=noise_mode, fused=fused, noise=noises.get("conv0"))
        x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused=fused, noise=noises.get("conv1"))
        if img is not None and self.up > 1:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter), fused=fused).float()
        img = img.add_(y) if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """Blocks 4, 8, ..., img_resolution (skip architecture); output the summed skip image."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, conv_clamp: float | None = None):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        log2 = int(math.log2(img_resolution))
        if 2 ** log2 != img_resolution or img_resolution < 4:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            in_ch = channels[res // 2] if res > 4 else 0
            is_last = res == img_resolution
            block = SynthesisBlock(in_ch, channels[res], w_dim, res, img_channels, is_last, conv_clamp=conv_clamp)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def noise_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        """Shape of every layer's per-sample noise, by name (``b4.conv1``, ``b8.conv0``, ...)."""
        return {f"b{res}.{name}": (batch, 1, res, res) for res in self.block_resolutions
                for name in ("conv0", "conv1") if hasattr(getattr(self, f"b{res}"), name)}

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", fused: bool | None = None,
                channels_last: bool = False, noises: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``ws [B,num_ws,w_dim]`` -> ``img [B,img_channels,R,R]``; a block's ToRGB shares the next conv0's w.

        ``noises``: unit noise ``[B,1,r,r]`` per layer name of :meth:`noise_shapes` for 'random' mode
        (drawn here when absent).
        """
        ws = ws.float()
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            mine = {k.split(".", 1)[1]: v for k, v in (noises or {}).items() if k.startswith(f"b{res}.")}
            x, img = block(x, img, cur, noise_mode=noise_mode, fused=fused, channels_last=channels_last, noises=mine)
        return img


class Backbone(nn.Module):
    """StyleGAN2 ``Generator`` used as EG3D's tri-plane generator: ``.synthesis`` then ``.mapping``."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict | None = None, channel_base: int = 32768, channel_max: int = 512,
                 conv_clamp: float | None = None):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base, channel_max, conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, **dict(mapping_kwargs or {}))
