"""What a CNeRF training step draws and renders: latents with per-class style mixing, the training
camera distribution, the jittered 24-sample rendering, and the sphere pre-fit of the init SDF.

Every random value comes from the trainer's ``draws`` under a stable name (``{tag}/mixing``,
``{tag}/z``, ``{tag}/azimuth``, ``{tag}/elevation``, ``{tag}/inject``, ``{tag}/ray_jitter``), so a
parity test replays the official code's values and a resumed run continues the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..camera import camera_from_angles
from ..generator import CNeRFGenerator
from ..renderer import cnerf_rays
from .losses import sphere_sdf_l1


@dataclass
class FakeInputs:
    """One batch of generator inputs: z ``[n,B,S]`` (n = 2 when mixing), per-class mixing choice
    ``inject [K,B]`` in {0,1,2} (None without mixing), cameras ``azimuth``/``elevation`` ``[B,1]``
    (radians), ray jitter ``[B,R,R]`` in [0,1)."""

    z: torch.Tensor
    inject: torch.Tensor | None
    azimuth: torch.Tensor
    elevation: torch.Tensor
    jitter: torch.Tensor | None

    @property
    def viewpoint(self) -> torch.Tensor:
        """The pose target ``[B,2]`` = (azimuth, elevation)."""
        return torch.cat([self.azimuth, self.elevation], 1)


def draw_cameras(draws, tag: str, batch: int, azimuth_std: float, elevation_std: float, uniform: bool = False,
                 device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Training cameras: azimuth ~ N(0, azimuth_std), elevation ~ N(0, elevation_std) radians
    (``uniform``: U(+-range)); each ``[B,1]``, azimuth drawn first."""
    if uniform:
        az = (2 * draws.rand(f"{tag}/azimuth", (batch, 1), device) - 1) * azimuth_std
        el = (2 * draws.rand(f"{tag}/elevation", (batch, 1), device) - 1) * elevation_std
    else:
        az = azimuth_std * draws.randn(f"{tag}/azimuth", (batch, 1), device)
        el = elevation_std * draws.randn(f"{tag}/elevation", (batch, 1), device)
    return az, el


def draw_inputs(draws, tag: str, batch: int, style_dim: int, num_classes: int, mixing: float, resolution: int,
                azimuth_std: float, elevation_std: float, uniform: bool = False, jitter: bool = True,
                device=None) -> FakeInputs:
    """z (two of them with probability ``mixing``), cameras, then the mixing choices and ray jitter,
    in the official order of draws."""
    two = mixing > 0 and float(draws.rand(f"{tag}/mixing", (1,))[0]) < mixing
    z = draws.randn(f"{tag}/z", (2 if two else 1, batch, style_dim), device)
    az, el = draw_cameras(draws, tag, batch, azimuth_std, elevation_std, uniform, device)
    inject = draws.randint(f"{tag}/inject", 3, (num_classes, batch), device) if two else None
    u = draws.rand(f"{tag}/ray_jitter", (batch, resolution, resolution), device) if jitter else None
    return FakeInputs(z, inject, az, el, u)


def mixed_slots(G: CNeRFGenerator, z: torch.Tensor, inject: torch.Tensor | None) -> torch.Tensor:
    """Renderer slots ``[B,2K,S]`` from z ``[n,B,S]``: each class and sample independently takes
    (shape, texture) = (w1,w1), (w1,w2) or (w2,w2) for ``inject`` = 0, 1, 2 (official ``mix_styles``)."""
    w = G.style(z.reshape(-1, z.shape[-1])).reshape(z.shape)  # [n,B,S]
    K = G.num_classes
    if inject is None:
        return w[0].unsqueeze(1).expand(-1, 2 * K, -1)
    w1, w2 = w[0].unsqueeze(1), w[1].unsqueeze(1)                 # [B,1,S]
    inj = inject.t().unsqueeze(-1)                                 # [B,K,1]
    shape = torch.where(inj < 2, w1, w2)                           # [B,K,S]
    texture = torch.where(inj < 1, w1, w2)
    return torch.stack([shape, texture], 2).reshape(w.shape[1], 2 * K, -1)


def render_fakes(G: CNeRFGenerator, inputs: FakeInputs, resolution: int, num_samples: int, *,
                 features: bool = False, sdf: bool = False, eikonal: bool = False) -> dict:
    """The training rendering: world-frame view directions, the given per-ray jitter.

    Returns the renderer's maps: ``rgb [B,3,R,R]`` in [-1,1], ``seg [B,K,R,R]`` (raw composited mask
    logits), optionally ``features``, ``sdf [B,R,R,N,1]``, ``eikonal [B,R,R,N,3]``.
    """
    cfg = G.config
    slots = mixed_slots(G, inputs.z, inputs.inject)
    camera = camera_from_angles(inputs.azimuth[:, 0], inputs.elevation[:, 0], cfg.half_fov_degrees)
    camera = camera.to(inputs.z.device)
    return G.renderer.render(G.expand_slots(slots), camera, resolution, num_samples, cfg.near, cfg.far,
                             static_viewdirs=False, z_normalize=cfg.z_normalize, jitter=inputs.jitter,
                             with_features=features, return_sdf=sdf, return_eikonal=eikonal)


def sphere_prefit_loss(G: CNeRFGenerator, inputs: FakeInputs, resolution: int, num_samples: int,
                       stratified_u: torch.Tensor) -> torch.Tensor:
    """The official pre-fit of ``renderer.init_network`` to a sphere of radius ``(far - near)/4`` (0.06).

    Rays of the training cameras, depths stratified between the mid-points of the offset grid with
    one ``stratified_u [B,R*R,N]`` per sample; the init network sees z-normalised points and world
    view directions under class 0's codes. Returns the mean absolute error to ``|p| - radius``;
    its gradient reaches the init network and the mapping network.
    """
    cfg = G.config
    slots = mixed_slots(G, inputs.z, inputs.inject)
    camera = camera_from_angles(inputs.azimuth[:, 0], inputs.elevation[:, 0], cfg.half_fov_degrees)
    origins, unit_dirs, rays_d, _ = cnerf_rays(camera.to(inputs.z.device), resolution)
    B, M = origins.shape[:2]
    t = torch.linspace(0.0, 1.0 - 1.0 / num_samples, num_samples, device=origins.device)
    z = cfg.near * (1 - t) + cfg.far * t
    mids = 0.5 * (z[1:] + z[:-1])
    lower, upper = torch.cat([z[:1], mids]), torch.cat([mids, z[-1:]])
    depths = lower + (upper - lower) * stratified_u.reshape(B, M, num_samples)  # [B,M,N]
    pts = origins.unsqueeze(2) + rays_d.unsqueeze(2) * depths.unsqueeze(-1)   # [B,M,N,3] world
    scale = 2.0 / (cfg.far - cfg.near) if cfg.z_normalize else 1.0
    vd = unit_dirs.unsqueeze(2).expand(-1, -1, num_samples, -1).reshape(B, -1, 3)
    codes = G.renderer.class_codes(G.expand_slots(slots), 0)
    pred = G.renderer.init_network.sdf((pts * scale).reshape(B, -1, 3), vd, codes)
    return sphere_sdf_l1(pred, pts.reshape(B, -1, 3).detach(), (cfg.far - cfg.near) / 4)
