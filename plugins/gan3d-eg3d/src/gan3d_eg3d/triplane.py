"""Tri-plane feature sampling and EG3D's OSG decoder (the radiance field of a w).

Plane order matters for the official checkpoints: the backbone's 96 channels are three planes of 32,
sampled at the 2D points (x, y), (x, z) and **(z, x)**. The third is not (y, z): the released code
projects with the inverse of the axis matrix ``[[0,0,1],[1,0,0],[0,1,0]]``, which selects (z, x),
and the checkpoints were trained that way. Index selection equals their matrix product bit for bit
(the matrices are permutations).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .stylegan2 import FullyConnectedLayer

# (first, second) coordinate of each plane's 2D sample point; grid_sample reads (width, height).
PLANE_COORDS = ((0, 1), (0, 2), (2, 0))
# points per step of the inference field (decode_points) on CPU: [64,8192] float intermediates are 2 MiB;
# other devices take all points at once (small blocks would starve a GPU)
FIELD_BLOCK = 8192


def plane_grid(points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """World points ``[B,M,3]`` -> grid_sample coordinates ``[B*3,1,M,2]`` in ``[-1,1]`` inside the box."""
    B, M, _ = points.shape
    p = points * (2.0 / box_warp)
    # six strided copies straight into the [B,3,M,2] layout: advanced indexing plus the transposing
    # reshape it needs cost several times more (this runs once per field block)
    g = p.new_empty(B, 3, M, 2)
    for k, (first, second) in enumerate(PLANE_COORDS):
        g[:, k, :, 0] = p[..., first]
        g[:, k, :, 1] = p[..., second]
    return g.reshape(B * 3, 1, M, 2)


def sample_triplanes(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """Bilinear features of ``planes [B,3,C,H,W]`` at ``points [B,M,3]`` -> ``[B,3,M,C]``.

    Zero padding outside the box, ``align_corners=False``, as the official renderer. ``planes`` may be
    channels-last in memory (faster grid_sample on CPU).
    """
    B, P, C, H, W = planes.shape
    out = F.grid_sample(planes.reshape(B * P, C, H, W), plane_grid(points, box_warp).to(planes.dtype),
                        mode="bilinear", padding_mode="zeros", align_corners=False)  # [B*3,C,1,M]
    return out.reshape(B, P, C, -1).permute(0, 1, 3, 2)


class OSGDecoder(nn.Module):
    """Mean of the three plane features -> FC(32,64) -> softplus -> FC(64, 1+32).

    Returns raw density (channel 0, before the ray marcher's softplus(x-1)) and features
    ``sigmoid(x)*1.002 - 0.001``. View directions are ignored, as in EG3D.
    """

    def __init__(self, n_features: int = 32, decoder_lr_mul: float = 1.0, decoder_output_dim: int = 32):
        super().__init__()
        self.hidden_dim = 64
        self.net = nn.Sequential(
            FullyConnectedLayer(n_features, self.hidden_dim, lr_multiplier=decoder_lr_mul),
            nn.Softplus(),
            FullyConnectedLayer(self.hidden_dim, 1 + decoder_output_dim, lr_multiplier=decoder_lr_mul),
        )

    def decode_points(self, planes: torch.Tensor, points: torch.Tensor, box_warp: float):
        """Field at ``points [B,M,3]`` -> ``(rgb [B,M,32], sigma [B,M,1])``, channel-first internally.

        Same maths as ``forward(sample_triplanes(...))`` (up to float rounding) but without moving the
        features to channels-last: the MLP runs as ``W @ x`` on ``[B,C,M]`` and the results are
        transposed views (no copy). Without autograd the plane mean is folded into the first layer, the
        activations work in place and, on CPU, the points go through in blocks of :data:`FIELD_BLOCK`
        whose intermediates stay in cache and are reused rather than freshly allocated (page faults on
        100 MB temporaries cost as much as the arithmetic).
        """
        if torch.is_grad_enabled():
            return self._decode_points_autograd(planes, points, box_warp)
        B, P, C, H, W = planes.shape
        M = points.shape[1]
        flat = planes.reshape(B * P, C, H, W)
        fc0, fc1 = self.net[0], self.net[2]
        # mean over the planes then fc0 == fc0/P applied to the P features stacked as grid_sample
        # returns them ([B*P,C,1,m] is [B,P*C,m] in memory): one product with K = P*C, no mean pass
        w0 = (fc0.weight * (fc0.weight_gain / P)).repeat(1, P)  # [64,P*C]
        b0 = (fc0.bias * fc0.bias_gain)[:, None]
        w1 = fc1.weight * fc1.weight_gain  # [33,64]
        b1 = (fc1.bias * fc1.bias_gain)[:, None]
        step = FIELD_BLOCK if points.device.type == "cpu" else M
        out = points.new_empty(B, w1.shape[0], M) if step < M else None
        for s in range(0, M, step):
            grid = plane_grid(points[:, s:s + step], box_warp).to(planes.dtype)
            g = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # [B*P,C,1,m]
            # bmm + add_ rather than baddbmm, whose broadcast copy of the bias is several times slower
            h = torch.matmul(w0, g.reshape(B, P * C, -1)).add_(b0)  # [B,64,m]
            F.softplus(h, out=h)
            o = torch.matmul(w1, h).add_(b1)  # [B,33,m]
            o[:, 1:].sigmoid_().mul_(1 + 2 * 0.001).sub_(0.001)
            if out is None:
                out = o
            else:
                out[:, :, s:s + step] = o
        return out[:, 1:].transpose(1, 2), out[:, 0:1].transpose(1, 2)

    def _decode_points_autograd(self, planes: torch.Tensor, points: torch.Tensor, box_warp: float):
        """:meth:`decode_points` for training: out-of-place, one pass over all points."""
        B, P, C, H, W = planes.shape
        g = F.grid_sample(planes.reshape(B * P, C, H, W), plane_grid(points, box_warp).to(planes.dtype),
                          mode="bilinear", padding_mode="zeros", align_corners=False)  # [B*3,C,1,M]
        x = g.reshape(B, P, C, -1).mean(1)  # [B,C,M]
        fc0, fc1 = self.net[0], self.net[2]
        h = torch.matmul(fc0.weight * fc0.weight_gain, x).add_((fc0.bias * fc0.bias_gain)[:, None])
        h = self.net[1](h)
        out = torch.matmul(fc1.weight * fc1.weight_gain, h).add_((fc1.bias * fc1.bias_gain)[:, None])  # [B,33,M]
        rgb = torch.sigmoid(out[:, 1:]) * (1 + 2 * 0.001) - 0.001
        return rgb.transpose(1, 2), out[:, 0:1].transpose(1, 2)

    def forward(self, sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``sampled [B,3,M,C]`` -> ``(rgb [B,M,32], sigma [B,M,1])``."""
        x = sampled.mean(1)
        B, M, C = x.shape
        x = self.net(x.reshape(B * M, C)).reshape(B, M, -1)
        rgb = torch.sigmoid(x[..., 1:]) * (1 + 2 * 0.001) - 0.001
        return rgb, x[..., 0:1]
