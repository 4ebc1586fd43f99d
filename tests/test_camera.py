import math

import numpy as np
import pytest
import torch

import gan3d
from gan3d.camera import fov_to_focal, focal_to_fov
from shared_fixtures import fixture_dir


def eg3d_look_at(h, v, lookat, radius):
    """EG3D's published LookAtPoseSampler + create_cam2world_matrix, transcribed from the formulas (numpy)."""
    theta = h
    v = np.clip(v, 1e-5, math.pi - 1e-5)
    phi = np.arccos(1 - 2 * v / math.pi)
    origin = radius * np.array([np.sin(phi) * np.cos(math.pi - theta), np.cos(phi),
                                np.sin(phi) * np.sin(math.pi - theta)])
    fwd = np.asarray(lookat) - origin
    fwd /= np.linalg.norm(fwd)
    right = -np.cross([0, 1, 0], fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    up /= np.linalg.norm(up)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, up, fwd, origin
    return m


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (0.4, -0.2), (-0.3, 0.1), (1.2, 0.3)])
def test_orbit_matches_eg3d_look_at_pose_sampler(yaw, pitch):
    cam = gan3d.Camera.orbit(yaw, pitch, radius=2.7, look_at=(0, 0, 0.2), fov_degrees=18.837)
    ref = eg3d_look_at(math.pi / 2 + yaw, math.pi / 2 + pitch, (0, 0, 0.2), 2.7)
    np.testing.assert_allclose(cam.cam2world[0].numpy(), ref, atol=1e-6)


def test_fov_formula_is_eg3d_s():
    # FOV_to_intrinsics: 1 / (tan(fov * 3.14159 / 360) * 1.414) -> 4.26339 for 18.837 degrees
    assert fov_to_focal(18.837) == pytest.approx(4.26339, abs=1e-5)
    assert focal_to_fov(fov_to_focal(30.0)) == pytest.approx(30.0)
    cam = gan3d.Camera.orbit(focal=4.2647)
    assert torch.allclose(cam.intrinsics[0], torch.tensor([[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1.0]]))


def test_frontal_camera_looks_down_minus_z_with_y_down():
    cam = gan3d.Camera.orbit(0.0, 0.0, radius=2.0)
    m = cam.cam2world[0]
    assert torch.allclose(m[:3, 3], torch.tensor([0.0, 0.0, 2.0]), atol=1e-6)  # on +z
    assert torch.allclose(m[:3, 2], torch.tensor([0.0, 0.0, -1.0]), atol=1e-6)  # looks towards -z
    assert torch.allclose(m[:3, 1], torch.tensor([0.0, -1.0, 0.0]), atol=1e-6)  # camera y is world down
    assert torch.allclose(m[:3, 0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)   # camera x is world +x


def test_sign_of_yaw_and_pitch_is_as_documented():
    right = gan3d.Camera.orbit(0.5, 0.0).origin[0]
    assert right[0] > 0.5  # positive yaw: camera towards world +x = the frontal image's right
    below = gan3d.Camera.orbit(0.0, 0.3).origin[0]
    assert below[1] < -0.1  # positive pitch: camera below the face
    # the same point (world +x) projects to the image's right half from the frontal camera
    cam = gan3d.Camera.orbit(0.0, 0.0)
    p = torch.tensor([0.3, 0.0, 0.0, 1.0])
    pc = torch.linalg.inv(cam.cam2world[0]) @ p
    u = cam.intrinsics[0, 0, 0] * pc[0] / pc[2] + 0.5
    assert u > 0.5


def test_yaw_pitch_round_trip_and_flip():
    cam = gan3d.Camera.orbit([0.3, -0.7, 0.0], [0.1, -0.2, 0.0], radius=2.7, look_at=(0, 0, 0.2))
    yaw, pitch = cam.yaw_pitch()
    assert torch.allclose(yaw, torch.tensor([0.3, -0.7, 0.0]), atol=1e-5)
    assert torch.allclose(pitch, torch.tensor([0.1, -0.2, 0.0]), atol=1e-5)
    flipped = gan3d.Camera.orbit(0.4, 0.1).flip_yaw()
    assert torch.allclose(flipped.cam2world, gan3d.Camera.orbit(-0.4, 0.1).cam2world, atol=1e-6)


def test_label_round_trip_indexing_and_cat():
    cam = gan3d.Camera.orbit([0.1, 0.2, 0.3], 0.0)
    again = gan3d.Camera.from_eg3d_label(cam.to_eg3d_label())
    assert torch.equal(again.cam2world, cam.cam2world) and cam.to_eg3d_label().shape == (3, 25)
    both = gan3d.Camera.cat([cam[0], cam[2]])
    assert len(both) == 2 and torch.equal(both.cam2world[1], cam.cam2world[2])
    assert len(cam[1:]) == 2 and len(cam[-1]) == 1
    assert len(cam[0].expand(5)) == 5


def test_bad_camera_input_is_a_clear_error():
    with pytest.raises(gan3d.InputError, match="radius"):
        gan3d.Camera.orbit(0.0, 0.0, radius=float("nan"))
    with pytest.raises(gan3d.InputError, match="radius"):
        gan3d.Camera.orbit(0.0, 0.0, radius=-1)
    with pytest.raises(gan3d.InputError, match=r"\[B, 25\]"):
        gan3d.Camera.from_eg3d_label(torch.zeros(2, 24))
    with pytest.raises(gan3d.InputError, match="yaw"):
        gan3d.Camera.orbit(float("inf"))
    with pytest.raises(gan3d.InputError, match="broadcast"):
        gan3d.Camera.orbit([0.0, 1.0]).expand(3)


def test_matches_the_labels_the_official_eg3d_code_produced():
    io = torch.load(fixture_dir("eg3d/ffhq512-128") / "io.pt", weights_only=True)
    kw = dict(radius=2.7, look_at=(0, 0, 0.2), fov_degrees=18.837)
    frontal = gan3d.Camera.orbit(0.0, 0.0, **kw).to_eg3d_label()
    assert torch.allclose(frontal[0], io["c"][0], atol=1e-6)
    render = gan3d.Camera.orbit([0.4, -0.3], [-0.2, 0.1], **kw).to_eg3d_label()
    assert torch.allclose(render, io["c_cam"], atol=1e-6)


def test_pitch_outside_eg3ds_vertical_range_is_an_error_not_a_silent_clamp():
    with pytest.raises(gan3d.InputError, match="pitch must lie"):
        gan3d.Camera.orbit(0.0, 3.0)
