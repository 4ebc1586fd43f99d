"""Between :class:`gan3d.Camera` and CNeRF's unit-sphere camera.

CNeRF (like StyleSDF) places the camera on the unit sphere at azimuth ``a`` and elevation ``e``
(radians): position ``(cos e sin a, sin e, cos e cos a)``, looking at the origin with world +y up,
half field of view 6 degrees, and samples each ray between the fixed depths ``1 - 0.12`` and
``1 + 0.12``. The face looks towards +z, as in EG3D, and the camera frames agree once OpenGL's
(x right, y up, looking along -z) is turned into OpenCV's (x right, y down, looking along +z).

So a gan3d camera at ``Camera.orbit(yaw, pitch)`` is CNeRF's camera at azimuth ``yaw`` and elevation
``asin(-2 pitch / pi)`` (gan3d's pitch is EG3D's height parameter; positive pitch moves the camera
down): the same requested yaw turns a CNeRF face the same way as an EG3D face.
"""

from __future__ import annotations

import math

import torch

import gan3d
from gan3d.errors import InputError

HALF_FOV_DEGREES = 6.0
DIST_RADIUS = 0.12


def focal_from_half_fov(half_fov_degrees: float = HALF_FOV_DEGREES) -> float:
    """Normalised focal (units of image size) of CNeRF's pinhole: ``0.5 / tan(half_fov)``."""
    if not 0.0 < half_fov_degrees < 90.0:
        raise InputError(f"half field of view must be in (0, 90) degrees, got {half_fov_degrees}")
    return 0.5 / math.tan(math.radians(half_fov_degrees))


def pitch_from_elevation(elevation: torch.Tensor | float) -> torch.Tensor:
    """CNeRF elevation (radians, positive = camera above the face) -> gan3d pitch."""
    return -(math.pi / 2) * torch.sin(torch.as_tensor(elevation, dtype=torch.float64))


def elevation_from_pitch(pitch: torch.Tensor | float) -> torch.Tensor:
    """gan3d pitch -> CNeRF elevation (radians)."""
    return torch.asin(torch.clamp(-2.0 / math.pi * torch.as_tensor(pitch, dtype=torch.float64), -1.0, 1.0))


def camera_from_angles(azimuth, elevation, half_fov_degrees: float = HALF_FOV_DEGREES) -> gan3d.Camera:
    """CNeRF's camera(s) at ``azimuth``/``elevation`` (radians, scalars or ``[B]``) as a gan3d Camera."""
    az = torch.as_tensor(azimuth, dtype=torch.float64).reshape(-1)
    el = torch.as_tensor(elevation, dtype=torch.float64).reshape(-1)
    return gan3d.Camera.orbit(az, pitch_from_elevation(el), radius=1.0, focal=focal_from_half_fov(half_fov_degrees))


def angles_from_camera(camera: gan3d.Camera) -> tuple[torch.Tensor, torch.Tensor]:
    """``(azimuth [B], elevation [B])`` of the cameras' centres seen from the origin (radians)."""
    p = camera.origin.double()
    r = p.norm(dim=-1).clamp_min(1e-12)
    return torch.atan2(p[:, 0], p[:, 2]).float(), torch.asin((p[:, 1] / r).clamp(-1, 1)).float()


def to_cnerf_camera(camera: gan3d.Camera, half_fov_degrees: float = HALF_FOV_DEGREES) -> gan3d.Camera:
    """The camera CNeRF renders for ``camera``: same direction from the origin, on the unit sphere,
    looking at the origin, with CNeRF's field of view.

    CNeRF's scene lives between fixed depths 0.88 and 1.12 from a unit-distance camera, so the
    distance, look-at point and focal length of ``camera`` cannot be honoured; only its direction is.
    """
    az, el = angles_from_camera(camera)
    return camera_from_angles(az, el, half_fov_degrees).to(camera.device)


def official_extrinsics(camera: gan3d.Camera) -> torch.Tensor:
    """The official code's ``[B,3,4]`` cam2world (OpenGL axes: camera y up, looking along -z)."""
    m = camera.cam2world[:, :3, :].clone()
    m[:, :, 1:3] = -m[:, :, 1:3]
    return m
