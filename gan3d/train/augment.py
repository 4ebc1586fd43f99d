"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data"), as StyleGAN2-ADA's and EG3D's training use it.

:class:`AugmentPipe` augments the images a discriminator sees (reals and fakes alike, differentiably, so
the generator's gradients pass through). Each enabled operation is applied to each image with probability
``multiplier * p``; ``p`` is a buffer that :class:`AdaptiveAugment` steers from the discriminator's
overfitting heuristic (the mean sign of its logits on reals). The ``'bgc'`` set (:data:`BGC`: blit,
geometric and colour operations) is what EG3D's ``--aug=ada`` / ``--aug=fixed`` build.

Faithful to the official pipe in what it computes (probabilities, strengths, order of the operations,
the pixel coordinates of the combined matrices, reflect padding, 2x upsampling with the Symlet-6
wavelet low-pass before a bilinear ``grid_sample`` and the matching downsampling after it, one 4x4 colour
matrix). Two documented differences: every random number comes from the run's
:class:`~gan3d.train.draws.Draws` under a name (``<prefix><op>/value`` and ``<prefix><op>/gate``; ``op``
is one of :data:`OPS`, the rotation drawn twice as ``rotate_pre`` and ``rotate_post``), and a stage whose
matrix is the identity for every image of the batch is skipped, so ``p = 0`` returns the input exactly
(the official pipe resamples anyway, which the orthogonal wavelet makes an identity up to float rounding).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .draws import Draws
from .method import Progress
from .parallel import mean_across

# Symlet-6 decomposition low-pass filter (PyWavelets' ``sym6.dec_lo``; the official pipe's geometric filter).
# Orthogonal: upsampling with it and downsampling with its reverse reconstruct a signal exactly, so
# integer translations, flips and quarter turns move pixels without blurring them.
SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148)

# The operations in the order they are drawn and composed.
OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation")

# EG3D's and StyleGAN2-ADA's 'bgc' pipe: every blit, geometric and colour operation at multiplier 1.
BGC: dict[str, float] = {op: 1.0 for op in OPS}


def _matrix(rows: list[list], batch: int, device) -> torch.Tensor:
    """``[B,n,m]`` float32 from rows whose entries are numbers or ``[B]`` tensors."""
    flat = [torch.as_tensor(x, dtype=torch.float32, device=device).expand(batch) for row in rows for x in row]
    return torch.stack(flat, dim=-1).reshape(batch, len(rows), len(rows[0]))


def _translate2d(tx, ty, batch: int, device) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], batch, device)


def _scale2d(sx, sy, batch: int, device) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], batch, device)


def _rotate2d(theta: torch.Tensor, batch: int, device) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], batch, device)


def _is_identity(m: torch.Tensor) -> bool:
    return torch.equal(m, torch.eye(m.shape[-1], device=m.device).expand_as(m))


