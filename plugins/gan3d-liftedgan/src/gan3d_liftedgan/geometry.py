"""LiftedGAN's depth-map geometry: lifting, normals, the view's rigid warp and the grid mesh.

Camera space is OpenCV's (x right, y down, z forward from a camera at the origin); pixel ``(row v,
col u)`` lifts to ``depth * K^-1 (u, v, 1)`` with LiftedGAN's intrinsics ``f = (S-1)/2 / tan(fov/2)``,
``c = (S-1)/2``. Every function keeps the official order of floating-point operations, so the
outputs match the authors' code bit for bit on CPU.
"""

from __future__ import annotations

import math

import torch


def intrinsics(size: int, fov_degrees: float = 10.0, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``K`` and ``K^-1`` ``[3,3]`` float32 (the inverse computed by torch in float32, as the official code)."""
    f = (size - 1) / 2 / math.tan(fov_degrees / 2 * math.pi / 180)
    c = (size - 1) / 2
    K = torch.tensor([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]], dtype=torch.float32, device=device)
    return K, torch.inverse(K)


def pixel_grid(batch: int, height: int, width: int, device=None) -> torch.Tensor:
    """``[B,H,W,2]`` float32 pixel coordinates ``(x = column, y = row)``."""
    rows, cols = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device),
                                indexing="ij")
    return torch.stack((cols, rows), -1).float()[None].repeat(batch, 1, 1, 1)


def depth_to_3d(depth: torch.Tensor, inv_K: torch.Tensor) -> torch.Tensor:
    """Lift ``depth [B,H,W]`` to camera-space points ``[B,H,W,3]``."""
    B, H, W = depth.shape
    grid = pixel_grid(B, H, W, depth.device)
    d = depth.unsqueeze(-1)
    pts = torch.cat((grid, torch.ones_like(d)), dim=3)
    return pts.matmul(inv_K.to(depth.dtype)[None].transpose(2, 1)) * d


def normals_from_depth(depth: torch.Tensor, inv_K: torch.Tensor) -> torch.Tensor:
    """Unit normals ``[B,H,W,3]`` of the lifted depth ``[B,H,W]`` (pointing away from the camera).

    Interior pixels sum the four cross products of neighbour differences (left/up/right/down); the
    one-pixel border replicates its nearest interior value; then ``n / (|n| + 1e-7)``.
    """
    p = depth_to_3d(depth, inv_K)
    c = p[:, 1:-1, 1:-1]
    left = p[:, 1:-1, :-2] - c
    up = p[:, :-2, 1:-1] - c
    right = p[:, 1:-1, 2:] - c
    down = p[:, 2:, 1:-1] - c
    n = (torch.cross(left, up, dim=3) + torch.cross(up, right, dim=3) + torch.cross(right, down, dim=3)
         + torch.cross(down, left, dim=3))
    n = torch.nn.functional.pad(n.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="replicate").permute(0, 2, 3, 1)
    return n / (((n**2).sum(3, keepdim=True)) ** 0.5 + 1e-7)


def rotation_matrix(rx: torch.Tensor, ry: torch.Tensor, rz: torch.Tensor) -> torch.Tensor:
    """``R = Rz Ry Rx`` ``[B,3,3]`` from angles ``[B]`` (radians), standard right-handed rotations."""
    B = rx.shape[0]
    mx = torch.zeros(B, 3, 3, dtype=rx.dtype, device=rx.device)
    my, mz = torch.zeros_like(mx), torch.zeros_like(mx)
    mx[:, 0, 0] = 1
    mx[:, 1, 1], mx[:, 1, 2] = rx.cos(), -rx.sin()
    mx[:, 2, 1], mx[:, 2, 2] = rx.sin(), rx.cos()
    my[:, 1, 1] = 1
    my[:, 0, 0], my[:, 0, 2] = ry.cos(), ry.sin()
    my[:, 2, 0], my[:, 2, 2] = -ry.sin(), ry.cos()
    mz[:, 2, 2] = 1
    mz[:, 0, 0], mz[:, 0, 1] = rz.cos(), -rz.sin()
    mz[:, 1, 0], mz[:, 1, 1] = rz.sin(), rz.cos()
    return torch.matmul(mz, torch.matmul(my, mx))


def scale_view(view: torch.Tensor, rotation_range: float = 60.0, xy_range: float = 0.1,
               z_range: float = 0.01) -> torch.Tensor:
    """Network view ``[B,6]`` in (-1,1) -> (rx, ry, rz radians, tx, ty, tz scene units)."""
    return torch.cat((view[:, :3] * math.pi / 180 * rotation_range, view[:, 3:5] * xy_range,
                      view[:, 5:] * z_range), dim=1)


def transform_from_view(view_scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled view ``[B,6]`` -> rotation ``[B,3,3]`` and translation ``[B,1,3]``."""
    B = view_scaled.shape[0]
    R = rotation_matrix(view_scaled[:, 0], view_scaled[:, 1], view_scaled[:, 2])
    return R, view_scaled[:, 3:].reshape(B, 1, 3)


def warp_points(pts: torch.Tensor, R: torch.Tensor, t: torch.Tensor, pivot_depth: float = 1.0) -> torch.Tensor:
    """Rotate ``pts [B,N,3]`` about ``(0, 0, pivot_depth)`` by ``R [B,3,3]``, then add ``t [B,1,3]``."""
    centre = torch.tensor([0.0, 0.0, pivot_depth], dtype=pts.dtype, device=pts.device).view(1, 1, 3)
    pts = pts - centre
    pts = pts.matmul(R.transpose(2, 1))
    pts = pts + centre
    return pts + t


def mesh_vertices(depth: torch.Tensor, trans_map: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                  inv_K: torch.Tensor, pivot_depth: float = 1.0) -> torch.Tensor:
    """The vertices LiftedGAN hands to the rasteriser: ``[B,H*W,3]`` in row-major pixel order.

    Each lifted pixel moves by the rigid warp in proportion to the transformation map ``[B,1,H,W]``:
    ``T * warped + (1 - T) * canonical`` (T = 0 leaves the background where it was).
    """
    B, H, W = depth.shape
    canon = depth_to_3d(depth, inv_K)
    warped = warp_points(canon.reshape(B, -1, 3), R, t, pivot_depth).reshape(B, H, W, 3)
    m = trans_map.permute(0, 2, 3, 1)
    verts = m * warped + (1 - m) * canon
    return verts.reshape(B, -1, 3)
