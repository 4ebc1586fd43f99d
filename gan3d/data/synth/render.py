"""Rendering the head world with the core's mesh rasteriser: image, semantic mask and depth.

Heads are rasterised at ``supersample`` times the output size and box-filtered down, because the
rasteriser draws hard, aliased edges (one face per pixel). Shading is Lambert with an ambient term,
per pixel from interpolated normals, two-sided (a normal facing away from the camera is flipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...errors import InputError
from ...render.mesh import interpolate_vertex_attributes, project_intrinsics, rasterize
from .heads import MASK_CLASSES, build_heads
from .world import Scenes

RESOLUTIONS = (64, 128, 256)


@dataclass
class Rendered:
    """``B`` rendered samples at ``R x R``.

    image: ``[B,3,R,R]`` uint8 RGB.
    mask:  ``[B,R,R]`` uint8 class ids in :data:`~gan3d.data.synth.heads.MASK_CLASSES` order.
    depth: ``[B,R,R]`` float32 camera z (world units, about 2.2 to 2.9) on the head, 0 on the background.
    """

    image: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor


def _vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals ``[B,V,3]`` (orientation arbitrary: shading is two-sided)."""
    v0, v1, v2 = (verts[:, faces[:, k]] for k in range(3))
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)
    n = torch.zeros_like(verts)
    for k in range(3):
        n.index_add_(1, faces[:, k], fn)
    return F.normalize(n, dim=-1, eps=1e-12)


def render(scenes: Scenes, resolution: int, supersample: int = 2) -> Rendered:
    """Render ``scenes`` at ``resolution`` (one of :data:`RESOLUTIONS`, or any size >= 16)."""
    res = int(resolution)
    if res < 16:
        raise InputError(f"resolution must be at least 16 pixels, got {resolution!r}")
    S = res * int(supersample)
    mesh = build_heads(scenes)
    B = len(scenes)
    cam = scenes.camera()
    w2c = torch.linalg.inv(cam.cam2world.double()).float()
    R, t = w2c[:, :3, :3], w2c[:, :3, 3]
    pts = mesh.verts @ R.transpose(1, 2) + t[:, None]
    normals = _vertex_normals(mesh.verts, mesh.faces) @ R.transpose(1, 2)
    ndc, z = project_intrinsics(pts, cam.intrinsics)
    # back-face culling: a one-sided face turned away from the camera becomes degenerate, which the
    # rasteriser drops before looking at any pixel (about halves the work: the far side of every part)
    v0, v1, v2 = (pts[:, mesh.faces[:, k]] for k in range(3))
    away = (torch.cross(v1 - v0, v2 - v0, dim=-1) * v0).sum(-1) > 0
    faces = torch.where((away & mesh.one_sided)[..., None], 0, mesh.faces)
    frags = rasterize(ndc, z, faces, S, S)
    attrs = torch.cat((mesh.albedo, normals, pts), -1)
    pix = interpolate_vertex_attributes(frags, faces, attrs)  # [B,S,S,9]
    albedo, n, p = pix[..., :3], F.normalize(pix[..., 3:6], dim=-1, eps=1e-12), pix[..., 6:9]
    n = torch.where(((n * p).sum(-1, keepdim=True) > 0), -n, n)
    light = (scenes.light.float()[:, None, :] @ R.transpose(1, 2))[:, 0]  # [B,3] in camera axes
    amb = scenes.ambient.float()[:, None, None, None]
    lambert = (n * light[:, None, None, :]).sum(-1, keepdim=True).clamp_min(0)
    colour = albedo * (amb + (1 - amb) * 1.15 * lambert)

    rows = torch.linspace(0, 1, S)[None, :, None, None]
    bg = scenes.background.float()
    back = bg[:, None, None, 0] * (1 - rows) + bg[:, None, None, 1] * rows  # [B,S,1,3]
    covered = frags.mask[..., None]
    colour = torch.where(covered, colour, back.expand(B, S, S, 3))

    cls = torch.where(frags.mask, mesh.face_class[frags.pix_to_face.clamp_min(0)], 0)
    f = int(supersample)
    image = F.avg_pool2d(colour.permute(0, 3, 1, 2), f)
    votes = F.avg_pool2d(F.one_hot(cls, len(MASK_CLASSES)).permute(0, 3, 1, 2).float(), f)
    mask = votes.argmax(1)
    cov = F.avg_pool2d(frags.mask[:, None].float(), f)[:, 0]
    zsum = F.avg_pool2d(torch.where(frags.mask, frags.zbuf, 0.0)[:, None], f)[:, 0]
    depth = torch.where(mask > 0, zsum / cov.clamp_min(1e-6), 0.0)
    return Rendered(image=(image.clamp(0, 1) * 255).round().to(torch.uint8), mask=mask.to(torch.uint8),
                    depth=depth.float())