def _upsample2x(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """``[B,C,H,W]`` -> ``[B,C,2H,2W]``: zeros inserted after every pixel, then a true convolution with
    ``taps`` (gain 2 per axis) padded so that input pixel ``i`` lands on output pixel ``2i``'s phase."""
    B, C, H, W = x.shape
    L = taps.numel()
    zeros = torch.zeros_like(x)
    x = torch.stack([x, zeros], dim=-1).reshape(B, C, H, 2 * W)
    x = torch.stack([x, torch.zeros_like(x)], dim=3).reshape(B, C, 2 * H, 2 * W)
    x = F.pad(x, [(L + 1) // 2, (L - 2) // 2] * 2)
    k = (taps.flip(0) * 2).to(x.dtype)  # conv2d correlates: flipping the taps makes it a convolution
    x = F.conv2d(x, k.reshape(1, 1, 1, L).repeat(C, 1, 1, 1), groups=C)
    return F.conv2d(x, k.reshape(1, 1, L, 1).repeat(C, 1, 1, 1), groups=C)


def _downsample2x(x: torch.Tensor, taps: torch.Tensor, crop: int) -> torch.Tensor:
    """``[B,C,h,w]`` cropped by ``crop`` pixels on every side (less the filter's own reach), correlated with
    ``taps`` and subsampled by 2 (the adjoint of :func:`_upsample2x`, which makes the pair exact)."""
    B, C, h, w = x.shape
    L = taps.numel()
    c0, c1 = crop - (L - 1) // 2, crop - (L - 2) // 2
    if c0 < 0 or c1 < 0:
        x = F.pad(x, [max(-c0, 0), max(-c1, 0)] * 2)
        c0, c1 = max(c0, 0), max(c1, 0)
    x = x[:, :, c0:x.shape[2] - c1, c0:x.shape[3] - c1]
    k = taps.to(x.dtype)
    x = F.conv2d(x, k.reshape(1, 1, 1, L).repeat(C, 1, 1, 1), stride=(1, 2), groups=C)
    return F.conv2d(x, k.reshape(1, 1, L, 1).repeat(C, 1, 1, 1), stride=(2, 1), groups=C)


class AugmentPipe(nn.Module):
    """Differentiable augmentation of discriminator inputs ``[B,C,H,W]`` (any range; EG3D's are in ``[-1,1]``).

    Multipliers (``xflip`` ... ``saturation``, 0 = off) scale the overall probability ``p`` (a buffer);
    strengths default to the official ones: integer translation up to ``xint_max`` of the size, log2
    standard deviations ``scale_std`` / ``aniso_std`` / ``contrast_std`` / ``saturation_std``, rotation and
    hue up to ``rotate_max`` / ``hue_max`` of a full turn, fractional translation of standard deviation
    ``xfrac_std`` of the size, additive brightness of standard deviation ``brightness_std``.

    Colour operations need RGB: ``C`` is 1 (luma only) or a multiple of 3, each RGB triple transformed
    by the same matrix (EG3D augments its image and upsampled raw image together as 6 channels).
    """

    def __init__(self, *, xflip: float = 0, rotate90: float = 0, xint: float = 0, scale: float = 0,
                 rotate: float = 0, aniso: float = 0, xfrac: float = 0, brightness: float = 0,
                 contrast: float = 0, lumaflip: float = 0, hue: float = 0, saturation: float = 0,
                 xint_max: float = 0.125, scale_std: float = 0.2, rotate_max: float = 1.0,
                 aniso_std: float = 0.2, xfrac_std: float = 0.125, brightness_std: float = 0.2,
                 contrast_std: float = 0.5, hue_max: float = 1.0, saturation_std: float = 1.0, p: float = 0.0):
        super().__init__()
        self.multipliers = {op: float(v) for op, v in zip(OPS, (xflip, rotate90, xint, scale, rotate, aniso,
                                                                 xfrac, brightness, contrast, lumaflip, hue,
                                                                 saturation))}
        bad = [op for op, v in self.multipliers.items() if not v >= 0]
        if bad:
            raise InputError(f"augmentation multipliers must be >= 0; got {', '.join(bad)} negative")
        self.xint_max, self.xfrac_std = float(xint_max), float(xfrac_std)
        self.scale_std, self.aniso_std, self.rotate_max = float(scale_std), float(aniso_std), float(rotate_max)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.register_buffer("p", torch.tensor(float(p)))
        taps = torch.tensor(SYM6, dtype=torch.float64)
        self.register_buffer("taps", (taps / taps.sum()).float(), persistent=False)

    # ------------------------------------------------------------------ random parameters
    def _gate(self, draws: Draws, name: str, value: torch.Tensor, shape, prob, neutral: float) -> torch.Tensor:
        """``value`` where a uniform draw is below ``prob``, else ``neutral`` (the operation's identity)."""
        u = draws.rand(f"{name}/gate", shape, value.device)
        return torch.where(u < prob, value, torch.full_like(value, neutral))

    def geometric_matrix(self, B: int, H: int, W: int, draws: Draws, prefix: str, device) -> torch.Tensor:
        """``[B,3,3]`` mapping an output pixel to the input pixel it is read from, in pixel units centred
        on the image (the composition of the blit and general geometric operations)."""
        m, p = self.multipliers, self.p.to(device)
        G = torch.eye(3, device=device).expand(B, 3, 3)
        if m["xflip"] > 0:
            i = torch.floor(draws.rand(prefix + "xflip/value", (B,), device) * 2)
            i = self._gate(draws, prefix + "xflip", i, (B,), m["xflip"] * p, 0.0)
            G = G @ _scale2d(1 - 2 * i, 1, B, device)
        if m["rotate90"] > 0:
            i = torch.floor(draws.rand(prefix + "rotate90/value", (B,), device) * 4)
            i = self._gate(draws, prefix + "rotate90", i, (B,), m["rotate90"] * p, 0.0)
            G = G @ _rotate2d(math.pi / 2 * i, B, device)
        if m["xint"] > 0:
            t = (draws.rand(prefix + "xint/value", (B, 2), device) * 2 - 1) * self.xint_max
            t = self._gate(draws, prefix + "xint", t, (B, 1), m["xint"] * p, 0.0)
            G = G @ _translate2d(-torch.round(t[:, 0] * W), -torch.round(t[:, 1] * H), B, device)
        if m["scale"] > 0:
            s = torch.exp2(draws.randn(prefix + "scale/value", (B,), device) * self.scale_std)
            s = self._gate(draws, prefix + "scale", s, (B,), m["scale"] * p, 1.0)
            G = G @ _scale2d(1 / s, 1 / s, B, device)
        # the rotation is split around the anisotropic scaling; P(pre or post) = rotate * p
        p_rot = 1 - torch.sqrt((1 - m["rotate"] * p).clamp(0, 1))
        if m["rotate"] > 0:
            theta = (draws.rand(prefix + "rotate_pre/value", (B,), device) * 2 - 1) * math.pi * self.rotate_max
            theta = self._gate(draws, prefix + "rotate_pre", theta, (B,), p_rot, 0.0)
            G = G @ _rotate2d(theta, B, device)
        if m["aniso"] > 0:
            s = torch.exp2(draws.randn(prefix + "aniso/value", (B,), device) * self.aniso_std)
            s = self._gate(draws, prefix + "aniso", s, (B,), m["aniso"] * p, 1.0)
            G = G @ _scale2d(1 / s, s, B, device)
        if m["rotate"] > 0:
            theta = (draws.rand(prefix + "rotate_post/value", (B,), device) * 2 - 1) * math.pi * self.rotate_max
            theta = self._gate(draws, prefix + "rotate_post", theta, (B,), p_rot, 0.0)
            G = G @ _rotate2d(theta, B, device)
        if m["xfrac"] > 0:
            t = draws.randn(prefix + "xfrac/value", (B, 2), device) * self.xfrac_std
            t = self._gate(draws, prefix + "xfrac", t, (B, 1), m["xfrac"] * p, 0.0)
            G = G @ _translate2d(-t[:, 0] * W, -t[:, 1] * H, B, device)
        return G

    def colour_matrix(self, B: int, channels: int, draws: Draws, prefix: str, device) -> torch.Tensor:
        """``[B,4,4]`` homogeneous matrix taking an RGB colour (in the images' own range) to its augmented one."""
        m, p = self.multipliers, self.p.to(device)
        eye = torch.eye(4, device=device)
        C = eye.expand(B, 4, 4)
        if m["brightness"] > 0:
            b = draws.randn(prefix + "brightness/value", (B,), device) * self.brightness_std
            b = self._gate(draws, prefix + "brightness", b, (B,), m["brightness"] * p, 0.0)
            C = _matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], B, device) @ C
        if m["contrast"] > 0:
            c = torch.exp2(draws.randn(prefix + "contrast/value", (B,), device) * self.contrast_std)
            c = self._gate(draws, prefix + "contrast", c, (B,), m["contrast"] * p, 1.0)
            C = _matrix([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]], B, device) @ C
        luma = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3)  # the grey axis
        vv = torch.outer(luma, luma)
        if m["lumaflip"] > 0:
            i = torch.floor(draws.rand(prefix + "lumaflip/value", (B, 1, 1), device) * 2)
            i = self._gate(draws, prefix + "lumaflip", i, (B, 1, 1), m["lumaflip"] * p, 0.0)
            C = (eye - 2 * vv * i) @ C  # Householder reflection through the plane orthogonal to grey
        if m["hue"] > 0 and channels > 1:
            theta = (draws.rand(prefix + "hue/value", (B,), device) * 2 - 1) * math.pi * self.hue_max
            theta = self._gate(draws, prefix + "hue", theta, (B,), m["hue"] * p, 0.0)
            C = _rotation_about(luma, theta) @ C
        if m["saturation"] > 0 and channels > 1:
            s = torch.exp2(draws.randn(prefix + "saturation/value", (B, 1, 1), device) * self.saturation_std)
            s = self._gate(draws, prefix + "saturation", s, (B, 1, 1), m["saturation"] * p, 1.0)
            C = (vv + (eye - vv) * s) @ C  # scales the distance from the grey axis
        return C

    # ------------------------------------------------------------------ applying them
    def resample(self, images: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """``images`` ``[B,C,H,W]`` read through ``G`` (from :meth:`geometric_matrix`): reflect-padded far
        enough for every corner's source, upsampled 2x, bilinearly sampled, downsampled 2x."""
        B, C, H, W = images.shape
        device, taps = images.device, self.taps.to(images.device)
        pad = taps.numel() // 4
        cx, cy = (W - 1) / 2, (H - 1) / 2
        corners = torch.tensor([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1.0, 1.0, 1.0, 1.0]], device=device)
        xy = (G @ corners)[:, :2]  # where the output corners read from, [B,2,4]
        reach = torch.cat([(-xy).amax(dim=(0, 2)), xy.amax(dim=(0, 2))])  # left, top, right, bottom
        margin = reach + torch.tensor([2 * pad - cx, 2 * pad - cy] * 2, device=device)
        limit = torch.tensor([W - 1, H - 1] * 2, dtype=torch.float32, device=device)
        mx0, my0, mx1, my1 = margin.clamp_min(0).minimum(limit).ceil().int().tolist()
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        G = _translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, B, device) @ G
        images = _upsample2x(images, taps)
        # the same mapping in the upsampled image's pixels (centres at half-pixel offsets)
        G = _scale2d(2, 2, B, device) @ G @ _scale2d(0.5, 0.5, B, device)
        G = _translate2d(-0.5, -0.5, B, device) @ G @ _translate2d(0.5, 0.5, B, device)
        out_h, out_w = (H + 2 * pad) * 2, (W + 2 * pad) * 2
        # ... and in grid_sample's normalised coordinates
        G = (_scale2d(2 / images.shape[3], 2 / images.shape[2], B, device) @ G
             @ _scale2d(out_w / 2, out_h / 2, B, device))
        grid = F.affine_grid(G[:, :2, :].to(images.dtype), [B, C, out_h, out_w], align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return _downsample2x(images, taps, crop=2 * pad)

    @staticmethod
    def recolour(images: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
        """``images`` ``[B,C,H,W]`` through the colour matrices ``C`` ``[B,4,4]``: every RGB triple alike, or
        for one channel the matrix's mean response to grey."""
        B, ch, H, W = images.shape
        C = C.to(images.dtype)
        if ch == 1:
            row = C[:, :3, :].mean(dim=1)  # [B,4]
            return images * row[:, :3].sum(dim=1).view(B, 1, 1, 1) + row[:, 3].view(B, 1, 1, 1)
        x = images.reshape(B, ch // 3, 3, H * W)
        x = C[:, None, :3, :3] @ x + C[:, None, :3, 3:]
        return x.reshape(B, ch, H, W)

    def forward(self, images: torch.Tensor, draws: Draws, prefix: str = "augment/") -> torch.Tensor:
        """Augmented ``images`` ``[B,C,H,W]`` (same shape, dtype and range convention), C = 1 or a multiple of 3;
        the random parameters are drawn from ``draws`` under names starting with ``prefix``."""
        if images.ndim != 4 or not (images.shape[1] == 1 or images.shape[1] % 3 == 0):
            raise InputError(f"the augment pipe takes images [B,C,H,W] with C = 1 or a multiple of 3 (RGB "
                             f"triples), got shape {list(images.shape)}")
        B, ch, H, W = images.shape
        G = self.geometric_matrix(B, H, W, draws, prefix, images.device)
        if not _is_identity(G):
            images = self.resample(images, G)
        C = self.colour_matrix(B, ch, draws, prefix, images.device)
        if not _is_identity(C):
            images = self.recolour(images, C)
        return images


def _rotation_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``[B,4,4]``: rotations by ``theta`` ``[B]`` about the unit 3-vector ``axis[:3]`` (Rodrigues)."""
    x, y, z = axis[0], axis[1], axis[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix([[x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
                    [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
                    [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
                    [0, 0, 0, 1]], theta.shape[0], theta.device)


class AdaptiveAugment:
    """ADA's feedback on ``pipe.p``: the discriminator's real logits are :meth:`observe`\\ d; every
    ``interval`` iterations (:meth:`update`, after the iteration's counters moved) the mean of their signs
    over the interval, across processes, ``r`` moves ``p`` by
    ``sign(r - target) * batch * interval / (kimg * 1000)``, clamped at 0 (so ``p`` can go from 0 to 1
    in ``kimg`` thousand images). Its :meth:`state_dict` (``p`` and the interval's partial sums) goes into
    the training state, so a resumed run continues the same sequence.
    """

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, kimg: float = 500, interval: int = 4):
        if not 0 <= target <= 1 or not kimg > 0 or interval < 1:
            raise InputError(f"ADA needs 0 <= target <= 1, kimg > 0 and interval >= 1; got target {target}, "
                             f"kimg {kimg}, interval {interval}")
        self.pipe, self.target, self.kimg, self.interval = pipe, float(target), float(kimg), int(interval)
        self.sums = torch.zeros(2)  # sum of signs, number of logits, since the last adjustment
        self.sign_mean: float | None = None  # r of the last adjustment

    def observe(self, real_logits: torch.Tensor) -> None:
        """Count the signs of the discriminator's logits on real images (any shape)."""
        signs = real_logits.detach().sign()
        self.sums += torch.stack([signs.sum().float().cpu(), torch.tensor(float(signs.numel()))])

    def update(self, progress: Progress) -> bool:
        """Adjust ``p`` when ``progress.batch_idx`` (iterations done) is a multiple of the interval; True if it did.

        Every process calls this at the same iterations (the sums are averaged across processes)."""
        if progress.batch_idx % self.interval:
            return False
        total, count = mean_across(self.sums).tolist()
        self.sums.zero_()
        if count <= 0:  # nothing observed (no real logits in the interval): nothing to steer by
            return False
        self.sign_mean = total / count
        adjust = math.copysign(1.0, self.sign_mean - self.target) if self.sign_mean != self.target else 0.0
        adjust *= progress.batch_size * self.interval / (self.kimg * 1000)
        with torch.no_grad():
            self.pipe.p.copy_((self.pipe.p + adjust).clamp_min(0))
        return True

    def state_dict(self) -> dict:
        return {"p": float(self.pipe.p), "sums": self.sums.tolist(), "sign_mean": self.sign_mean}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.pipe.p.fill_(float(state["p"]))
        self.sums = torch.tensor(state["sums"], dtype=torch.float32)
        self.sign_mean = state.get("sign_mean")
