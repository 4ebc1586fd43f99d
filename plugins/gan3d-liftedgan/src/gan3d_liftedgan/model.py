"""LiftedGAN ("Lifting 2D StyleGAN for 3D-Aware Face Generation", Shi, Aggarwal & Jain, CVPR 2021).

A frozen StyleGAN2 is distilled into a depth map (netD), a transformation map (netT), a light and a
view (netSD) and a canonical texture (the StyleGAN2 image of the neutralised style from netSC). The
depth map becomes a grid mesh that is rigidly turned about a pivot at depth 1 and rasterised by the
core's :class:`gan3d.render.mesh.MeshRenderer` (PyTorch3D 0.2.5 rules).

Every step follows the official ``LiftedGAN.estimate`` / ``LiftedGAN.render`` in order and in
floating-point form (``shared/reference/liftedgan.md`` sections 1 and 9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

import gan3d
from gan3d.camera import Camera
from gan3d.errors import InputError
from gan3d.render.mesh import Mesh, MeshRenderer, grid_faces

from . import geometry as geo
from .networks import DepthNet, GaussianBlur, StyleComposeNet, StyleDecomposeNet, TransformationNet
from .stylegan2 import SLIM_CHANNELS, StyleGAN2Generator


class LiftedGANArchitecture(BaseModel):
    """The lifting networks' widths and the renderer's constants (official values by default).

    Defined once: :class:`LiftedGANConfig` (a model's architecture) adds the StyleGAN2's shape to these,
    and the training options (``gan3d_liftedgan.train.LiftedGANTrainOptions``) inherit them.
    """

    model_config = ConfigDict(extra="forbid")

    mlp_hidden: int = Field(512, ge=4, description="width of netSD's and netSC's MLPs")
    depth_z_dim: int = Field(512, ge=1, description="DepthNet z_dim")
    depth_nf: int = Field(16, ge=4, description="DepthNet nf")
    depth_upsample: Literal["transposed", "resize"] = Field(
        "transposed", description="netD's doublings: 'transposed' (official: stride-2 transposed convs, a final "
                                  "nearest doubling) or 'resize' (nearest doubling + 3x3 conv, a final bilinear "
                                  "doubling; no checkerboard: the 64-px synth64 preset)")
    trans_z_dim: int = Field(16, ge=1, description="TransformationNet z_dim")
    trans_nf: int = Field(16, ge=4, description="TransformationNet nf")
    min_depth: float = 0.9
    max_depth: float = 1.1
    border_depth: float = 1.05
    xyz_rotation_range: float = Field(60.0, description="degrees of a view rotation of 1 (netSD's tanh units)")
    xy_translation_range: float = 0.1
    z_translation_range: float = 0.01
    fov: float = Field(10.0, description="the renderer's field of view, degrees")
    rot_center_depth: float = Field(1.0, description="depth of the pivot the face turns about")
    blur_size: int = Field(10, ge=1, description="Gaussian blur radius (px) of the albedo rank loss / delighting")
    blur_sigma: float = Field(4.0, gt=0)
    clamp_border: bool = True
    generator_texture: bool = True
    truncation: float = Field(0.7, gt=0, le=1, description="psi: the teacher's targets in training and the "
                                                           "default for generation (the authors' FID used 1.0)")


class LiftedGANConfig(LiftedGANArchitecture):
    """A LiftedGAN's architecture: its StyleGAN2's shape (size, style width, mapping, channel table) and
    the :class:`LiftedGANArchitecture` fields. The fixture narrows the widths."""

    image_size: int = 256
    style_dim: int = Field(512, ge=1)
    n_mlp: int = Field(8, ge=1)
    lr_mlp: float = 0.01
    channels: dict[int, int] = Field(default_factory=lambda: dict(SLIM_CHANNELS))

    def __init__(self, **data):
        super().__init__(**data)
        # The official model is 256 px; smaller powers of two (gan3d's 64-px synthetic world) drop
        # up-sampling blocks of the depth and transformation nets. Checked here (not in a validator) so
        # that the error stays an InputError rather than a pydantic ValidationError.
        if self.image_size < 16 or self.image_size & (self.image_size - 1):
            raise InputError(f"LiftedGAN's depth and transformation nets produce power-of-two maps of at least "
                             f"16 px (256 officially); got image_size {self.image_size}")

    def to_dict(self) -> dict:
        """JSON-ready (``channels`` keyed by strings), what ``config.json`` of the safe form holds."""
        return self.model_dump(mode="json")


@dataclass
class Estimate:
    """What ``LiftedGAN.estimate`` returns for a batch of ``B`` styles (maps are 256x256).

    light ``[B,4]`` and view ``[B,6]`` are netSD's tanh outputs (view un-scaled); neutral_style ``[B,D]``;
    canon_im_raw ``[B,3,H,W]`` (StyleGAN2 image of the neutral style); canon_depth ``[B,H,W]``;
    trans_map ``[B,1,H,W]``; canon_albedo ``[B,3,H,W]``.
    """

    light: torch.Tensor
    view: torch.Tensor
    neutral_style: torch.Tensor
    canon_im_raw: torch.Tensor
    canon_depth: torch.Tensor
    trans_map: torch.Tensor
    canon_albedo: torch.Tensor


class LiftedGAN(gan3d.Generator):
    """gan3d generator for LiftedGAN checkpoints.

    State-dict layout: ``generator.*`` (the StyleGAN2 ``g_ema``), ``netSD.*``, ``netSC.*``, ``netD.*``,
    ``netT.*`` (official key names below each prefix) and ``w_mu [1,D]`` (the truncation mean).
    """

    stochastic = False  # stored noise maps and a rasteriser: nothing random at render time

    def __init__(self, card: gan3d.ModelCard, config: LiftedGANConfig | None = None):
        super().__init__(card)
        cfg = config or LiftedGANConfig()
        self.config = cfg
        D = cfg.style_dim
        self.generator = StyleGAN2Generator(cfg.image_size, D, cfg.n_mlp, cfg.channels, cfg.lr_mlp)
        self.netSD = StyleDecomposeNet(D, hidden=cfg.mlp_hidden)
        self.netSC = StyleComposeNet(D, hidden=cfg.mlp_hidden)
        self.netD = DepthNet(D, 1, cfg.depth_z_dim, 4, cfg.depth_nf, inject_dim=cfg.channels[cfg.image_size],
                             size=cfg.image_size, upsample=cfg.depth_upsample)
        self.netT = TransformationNet(D, 1, cfg.trans_z_dim, 4, cfg.trans_nf, size=cfg.image_size)
        self.register_buffer("w_mu", torch.zeros(1, D))
        self.blur = GaussianBlur(cfg.blur_size, cfg.blur_sigma)
        K, inv_K = geo.intrinsics(cfg.image_size, cfg.fov)
        self.register_buffer("K", K, persistent=False)
        self.register_buffer("inv_K", inv_K, persistent=False)
        self.register_buffer("faces", grid_faces(cfg.image_size, cfg.image_size), persistent=False)
        empty = cfg.max_depth + 0.5 * (cfg.max_depth - cfg.min_depth)
        self.mesh_renderer = MeshRenderer(background=(1.0, 1.0, 1.0), empty_depth=empty)
        # When set, every synthesis uses each sample's own estimated pose and ignores the camera: the
        # authors' image/FID protocol (use it with truncation_psi=1.0 for their FID numbers).
        self.own_pose = False

    def set_own_pose(self, flag: bool = True) -> "LiftedGAN":
        """Render at each sample's own estimated pose (the official protocol) instead of the given cameras."""
        self.own_pose = bool(flag)
        return self

    # ------------------------------------------------------------------ truncation mean
    @torch.no_grad()
    def compute_w_mu(self, n: int = 50_000, seed: int = 0, batch: int = 10_000) -> torch.Tensor:
        """Mean of ``n`` mapped ``z ~ N(0, I)`` from a fixed ``seed`` (the official code redraws it unseeded
        at every load); stored in ``w_mu`` and returned ``[1,D]``."""
        g = torch.Generator(device="cpu").manual_seed(seed)
        total = torch.zeros(1, self.config.style_dim, dtype=torch.float64, device=self.device)
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), self.config.style_dim, generator=g).to(self.device)
            total += self.generator.mapping(z).double().sum(0, keepdim=True)
        self.w_mu.copy_((total / n).float())
        return self.w_mu.clone()

    # ------------------------------------------------------------------ gan3d.Generator
    def mapping(self, z: torch.Tensor, camera: Camera | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """``z [B,D]`` -> ``w [B,1,D]``; truncation ``psi * w + (1 - psi) * w_mu`` as the official code."""
        self.check_truncation(truncation_psi, truncation_cutoff, num_ws=1)
        z = self.check_latents(z)
        w = self.generator.mapping(z)
        if truncation_psi != 1 and truncation_cutoff != 0:
            w = truncation_psi * w + (1 - truncation_psi) * self.w_mu
        return w[:, None, :]

    def synthesize(self, w: torch.Tensor, camera: Camera | None = None, *, own_pose: bool | None = None,
                   light: torch.Tensor | None = None, view: torch.Tensor | None = None,
                   **kwargs) -> gan3d.GeneratorOutput:
        """Render styles ``w [B,1,D]`` (or ``[B,D]``).

        The view is, in order of precedence: ``view`` (LiftedGAN's own ``[B,6]`` parameters in (-1,1)
        units), the sample's own estimated pose when ``own_pose`` (default: :attr:`own_pose`; as the
        authors' image and FID scripts render), else ``camera`` converted by :func:`camera_to_view`. ``light [B,4]`` replaces the
        estimated light (e.g. :func:`relight_vector`).

        Returns image ``[B,3,256,256]`` clamped to [-1,1] (as every official tool saves it), image_raw
        (unclamped render), depth ``[B,1,256,256]`` (camera z, 1.2 where empty), mask (depth < 1.2) and
        extras: canon_depth, canon_albedo, canon_shading, canon_normal (xyz in [-1,1]), canon_im,
        canon_im_raw, trans_map, light ``[B,4]``, view ``[B,6]``.
        """
        if w.ndim == 3:
            w = w[:, 0]
        if w.ndim != 2 or w.shape[1] != self.config.style_dim:
            raise InputError(f"w must have shape [B,1,{self.config.style_dim}] or [B,{self.config.style_dim}], "
                             f"got {list(w.shape)}")
        B = w.shape[0]
        est = self.estimate(w)
        own_pose = self.own_pose if own_pose is None else own_pose
        if view is None and not own_pose:
            if camera is None:
                camera = self.default_camera()
            camera = self.check_camera(camera, B)
            view = camera_to_view(camera, self.config.xyz_rotation_range).to(w)
        return self.render(est, view=view, light=light)

    def export_config(self) -> dict:
        return self.config.to_dict()

    # ------------------------------------------------------------------ the official steps
    def depth_rescale(self, d: torch.Tensor) -> torch.Tensor:
        """(-1,1) -> (min_depth, max_depth) in the official ``depth_rescaler`` form (exact float order)."""
        return (1 + d) / 2 * self.config.max_depth + (1 - d) / 2 * self.config.min_depth

    def process_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """netD output ``[B,1,H,W]`` -> canonical depth ``[B,H,W]``: minus its per-sample mean, tanh, rescaled
        to (min_depth, max_depth), the two leftmost and rightmost columns set to border_depth."""
        cfg = self.config
        B = raw.shape[0]
        depth = raw.squeeze(1)
        depth = depth - depth.view(B, -1).mean(1).view(B, 1, 1)
        depth = self.depth_rescale(torch.tanh(depth))
        if cfg.clamp_border:
            depth = depth.clone()
            depth[:, :, :2] = cfg.border_depth
            depth[:, :, -2:] = cfg.border_depth
        return depth

    def process_trans_map(self, raw: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """netT output ``[B,1,H,W]`` -> transformation map ``[B,1,H,W]``: sigmoid(x + 5), forced to 1 where the
        depth is at most border_depth - 0.01, blurred, then a 1-row / 2-column outer frame set to 0."""
        cfg = self.config
        trans = torch.sigmoid(raw + 5)
        trans = torch.where((depth <= cfg.border_depth - 0.01).unsqueeze(1), torch.ones_like(trans), trans)
        trans = self.blur(trans)
        frame = torch.zeros_like(trans)
        frame[:, :, 1:-1, 2:-2] = 1
        return trans * frame

    def delight(self, canon_im_raw: torch.Tensor, depth: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        """Albedo ``[B,3,H,W]``: the StyleGAN2 image divided by the frontal-light shading with the sample's
        ambient and diffuse strengths (``light [B,4]``, only its first two entries are used)."""
        B = light.shape[0]
        a = light[:, :1] / 2 + 0.5
        b = light[:, 1:2] / 2 + 0.5
        normal = geo.normals_from_depth(depth, self.inv_K)
        frontal = torch.tensor([0.0, 0.0, 1.0], device=light.device, dtype=light.dtype).expand(B, 3)
        shading = self._shading(normal, a, b, frontal)
        return ((canon_im_raw / 2 + 0.5) / (shading + 1e-8)) * 2 - 1

    def estimate(self, w: torch.Tensor) -> Estimate:
        """LiftedGAN.estimate on input styles ``w [B,D]`` (already truncated)."""
        _, light, view = self.netSD(w)
        # neutral light keeps ambient/diffuse strength and zeroes the direction; neutral view is 0. Zeroed by
        # multiplication as the official does: in training the heads then get (zero) gradients, which Adam's
        # coupled weight decay acts on even when no loss uses them.
        light_neutral = torch.cat((light[:, :2], light[:, 2:] * 0.0), 1)
        neutral = self.netSC(w, light_neutral, 0 * view)
        canon_im_raw, feat = self.generator.synthesis(neutral)
        depth = self.process_depth(self.netD(neutral, feat))
        trans = self.process_trans_map(self.netT(neutral), depth)
        albedo = self.delight(canon_im_raw, depth, light_neutral) if self.config.generator_texture else canon_im_raw
        return Estimate(light, view, neutral, canon_im_raw, depth, trans, albedo)

    @staticmethod
    def _shading(normal: torch.Tensor, a: torch.Tensor, b: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """``a + b * max(0, n . d)`` ``[B,1,H,W]`` from normals ``[B,H,W,3]``, a, b ``[B,1]``, d ``[B,3]``."""
        diffuse = (normal * direction.view(-1, 1, 1, 3)).sum(3).clamp(min=0).unsqueeze(1)
        return a.view(-1, 1, 1, 1) + b.view(-1, 1, 1, 1) * diffuse

    def shade(self, est: Estimate, light: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Vertex colours ``canon_im [B,3,H,W]``, shading ``[B,1,H,W]`` and normals ``[B,H,W,3]`` for ``light [B,4]``."""
        a = light[:, :1] / 2 + 0.5
        b = light[:, 1:2] / 2 + 0.5
        d = torch.cat((light[:, 2:], torch.ones_like(light[:, :1])), 1)
        d = d / ((d**2).sum(1, keepdim=True)) ** 0.5
        normal = geo.normals_from_depth(est.canon_depth, self.inv_K)
        shading = self._shading(normal, a, b, d)
        canon_im = ((est.canon_albedo / 2 + 0.5) * shading) * 2 - 1
        return canon_im, shading, normal

    def mesh(self, est: Estimate, view: torch.Tensor, trans_map: torch.Tensor | None = None,
             mesh_depth: torch.Tensor | None = None) -> torch.Tensor:
        """The vertices ``[B,H*W,3]`` handed to the rasteriser for un-scaled ``view [B,6]``.

        ``mesh_depth [B,H,W]`` replaces the estimate's depth for the vertices only (training passes a copy
        whose gradient is clipped at silhouettes; shading keeps the plain depth)."""
        cfg = self.config
        scaled = geo.scale_view(view, cfg.xyz_rotation_range, cfg.xy_translation_range, cfg.z_translation_range)
        R, t = geo.transform_from_view(scaled)
        T = est.trans_map if trans_map is None else trans_map
        depth = est.canon_depth if mesh_depth is None else mesh_depth
        return geo.mesh_vertices(depth, T, R, t, self.inv_K, cfg.rot_center_depth)

    def render(self, est: Estimate, view: torch.Tensor | None = None, light: torch.Tensor | None = None,
               trans_map: torch.Tensor | None = None, mesh_depth: torch.Tensor | None = None) -> gan3d.GeneratorOutput:
        """LiftedGAN.render: shade, warp and rasterise. ``view``/``light`` default to the estimate's;
        ``mesh_depth``: see :meth:`mesh`."""
        view = est.view if view is None else view.to(est.view)
        light = est.light if light is None else light.to(est.light)
        canon_im, shading, normal = self.shade(est, light)
        verts = self.mesh(est, view, trans_map, mesh_depth)
        B, _, H, W = canon_im.shape
        colours = canon_im.permute(0, 2, 3, 1).reshape(B, H * W, 3)
        out = self.mesh_renderer.render_camera_space(Mesh(verts, self.faces, colours), self.config.fov, H)
        empty = self.mesh_renderer.empty_depth
        recon = out.features
        return gan3d.GeneratorOutput(
            image=recon.clamp(-1, 1), image_raw=recon, depth=out.depth, mask=(out.depth < empty).to(recon.dtype),
            extras={"canon_depth": est.canon_depth[:, None], "canon_albedo": est.canon_albedo,
                    "canon_shading": shading, "canon_normal": normal.permute(0, 3, 1, 2), "canon_im": canon_im,
                    "canon_im_raw": est.canon_im_raw, "trans_map": est.trans_map if trans_map is None else trans_map,
                    "light": light, "view": view})


# ---------------------------------------------------------------------- camera and edits
# gan3d's frontal camera (Camera.orbit(0, 0)) has cam2world rotation diag(1, -1, -1): LiftedGAN's
# canonical frame is that camera's OpenCV frame.
_FRONTAL = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))


def camera_rotation(camera: Camera) -> torch.Tensor:
    """Rotation ``[B,3,3]`` (float64) that turns the face in LiftedGAN's camera frame so that it looks as
    seen from ``camera``: ``R = R_cam^T R_frontal`` (the face sits at the orbit's centre)."""
    Rc = camera.cam2world[:, :3, :3].double().cpu()
    return Rc.transpose(1, 2) @ _FRONTAL


def camera_to_view(camera: Camera, rotation_range: float = 60.0) -> torch.Tensor:
    """gan3d cameras -> LiftedGAN view parameters ``[B,6]`` (the un-scaled units the networks emit).

    The rotation :func:`camera_rotation` is decomposed as LiftedGAN composes it (``Rz Ry Rx``) and divided
    by the ±60° range. The translations follow the official pose tool: ``tx = 0.1 sin(v_ry)``,
    ``ty = -0.2 sin(v_rx)``, ``tz = 0`` (they keep the turned face centred). Radius and field of view
    are not used: LiftedGAN's camera is fixed (FOV 10°, pivot at depth 1).

    Sign check: ``Camera.orbit(yaw > 0)`` turns the face to the image's left in EG3D; here it gives
    ``ry > 0``, which moves the nose (at -z from the pivot) towards -x, also the image's left.
    """
    R = camera_rotation(camera)
    ry = torch.asin((-R[:, 2, 0]).clamp(-1, 1))
    rx = torch.atan2(R[:, 2, 1], R[:, 2, 2])
    rz = torch.atan2(R[:, 1, 0], R[:, 0, 0])
    deg = torch.stack((rx, ry, rz), 1) * (180 / math.pi) / rotation_range
    v = torch.zeros(R.shape[0], 6, dtype=torch.float64)
    v[:, :3] = deg
    v[:, 3] = 0.1 * torch.sin(v[:, 1])
    v[:, 4] = -0.2 * torch.sin(v[:, 0])
    return v.float().to(camera.device)


def pose_sweep_view(kind: str, angle_deg: float, batch: int, rotation_range: float = 60.0) -> torch.Tensor:
    """The view ``[B,6]`` tools/generate_poses.py builds for ``angle_deg`` (``kind`` 'yaw' or 'pitch').

    Yaw: ``(0, -a/60, 0, 0.1 sin(v1), -0.2 sin(v0), 0)``; pitch: ``(a/60, 0, 0, ...)`` with the same
    translation rule (the official tool takes the sine of the normalised values).
    """
    v = torch.zeros(batch, 6)
    if kind == "yaw":
        v[:, 1] = -angle_deg / rotation_range
    elif kind == "pitch":
        v[:, 0] = angle_deg / rotation_range
    else:
        raise InputError(f"pose sweep kind must be 'yaw' or 'pitch', got {kind!r}")
    v[:, 3] = 0.1 * torch.sin(v[:, 1])
    v[:, 4] = -0.2 * torch.sin(v[:, 0])
    return v


def relight_vector(angle_deg: float, batch: int) -> torch.Tensor:
    """tools/generate_lighting.py's light ``[B,4]``: ``(0.2, 0.8, tan a, 0)`` (ambient 0.6, diffuse 0.9)."""
    light = torch.zeros(batch, 4)
    light[:, 0], light[:, 1] = 0.2, 0.8
    light[:, 2] = math.tan(angle_deg * math.pi / 180)
    return light


def normal_to_image(normal: torch.Tensor) -> torch.Tensor:
    """Normals ``[B,3,H,W]`` in [-1,1] -> a displayable image in [-1,1] (x right, y up, z towards viewer)."""
    return normal * torch.tensor([1.0, -1.0, -1.0], device=normal.device).view(1, 3, 1, 1)


__all__ = ["Estimate", "LiftedGAN", "LiftedGANArchitecture", "LiftedGANConfig", "camera_rotation", "camera_to_view",
           "normal_to_image", "pose_sweep_view", "relight_vector"]
