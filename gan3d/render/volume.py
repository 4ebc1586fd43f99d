"""Volume rendering, written once for every NeRF-style generator (EG3D, CNeRF, the toy plugin).

The steps follow EG3D's ``ImportanceRenderer`` exactly (so its checkpoints reproduce their images):

1. rays through pixel centres of a :class:`~gan3d.Camera` (:func:`ray_grid`),
2. stratified depths with optional jitter (:func:`stratified_depths`),
3. a coarse pass, then importance depths drawn from the smoothed coarse weights
   (:func:`importance_depths`, :func:`sample_pdf`),
4. coarse and fine samples merged by depth (:func:`merge_samples`),
5. mid-point alpha compositing (:func:`mip_ray_march`).

``deterministic=True`` replaces the two random draws (stratified jitter, pdf samples) with their
deterministic forms (zero jitter, ``u = linspace(0, 1, n)``). Training passes ``draws`` (anything with
``rand(name, shape, device)``, e.g. :class:`gan3d.train.Draws`) so both draws are replayable; they are
named ``render/stratified_u`` and ``render/importance_u``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..camera import Camera
from ..outputs import RenderOutput
from .base import Renderer

# A radiance field: points [B,N,3] and unit directions [B,N,3] -> (features [B,N,C], raw density [B,N,1]).
Field = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def ray_grid(camera: Camera, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through the centres of a ``resolution x resolution`` pixel grid.

    Returns origins ``[B,M,3]`` and unit directions ``[B,M,3]``, ``M = resolution**2`` in row-major
    order (ray ``i*res + j`` goes through row ``i`` from the top, column ``j``; normalised image point
    ``((j+0.5)/res, (i+0.5)/res)``). The normalised-intrinsics lift includes the skew term.
    """
    c2w, K = camera.cam2world, camera.intrinsics
    B, dev = c2w.shape[0], c2w.device
    fx, fy, cx, cy, sk = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 0, 1]
    # float32 form of (index + 0.5) / res as EG3D computes it (bit-identical for power-of-two res)
    idx = torch.arange(resolution, dtype=torch.float32, device=dev) * (1.0 / resolution) + (0.5 / resolution)
    v, u = torch.meshgrid(idx, idx, indexing="ij")  # v: row (y), u: column (x)
    u = u.reshape(1, -1).expand(B, -1)
    v = v.reshape(1, -1).expand(B, -1)
    x_lift = (u - cx[:, None] + cy[:, None] * sk[:, None] / fy[:, None] - sk[:, None] * v / fy[:, None]) / fx[:, None]
    y_lift = (v - cy[:, None]) / fy[:, None]
    cam_pts = torch.stack((x_lift, y_lift, torch.ones_like(x_lift), torch.ones_like(x_lift)), dim=-1)  # [B,M,4]
    world = torch.bmm(c2w, cam_pts.permute(0, 2, 1)).permute(0, 2, 1)[:, :, :3]
    origins = c2w[:, None, :3, 3].expand(-1, world.shape[1], -1)
    dirs = F.normalize(world - origins, dim=2)
    return origins.contiguous(), dirs


def stratified_depths(
    origins: torch.Tensor, ray_start: float, ray_end: float, num_samples: int, deterministic: bool = False,
    draws=None,
) -> torch.Tensor:
    """Evenly spaced depths ``[B,M,D,1]`` from ``ray_start`` to ``ray_end``.

    Stochastic mode adds one uniform jitter in ``[0, delta)`` per sample (so the last one may pass
    ``ray_end``), as EG3D does, drawn from ``draws`` when given; deterministic mode adds nothing.
    """
    B, M = origins.shape[:2]
    depths = torch.linspace(ray_start, ray_end, num_samples, device=origins.device)
    depths = depths.reshape(1, 1, num_samples, 1).repeat(B, M, 1, 1)
    if not deterministic:
        delta = (ray_end - ray_start) / (num_samples - 1)
        u = (draws.rand("render/stratified_u", depths.shape, depths.device) if draws is not None
             else torch.rand_like(depths))
        depths = depths + u * delta
    return depths


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, n: int, deterministic: bool = False,
               eps: float = 1e-5, draws=None) -> torch.Tensor:
    """Inverse-transform samples ``[R,n]`` from the piecewise-constant pdf ``weights [R,K-1]`` on ``bins [R,K]``."""
    R = weights.shape[0]
    weights = weights + eps
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cat((torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)), -1)  # [R,K]
    if deterministic:
        u = torch.linspace(0, 1, n, device=bins.device).expand(R, n).contiguous()
    else:
        u = (draws.rand("render/importance_u", (R, n), bins.device) if draws is not None
             else torch.rand(R, n, device=bins.device))
    inds = torch.searchsorted(cdf, u, right=True)
    below = torch.clamp_min(inds - 1, 0)
    above = torch.clamp_max(inds, cdf.shape[-1] - 1)
    idx = torch.stack((below, above), -1).view(R, 2 * n)
    cdf_g = torch.gather(cdf, 1, idx).view(R, n, 2)
    bins_g = torch.gather(bins, 1, idx).view(R, n, 2)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    return bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])


