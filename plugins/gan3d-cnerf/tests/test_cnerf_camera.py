"""gan3d.Camera <-> CNeRF's unit-sphere camera, and the yaw direction shared with EG3D."""

from __future__ import annotations

import math

import torch

import gan3d
from gan3d_cnerf.camera import (angles_from_camera, camera_from_angles, elevation_from_pitch, focal_from_half_fov,
                                official_extrinsics, pitch_from_elevation, to_cnerf_camera)


def official_cam2world(azim: float, elev: float) -> torch.Tensor:
    """The official construction, written out: unit-sphere position, z = position, x = up x z, y = z x x."""
    pos = torch.tensor([math.cos(elev) * math.sin(azim), math.sin(elev), math.cos(elev) * math.cos(azim)])
    z = pos / pos.norm()
    x = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0]), z)
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    return torch.cat([torch.stack([x, y, z], 1), pos[:, None]], 1)


def test_angles_round_trip_and_match_the_official_extrinsics():
    az, el = torch.tensor([-0.45, 0.0, 0.3]), torch.tensor([0.12, -0.2, 0.0])
    cam = camera_from_angles(az, el)
    a2, e2 = angles_from_camera(cam)
    assert torch.allclose(a2, az, atol=1e-6) and torch.allclose(e2, el, atol=1e-6)
    for i in range(3):
        assert torch.allclose(official_extrinsics(cam)[i], official_cam2world(float(az[i]), float(el[i])), atol=1e-6)
    assert torch.allclose(cam.origin.norm(dim=-1), torch.ones(3), atol=1e-6)
    assert abs(float(cam.focal[0]) * 64 - 0.5 * 64 / math.tan(math.radians(6))) < 1e-3
    assert torch.allclose(elevation_from_pitch(pitch_from_elevation(el)), el.double(), atol=1e-9)


def test_any_camera_is_turned_into_the_unit_sphere_camera_with_the_same_direction():
    eg3d_like = gan3d.Camera.orbit([0.5, -0.3], [0.1, -0.2], radius=2.7, focal=4.26)
    cam = to_cnerf_camera(eg3d_like)
    assert torch.allclose(cam.origin.norm(dim=-1), torch.ones(2), atol=1e-6)
    assert torch.allclose(torch.nn.functional.normalize(eg3d_like.origin, dim=-1), cam.origin, atol=1e-6)
    assert torch.allclose(cam.focal, torch.full((2,), focal_from_half_fov(6.0)))
    # gan3d yaw/pitch survive the conversion
    y0, p0 = eg3d_like.yaw_pitch()
    y1, p1 = cam.yaw_pitch()
    assert torch.allclose(y0, y1, atol=1e-5) and torch.allclose(p0, p1, atol=1e-5)


def test_positive_yaw_moves_the_camera_to_world_x_like_eg3d_and_positive_pitch_moves_it_down():
    cam = camera_from_angles(0.4, 0.0)
    eg3d = gan3d.Camera.orbit(0.4, 0.0, radius=1.0)
    assert float(cam.origin[0, 0]) > 0 and float(eg3d.origin[0, 0]) > 0  # towards +x in both
    assert torch.allclose(cam.cam2world[:, :3, :3], eg3d.cam2world[:, :3, :3], atol=1e-6)
    low = to_cnerf_camera(gan3d.Camera.orbit(0.0, 0.3))
    _, elev = angles_from_camera(low)
    assert float(elev) < 0  # below the face


def test_rendered_points_lie_on_the_rays_of_the_requested_camera(small_generator, official_io):
    """Each pixel's expected surface point projects back onto that pixel through the gan3d camera, and
    positive yaw turns the face (looking along +z, as in EG3D) towards the image's left."""
    G = small_generator
    w = G.mapping(official_io["inputs"]["z"][:1], truncation_psi=0.7).repeat(2, 1, 1)
    cams = gan3d.Camera.orbit([-0.35, 0.35], 0.1, radius=1.0, focal=G.card.camera.focal)
    res = 16
    with torch.no_grad():
        out = G.synthesize(w, cams, resolution=res, num_samples=12, decode=False)
    xyz = out.extras["xyz"].permute(0, 2, 3, 1).reshape(2, -1, 3)
    world2cam = torch.linalg.inv(cams.cam2world)
    pc = (world2cam[:, None, :3, :3] @ xyz.unsqueeze(-1)).squeeze(-1) + world2cam[:, None, :3, 3]
    K = cams.intrinsics
    u = (K[:, None, 0, 0] * pc[..., 0] / pc[..., 2] + K[:, None, 0, 2]) * res - 0.5
    v = (K[:, None, 1, 1] * pc[..., 1] / pc[..., 2] + K[:, None, 1, 2]) * res - 0.5
    jj, ii = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="xy")
    assert torch.allclose(u, jj.reshape(1, -1).float().expand(2, -1), atol=1e-3)
    assert torch.allclose(v, ii.reshape(1, -1).float().expand(2, -1), atol=1e-3)
    # depth = camera z of those points
    assert torch.allclose(out.depth.reshape(2, -1), pc[..., 2], atol=1e-5)
    # a point in front of the face (the nose tip at +z) lands left of the image centre for +yaw and
    # right of it for -yaw: the face turns towards the image's left, as gan3d.Camera documents for EG3D
    p = torch.tensor([0.0, 0.0, 0.08])
    pc = (world2cam[:, :3, :3] @ p) + world2cam[:, :3, 3]
    assert float(pc[1, 0]) < 0 < float(pc[0, 0])
