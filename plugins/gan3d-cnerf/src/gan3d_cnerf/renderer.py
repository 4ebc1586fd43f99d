"""The compositional radiance field and its volume rendering.

K local generators are evaluated at every sample point and fused with their own raw mask logits
(no softmax): colour logit ``sum_k m_k rgb_k``, feature ``sum_k m_k f_k``, SDF
``init(x) + sum_k sdf_k``. The fused SDF becomes a density (StyleSDF) and is composited along the rays
with the core's plain alpha compositing (:mod:`gan3d.render.volume`); the per-class mask logits are
composited with the same weights into the low-resolution semantic mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import gan3d
from gan3d.render.volume import alpha_weights, composite, offset_depths, ray_grid, sdf_to_density

from .siren import LocalGenerator, PreparedGenerators, evaluate_stacked

# points per step of the inference field on CPU: its [K,B,P,W] intermediates (9 MiB at 9 classes x 128)
# are reused from block to block instead of being freshly allocated (and page-faulted) at 270 MB a pass.
# Other devices take the whole chunk at once (small blocks would starve a GPU).
QUERY_BLOCK = 2048


@dataclass
class FieldSamples:
    """Fused field values at ``P`` points of ``B`` samples.

    rgb ``[B,P,3]`` colour logits, sdf ``[B,P,1]``, feature ``[B,P,W]`` (None when not needed),
    masks ``[B,P,K]`` raw mask logits, region_rgb ``[B,P,K,3]`` each class's own ``m_k rgb_k`` (only
    when asked for), region_feature ``[B,P,K,W]`` each class's ``m_k f_k`` (only when asked for).
    """

    rgb: torch.Tensor
    sdf: torch.Tensor
    feature: torch.Tensor | None
    masks: torch.Tensor
    region_rgb: torch.Tensor | None = None
    region_feature: torch.Tensor | None = None


def cnerf_rays(camera: gan3d.Camera, resolution: int):
    """CNeRF's rays through the pixel centres: ``(origins, unit directions, directions, their norms)``,
    ``[B,M,3]`` x 3 and ``[B,M,1]`` (row-major pixels). The directions have unit length along the
    optical axis, and depths are measured along them."""
    origins, unit_dirs = ray_grid(camera, resolution)
    forward = camera.cam2world[:, :3, 2]
    cos = (unit_dirs * forward[:, None]).sum(-1, keepdim=True)
    return origins, unit_dirs, unit_dirs / cos, 1.0 / cos


class CompositionalRenderer(nn.Module):
    """``sigmoid_beta``, ``network.{0..K-1}`` and the frozen ``init_network`` (official key names)."""

    def __init__(self, num_classes: int = 9, width: int = 128, style_dim: int = 256, depth: int = 3):
        super().__init__()
        self.num_classes, self.width, self.depth = num_classes, width, depth
        self.sigmoid_beta = nn.Parameter(0.1 * torch.ones(1))
        self.network = nn.ModuleList([LocalGenerator(width, style_dim, depth) for _ in range(num_classes)])
        self.init_network = LocalGenerator(width, style_dim, depth)

    @property
    def codes_per_class(self) -> int:
        return self.depth + 2

    def class_codes(self, codes: torch.Tensor, k: int) -> torch.Tensor:
        """Class ``k``'s layer codes ``[B,depth+2,S]`` from the expanded codes ``[B,K*(depth+2),S]``."""
        n = self.codes_per_class
        return codes[:, k * n:(k + 1) * n]

    def init_sdf(self, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The frozen sphere-like SDF ``[B,P,1]``, driven by class 0's (background's) codes."""
        with torch.no_grad():  # frozen after the sphere initialisation, as in the official renderer
            return self.init_network.sdf(points, viewdirs, self.class_codes(codes, 0).detach())

    def query(self, points: torch.Tensor, viewdirs: torch.Tensor, codes: torch.Tensor,
              semantics: list[int] | None = None, with_features: bool = True,
              with_regions: bool = False, with_region_features: bool = False) -> FieldSamples:
        """Fused field at ``points [B,P,3]`` (network coordinates) seen along ``viewdirs [B,P,3]``.

        ``semantics``: classes whose features enter the fused feature (None = all); colour, SDF and
        masks always use every class, as the official renderer does.
        """
        B, P = points.shape[:2]
        per_class = codes.reshape(B, self.num_classes, self.codes_per_class, codes.shape[-1])
        if not torch.is_grad_enabled() and not (with_regions or with_region_features):
            return self._query_inference(points, viewdirs, per_class, semantics, with_features)
        sdf = self.init_sdf(points, viewdirs, codes)
        rgb_k, sdf_k, f_k, m_k = evaluate_stacked(self.network, points, viewdirs, per_class)  # [K,B,P,*]
        weighted = m_k * rgb_k
        feature = None
        if with_features:
            sel = range(self.num_classes) if semantics is None else [k for k in semantics]
            if sel:
                feature = (m_k[list(sel)] * f_k[list(sel)]).sum(0)
            else:  # an empty subset renders no features
                feature = points.new_zeros(B, P, self.width)
        return FieldSamples(weighted.sum(0), sdf + sdf_k.sum(0), feature, m_k[..., 0].permute(1, 2, 0),
                            weighted.permute(1, 2, 0, 3) if with_regions else None,
                            (m_k * f_k).permute(1, 2, 0, 3) if with_region_features else None)

    def _query_inference(self, points: torch.Tensor, viewdirs: torch.Tensor, per_class: torch.Tensor,
                         semantics: list[int] | None, with_features: bool) -> FieldSamples:
        """:meth:`query` for inference (no autograd, no per-region outputs): the stacked operands built
        once per latent (:class:`PreparedGenerators`), the points in blocks of :data:`QUERY_BLOCK`, the
        fusion written into preallocated outputs. Same values up to float rounding."""
        B, P = points.shape[:2]
        K = self.num_classes
        gens = PreparedGenerators(self.network, per_class)
        init = PreparedGenerators([self.init_network], per_class[:, :1])  # driven by class 0's codes
        sel = None if semantics is None else list(semantics)
        rgb = points.new_empty(B, P, 3)
        sdf = points.new_empty(B, P, 1)
        masks = points.new_empty(B, P, K)
        feature = points.new_zeros(B, P, self.width) if with_features else None
        step = QUERY_BLOCK if points.device.type == "cpu" else P
        for s in range(0, P, step):
            e = min(P, s + step)
            p, v = points[:, s:e], viewdirs[:, s:e]
            rgb_k, sdf_k, f_k, m_k = gens(p, v)  # [K,B,p,*]
            torch.sum(rgb_k.mul_(m_k), 0, out=rgb[:, s:e])
            torch.add(init.sdf(p, v)[0], sdf_k.sum(0), out=sdf[:, s:e])
            masks[:, s:e] = m_k[..., 0].permute(1, 2, 0)
            if with_features and (sel is None or sel):
                f_k.mul_(m_k)
                torch.sum(f_k if sel is None else f_k[sel], 0, out=feature[:, s:e])
        return FieldSamples(rgb, sdf, feature, masks)

    def render(self, codes: torch.Tensor, camera: gan3d.Camera, resolution: int, num_samples: int,
               near: float, far: float, semantics: list[int] | None = None, static_viewdirs: bool = True,
               z_normalize: bool = True, perturb: bool = False, chunk: int | None = None,
               with_features: bool = True, with_regions: bool = False, with_region_features: bool = False,
               return_sdf: bool = False, jitter: torch.Tensor | None = None, return_eikonal: bool = False) -> dict:
        """Volume-render ``codes [B,K*(depth+2),S]`` from ``camera`` (CNeRF's unit-sphere camera).

        Returns maps ``[B,C,res,res]``: ``rgb`` (in [-1,1]), ``seg`` (K), ``features`` (W), ``xyz`` (world
        points), ``last_weight`` (1), ``opacity`` (weights before the last sample), optionally
        ``regions [B,K,3,res,res]``, ``region_features [B,K,W,res,res]`` (each class's composited
        ``m_k f_k``: features are linear in the classes, so any subset's map is a sum of these) and
        ``sdf [B,res,res,N,1]``. ``chunk`` = rays per pass (bounds memory).

        Training: ``jitter [B,res,res]`` in ``[0,1)`` shifts all samples of each ray by that fraction of
        their spacing (the official per-ray perturbation, with the offsets supplied so they are
        replayable; ``perturb`` draws them here instead). ``return_eikonal`` adds ``eikonal
        [B,res,res,N,3]``: the gradient of the fused SDF w.r.t. the **world** sample points, kept in the
        graph (the init SDF is evaluated without gradient, so it is the residual sum's gradient).
        """
        origins, unit_dirs, rays_d, ray_norm = cnerf_rays(camera, resolution)
        B, M = origins.shape[:2]
        c2w = camera.cam2world[:, :3, :3]
        if static_viewdirs:
            # camera-frame direction in the official (OpenGL) axes: OpenCV frame with y and z negated
            cam = torch.einsum("bji,bmj->bmi", c2w, unit_dirs)
            viewdirs = cam * torch.tensor([1.0, -1.0, -1.0], device=cam.device)
        else:
            viewdirs = unit_dirs
        depths = offset_depths(origins, near, far, num_samples, jitter=perturb and jitter is None)  # [B,M,N,1]
        if jitter is not None:
            upper = torch.cat((depths[:, :, 1:], torch.full_like(depths[:, :, :1], far)), dim=2)
            depths = depths + (upper - depths) * jitter.reshape(B, M, 1, 1).to(depths)
        scale = 2.0 / (far - near) if z_normalize else 1.0
        chunk = M if not chunk else int(chunk)

        outs: dict[str, list[torch.Tensor]] = {}
        for s in range(0, M, chunk):
            sl = slice(s, s + chunk)
            o, d, t, v = origins[:, sl], rays_d[:, sl], depths[:, sl], viewdirs[:, sl]
            m, N = o.shape[1], num_samples
            pts = o.unsqueeze(2) + d.unsqueeze(2) * t  # [B,m,N,3] world points
            if return_eikonal:  # a leaf, as in the official renderer: the gradient is w.r.t. world points
                pts = pts.detach().requires_grad_(True)
            vd = v.unsqueeze(2).expand(-1, -1, N, -1).reshape(B, m * N, 3)
            f = self.query((pts * scale).reshape(B, m * N, 3), vd, codes, semantics, with_features, with_regions,
                           with_region_features)
            density = sdf_to_density(f.sdf, self.sigmoid_beta).reshape(B, m, N, 1)
            w = alpha_weights(density, t, ray_scale=ray_norm[:, sl])  # [B,m,N,1]
            part = {
                "rgb": -1 + 2 * composite(w, torch.sigmoid(f.rgb.reshape(B, m, N, 3))),
                "seg": composite(w, f.masks.reshape(B, m, N, -1)),
                "xyz": composite(w, pts),
                "last_weight": w[:, :, -1],
                "opacity": w[:, :, :-1].sum(2),
            }
            if with_features:
                part["features"] = composite(w, f.feature.reshape(B, m, N, -1))
            if with_regions:
                reg = torch.sigmoid(f.region_rgb.reshape(B, m, N, -1))  # [B,m,N,K*3]
                part["regions"] = -1 + 2 * composite(w, reg)
            if with_region_features:
                part["region_features"] = composite(w, f.region_feature.reshape(B, m, N, -1))
            if return_sdf:
                part["sdf"] = f.sdf.reshape(B, m, N, 1)
            if return_eikonal:
                grad, = torch.autograd.grad(f.sdf, pts, torch.ones_like(f.sdf), create_graph=True)
                part["eikonal"] = grad
            for key, val in part.items():
                outs.setdefault(key, []).append(val)

        res = resolution
        maps = {}
        for key, vals in outs.items():
            val = torch.cat(vals, 1)  # [B,M,...]
            if key in ("sdf", "eikonal"):
                maps[key] = val.reshape(B, res, res, num_samples, -1)
            elif key in ("regions", "region_features"):
                maps[key] = val.reshape(B, res, res, self.num_classes, -1).permute(0, 3, 4, 1, 2).contiguous()
            else:
                maps[key] = val.permute(0, 2, 1).reshape(B, -1, res, res).contiguous()
        return maps