@torch.no_grad()
def importance_depths(depths: torch.Tensor, weights: torch.Tensor, num_importance: int,
                      deterministic: bool = False, draws=None) -> torch.Tensor:
    """Fine depths ``[B,M,N_imp,1]`` from coarse ``depths [B,M,D,1]`` and their weights ``[B,M,D-1,1]``.

    The weights are smoothed (max-pool 2, avg-pool 2, +0.01); bins are the coarse mid-points and the
    pdf uses ``smoothed[1:-1]``, so the last mid-point bin is never drawn (as in EG3D).
    """
    B, M, D, _ = depths.shape
    w = weights.reshape(B * M, -1)
    w = F.max_pool1d(w.unsqueeze(1), 2, 1, padding=1)
    w = F.avg_pool1d(w, 2, 1).squeeze(1) + 0.01
    z = depths.reshape(B * M, D)
    mids = 0.5 * (z[:, :-1] + z[:, 1:])
    fine = sample_pdf(mids, w[:, 1:-1], num_importance, deterministic, draws=draws)
    return fine.detach().reshape(B, M, num_importance, 1)


def merge_samples(depths1, colors1, densities1, depths2, colors2, densities2):
    """Concatenate two sample sets along the ray and sort them by depth (all ``[B,M,S,*]``)."""
    depths = torch.cat((depths1, depths2), dim=-2)
    colors = torch.cat((colors1, colors2), dim=-2)
    densities = torch.cat((densities1, densities2), dim=-2)
    _, order = torch.sort(depths, dim=-2)
    depths = torch.gather(depths, -2, order)
    colors = torch.gather(colors, -2, order.expand(-1, -1, -1, colors.shape[-1]))
    densities = torch.gather(densities, -2, order)
    return depths, colors, densities


