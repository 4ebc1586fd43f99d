"""A triangle mesh from the surface point map (as the official ``xyz2mesh``, on the regular pixel grid)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gan3d.io import atomic_write


def grid_faces(h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Two triangles per pixel quad ``[2(h-1)(w-1),3]`` over row-major vertices, wound so that normals
    face the camera (rows go down the image, columns to the right)."""
    idx = torch.arange(h * w, device=device).reshape(h, w)
    a, b = idx[:-1, :-1], idx[1:, :-1]  # (row, col), (row+1, col)
    c, d = idx[:-1, 1:], idx[1:, 1:]    # (row, col+1), (row+1, col+1)
    return torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([b, d, c], -1).reshape(-1, 3)])


def grid_mesh(xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Point maps ``xyz [B,3,h,w]`` -> vertices ``[B,h*w,3]`` and faces ``[B,F,3]`` (int64, same for all)."""
    B, _, h, w = xyz.shape
    verts = xyz.permute(0, 2, 3, 1).reshape(B, h * w, 3)
    faces = grid_faces(h, w, xyz.device).unsqueeze(0).expand(B, -1, -1)
    return verts, faces


def save_obj(path: str | os.PathLike, vertices: torch.Tensor, faces: torch.Tensor) -> Path:
    """Write one mesh (``vertices [V,3]``, ``faces [F,3]``, 0-based) as a Wavefront OBJ, atomically."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices.detach().cpu().tolist()]
    lines += [f"f {i + 1} {j + 1} {k + 1}" for i, j, k in faces.cpu().tolist()]
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
