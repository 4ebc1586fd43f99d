"""gan3d.Camera -> LiftedGAN view, with the sign conventions checked geometrically against EG3D's camera."""

from __future__ import annotations

import math

import pytest
import torch

from gan3d import Camera
from gan3d_liftedgan import geometry as geo
from gan3d_liftedgan.model import camera_to_view


def eg3d_offset(camera: Camera, nose=(0.0, 0.0, 0.2)) -> torch.Tensor:
    """Image-space offset ``[B,2]`` (columns, rows; normalised units) of a nose tip from the face centre,
    seen by gan3d/EG3D cameras (OpenCV cam2world, world y up, the face looking along world +z)."""
    w2c = torch.linalg.inv(camera.cam2world.double())
    K = camera.intrinsics.double()

    def project(p):
        ph = torch.tensor([*p, 1.0], dtype=torch.float64)
        c = (w2c @ ph)[:, :3]
        uv = (K @ c[..., None])[..., 0]
        return uv[:, :2] / uv[:, 2:]

    return project(nose) - project((0.0, 0.0, 0.0))


def liftedgan_offset(view: torch.Tensor) -> torch.Tensor:
    """The same offset in LiftedGAN: a depth map with a nose (depth 0.8 at the centre pixel, 1.0 around),
    warped with ``view [B,6]`` (T = 1) and projected with LiftedGAN's intrinsics; centre = the pivot's pixel."""
    B, S = view.shape[0], 17
    depth = torch.ones(B, S, S)
    depth[:, S // 2, S // 2] = 0.8
    K, inv_K = geo.intrinsics(S, 10)
    R, t = geo.transform_from_view(geo.scale_view(view))
    verts = geo.mesh_vertices(depth, torch.ones(B, 1, S, S), R, t, inv_K).reshape(B, S, S, 3)
    flat = geo.mesh_vertices(torch.ones(B, S, S), torch.ones(B, 1, S, S), R, t, inv_K).reshape(B, S, S, 3)

    def project(p):
        uv = p @ K.T
        return uv[:, :2] / uv[:, 2:]

    return project(verts[:, S // 2, S // 2]) - project(flat[:, S // 2, S // 2])


@pytest.mark.parametrize("yaw,pitch", [(0.4, 0.0), (-0.4, 0.0), (0.0, 0.25), (0.0, -0.25), (0.3, -0.2)])
def test_same_request_turns_the_face_the_same_way(yaw, pitch):
    cam = Camera.orbit(yaw, pitch, radius=2.7, fov_degrees=18.837)
    eg = eg3d_offset(cam)
    lg = liftedgan_offset(camera_to_view(cam))
    for axis in range(2):
        if abs(eg[0, axis]) > 1e-6:
            assert torch.sign(eg[0, axis]) == torch.sign(lg[0, axis]), (axis, eg, lg)
        else:
            assert abs(lg[0, axis]) < 1e-4
    # the nose's direction of travel matches (the zoom differs: LiftedGAN's camera is its own)
    cos = torch.nn.functional.cosine_similarity(eg.float(), lg.float()).item()
    assert cos > 0.99


def test_yaw_left_and_magnitudes():
    """Positive yaw (camera to world +x) turns the face to the image's left: the nose moves to smaller columns."""
    cam = Camera.orbit(math.radians(30), 0.0)
    v = camera_to_view(cam)
    assert v[0, 1].item() * 60 == pytest.approx(30.0, abs=1e-4)  # ry in degrees
    assert v[0, 0].abs().item() < 1e-6 and v[0, 2].abs().item() < 1e-6
    assert v[0, 3].item() == pytest.approx(0.1 * math.sin(0.5), abs=1e-6)  # the official tool's x shift
    assert liftedgan_offset(v)[0, 0] < 0
    # pitch: gan3d's parameter p puts the camera at elevation asin(-2p/pi); LiftedGAN gets rx of that size
    p = 0.3
    v = camera_to_view(Camera.orbit(0.0, p))
    assert v[0, 0].item() * 60 == pytest.approx(-math.degrees(math.asin(2 * p / math.pi)), abs=1e-3)
    assert liftedgan_offset(v)[0, 1] < 0  # camera below -> nose up


def test_official_yaw_sweep_sign():
    """tools/generate_poses.py's 'angle' is the negative of gan3d's yaw: v1 = -angle/60."""
    from gan3d_liftedgan.model import pose_sweep_view

    official = pose_sweep_view("yaw", -30.0, 1)
    ours = camera_to_view(Camera.orbit(math.radians(30), 0.0))
    assert torch.allclose(official, ours, atol=1e-6)


def test_frontal_is_zero_view_and_batch():
    cams = Camera.orbit([0.0, 0.2, -0.2], 0.0)
    v = camera_to_view(cams)
    assert v.shape == (3, 6)
    assert v[0].abs().max() < 1e-6
    assert torch.allclose(v[1, :3], -v[2, :3], atol=1e-6)