def mip_ray_march(colors: torch.Tensor, densities: torch.Tensor, depths: torch.Tensor,
                  white_back: bool = False, depth_range: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Mid-point alpha compositing (EG3D's ``MipRayMarcher2``).

    colors ``[B,M,S,C]``, raw densities ``[B,M,S,1]``, depths ``[B,M,S,1]`` ->
    ``rgb [B,M,C]`` (in ``[-1,1]``: ``*2-1`` on every channel), ``depth [B,M,1]``, ``weights [B,M,S-1,1]``.

    Densities go through ``softplus(sigma - 1)``. Depth is ``sum(w t)/sum(w)`` clamped to the global
    min/max of ``depths`` (or ``depth_range`` when the rays were rendered in chunks).
    """
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colors_mid = (colors[:, :, :-1] + colors[:, :, 1:]) / 2
    densities_mid = (densities[:, :, :-1] + densities[:, :, 1:]) / 2
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    densities_mid = F.softplus(densities_mid - 1)
    alpha = 1 - torch.exp(-densities_mid * deltas)
    alpha_shifted = torch.cat((torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10), -2)
    weights = alpha * torch.cumprod(alpha_shifted, -2)[:, :, :-1]
    rgb = torch.sum(weights * colors_mid, -2)
    return _finish(rgb, weights, depths_mid, depths, white_back, depth_range) + (weights,)


def _finish(rgb, weights, depths_mid, depths, white_back: bool, depth_range):
    """EG3D's last steps: expected depth clamped to the sample range, white background, ``*2-1``.

    rgb ``[B,M,C]`` composited features, weights ``[B,M,S-1,1]``, depths_mid ``[B,M,S-1,1]`` ->
    ``(rgb [B,M,C] in [-1,1], depth [B,M,1])``.
    """
    weight_total = weights.sum(2)
    depth = torch.sum(weights * depths_mid, -2) / weight_total
    depth = torch.nan_to_num(depth, float("inf"))
    lo, hi = depth_range if depth_range is not None else (torch.min(depths), torch.max(depths))
    depth = torch.clamp(depth, lo, hi)
    if white_back:
        rgb = rgb + 1 - weight_total
    return rgb * 2 - 1, depth


class VolumeRenderer(Renderer):
    """Two-pass (coarse + importance) volume renderer over any radiance :data:`Field`.

    ray_start / ray_end: depth range along each ray (world units);
    num_samples / num_importance: coarse and fine samples per ray (``num_importance = 0``: one pass);
    white_back: composite over white;
    chunk: rays per batch element rendered at once (``None``: no limit);
    max_points: cap on the points evaluated by one field call (batch x rays x samples), which bounds
    memory at any resolution and batch size (``None``: no cap).
    Chunking never changes the result: the depth clamp uses the global sample range of the whole
    batch, as EG3D's single pass does.
    """

    def __init__(self, ray_start: float, ray_end: float, num_samples: int, num_importance: int = 0,
                 white_back: bool = False, chunk: int | None = 16384, max_points: int | None = 1 << 19):
        self.ray_start, self.ray_end = float(ray_start), float(ray_end)
        self.num_samples, self.num_importance = int(num_samples), int(num_importance)
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be at least 2, got {num_samples}")
        self.white_back = bool(white_back)
        self.chunk = chunk
        self.max_points = max_points

    def render_rays(self, field: Field, origins: torch.Tensor, dirs: torch.Tensor, deterministic: bool = False,
                    depth_range=None, draws=None):
        """Composite along rays ``[B,M,3]`` -> ``(features [B,M,C], depth [B,M,1], weights [B,M,S-1,1])``.

        ``depth_range=None`` clamps depth to the range of these rays' samples (one pass over every ray,
        EG3D's behaviour); ``(-inf, inf)`` leaves it unclamped for a later global clamp.
        """
        rgb, depth, weights, _ = self._render_rays(field, origins, dirs, deterministic, depth_range, draws)
        return rgb, depth, weights

    def _render_rays(self, field, origins, dirs, deterministic, depth_range, draws=None):
        depths = stratified_depths(origins, self.ray_start, self.ray_end, self.num_samples, deterministic, draws)
        colors, densities = self._query(field, origins, dirs, depths)
        if self.num_importance <= 0:
            rgb, depth, weights = mip_ray_march(colors, densities, depths, self.white_back, depth_range)
            return rgb, depth, weights, (torch.min(depths), torch.max(depths))
        with torch.no_grad():  # only the weights are needed; no compositing of features
            weights = _march_weights(densities, depths)
        fine = importance_depths(depths, weights, self.num_importance, deterministic, draws)
        colors_f, densities_f = self._query(field, origins, dirs, fine)
        return _composite_two_sets(depths, colors, densities, fine, colors_f, densities_f, self.white_back,
                                   depth_range)

    @staticmethod
    def _query(field: Field, origins, dirs, depths):
        B, M, S, _ = depths.shape
        points = (origins.unsqueeze(-2) + depths * dirs.unsqueeze(-2)).reshape(B, M * S, 3)
        d = dirs.unsqueeze(-2).expand(-1, -1, S, -1).reshape(B, M * S, 3)
        colors, densities = field(points, d)
        return colors.reshape(B, M, S, colors.shape[-1]), densities.reshape(B, M, S, 1)

    def rays_per_chunk(self, batch: int, num_rays: int) -> int:
        """Rays per batch element in one pass under ``chunk`` and ``max_points``."""
        chunk = num_rays if not self.chunk else min(num_rays, int(self.chunk))
        if self.max_points:
            per_ray = batch * max(self.num_samples, self.num_importance)
            chunk = min(chunk, max(1, int(self.max_points) // per_ray))
        return max(1, chunk)

    def render(self, field: Field, camera: Camera, resolution: int, deterministic: bool = False,
               draws=None) -> RenderOutput:
        """Render ``field`` from ``camera`` at ``resolution x resolution`` -> :class:`~gan3d.RenderOutput`.

        ``draws``: the source of the stochastic mode's random numbers (see the module docstring).
        """
        origins, dirs = ray_grid(camera, resolution)
        B, M = origins.shape[:2]
        chunk = self.rays_per_chunk(B, M)
        if chunk >= M:
            feats, depth, weights = self.render_rays(field, origins, dirs, deterministic, draws=draws)
            opacity = weights.sum(2)
        else:
            feats, depth, opacity = self._render_chunked(field, origins, dirs, chunk, deterministic, draws)
        H = W = resolution
        return RenderOutput(
            features=feats.permute(0, 2, 1).reshape(B, -1, H, W).contiguous(),
            depth=depth.permute(0, 2, 1).reshape(B, 1, H, W),
            opacity=opacity.permute(0, 2, 1).reshape(B, 1, H, W),
        )

    def _render_chunked(self, field, origins, dirs, chunk, deterministic, draws=None):
        # EG3D clamps the composited depth to the min/max over *all* samples of the batch (coarse and
        # fine, jittered or not). Render every chunk unclamped, track the sample range, clamp at the end:
        # identical to one pass in both modes.
        inf = torch.tensor(float("inf"), device=origins.device)
        feats, depths_out, opac, los, his = [], [], [], [], []
        for s in range(0, origins.shape[1], chunk):
            o, d = origins[:, s:s + chunk], dirs[:, s:s + chunk]
            f, dep, w, (lo, hi) = self._render_rays(field, o, d, deterministic, (-inf, inf), draws)
            feats.append(f)
            depths_out.append(dep)
            opac.append(w.sum(2))
            los.append(lo)
            his.append(hi)
        depth = torch.clamp(torch.cat(depths_out, 1), torch.stack(los).min(), torch.stack(his).max())
        return torch.cat(feats, 1), depth, torch.cat(opac, 1)


def _march_weights(densities: torch.Tensor, depths: torch.Tensor) -> torch.Tensor:
    """The compositing weights ``[B,M,S-1,1]`` of :func:`mip_ray_march` alone (for importance sampling)."""
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    densities_mid = F.softplus((densities[:, :, :-1] + densities[:, :, 1:]) / 2 - 1)
    alpha = 1 - torch.exp(-densities_mid * deltas)
    alpha_shifted = torch.cat((torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10), -2)
    return alpha * torch.cumprod(alpha_shifted, -2)[:, :, :-1]


# ------------------------------------------------------------------------------------------------------
# SDF radiance fields with plain (not mid-point) compositing: StyleSDF / CNeRF.
# These sit beside EG3D's mid-point marcher; nothing above depends on them.


def offset_depths(origins: torch.Tensor, near: float, far: float, num_samples: int,
                  jitter: bool = False) -> torch.Tensor:
    """Depths ``[B,M,S,1]`` at ``near*(1-t) + far*t`` for ``t = 0, 1/S, ..., 1-1/S`` (``far`` never sampled).

    ``jitter`` shifts all samples of a ray by one shared uniform offset in ``[0, (far-near)/S)`` (the
    StyleSDF/CNeRF training perturbation); without it the depths are deterministic.
    """
    B, M = origins.shape[:2]
    t = torch.linspace(0.0, 1.0 - 1.0 / num_samples, num_samples, device=origins.device)
    depths = (near * (1.0 - t) + far * t).reshape(1, 1, num_samples, 1).repeat(B, M, 1, 1)
    if jitter:
        upper = torch.cat((depths[:, :, 1:], torch.full_like(depths[:, :, :1], far)), dim=2)
        depths = depths + (upper - depths) * torch.rand(B, M, 1, 1, device=origins.device)
    return depths


def sdf_to_density(sdf: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """StyleSDF's density of a signed distance: ``sigmoid(-sdf / beta) / beta`` (any shape).

    Inside the surface (``sdf < 0``) the density tends to ``1/beta``, outside to 0; ``beta`` sets how
    sharp the transition is.
    """
    return torch.sigmoid(-sdf / beta) / beta


def alpha_weights(densities: torch.Tensor, depths: torch.Tensor, ray_scale: torch.Tensor | None = None,
                  last_delta: float = 1e10) -> torch.Tensor:
    """Plain alpha-compositing weights ``[B,M,S,1]`` (one per sample, no mid-points).

    densities ``[B,M,S,1]`` (already activated, >= 0) and depths ``[B,M,S,1]``. The spacing after the
    last sample is ``last_delta`` (so a ray always ends opaque). ``ray_scale [B,M,1]`` multiplies every
    spacing: pass the ray directions' norms when depths are parameters along unnormalised directions.
    ``T_i = prod_{j<i} (1 - alpha_j + 1e-10)``, ``w_i = alpha_i T_i``.
    """
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    deltas = torch.cat((deltas, torch.full_like(deltas[:, :, :1], last_delta)), dim=2)
    if ray_scale is not None:
        deltas = deltas * ray_scale.unsqueeze(2)
    alpha = 1 - torch.exp(-densities * deltas)
    shifted = torch.cat((torch.ones_like(alpha[:, :, :1]), 1.0 - alpha + 1e-10), dim=2)
    return alpha * torch.cumprod(shifted, dim=2)[:, :, :-1]


def composite(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Weighted sum along each ray: ``weights [B,M,S,1]``, ``values [B,M,S,C]`` -> ``[B,M,C]``."""
    return torch.sum(weights * values, dim=2)


def _composite_two_sets(depths1, colors1, densities1, depths2, colors2, densities2, white_back, depth_range):
    """:func:`merge_samples` followed by :func:`mip_ray_march`, without moving the feature tensors.

    Only depths and densities (one channel) are concatenated and sorted. The mid-point compositing
    ``sum_j w_j (c_j + c_{j+1}) / 2`` equals ``sum_j c_j (w_{j-1} + w_j) / 2``, so each sample's
    coefficient is computed in depth order and scattered back to where its features already are;
    the wide feature tensors are read once instead of being concatenated, gathered and averaged.
    Equal to the merged form up to float rounding (about 1e-7).
    """
    D = depths1.shape[-2]
    depths = torch.cat((depths1, depths2), dim=-2)
    densities = torch.cat((densities1, densities2), dim=-2)
    depths_sorted, order = torch.sort(depths, dim=-2)
    densities_sorted = torch.gather(densities, -2, order)
    weights = _march_weights(densities_sorted, depths_sorted)  # [B,M,S-1,1]
    zero = torch.zeros_like(weights[:, :, :1])
    coef_sorted = (torch.cat((zero, weights), -2) + torch.cat((weights, zero), -2)) * 0.5  # [B,M,S,1]
    coef = torch.empty_like(coef_sorted).scatter_(-2, order, coef_sorted)
    rgb = _weighted_sum(colors1, coef[:, :, :D]) + _weighted_sum(colors2, coef[:, :, D:])
    depths_mid = (depths_sorted[:, :, :-1] + depths_sorted[:, :, 1:]) / 2
    rgb, depth = _finish(rgb, weights, depths_mid, depths, white_back, depth_range)
    return rgb, depth, weights, (torch.min(depths), torch.max(depths))


def _weighted_sum(colors: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """``sum_s coef[b,m,s] * colors[b,m,s,:]`` -> ``[B,M,C]`` as one batched matrix product."""
    B, M, S, C = colors.shape
    cf = colors.permute(0, 3, 1, 2)  # fields that compute channel-first hand over transposed views
    if cf.is_contiguous():
        # a batched product over the rays: no [B,C,M,S] temporary (6x faster than multiply-then-sum)
        return torch.einsum("bcms,bms->bcm", cf, coef[..., 0]).transpose(1, 2)
    return torch.matmul(coef.reshape(B * M, 1, S), colors.reshape(B * M, S, C)).reshape(B, M, C)
