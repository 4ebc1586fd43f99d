"""One camera for every model.

A :class:`Camera` is a batch of pinhole cameras: ``cam2world [B,4,4]`` in OpenCV axes (camera x right,
y down, z forward, the camera looks along its +z) in a y-up world, and *normalised* ``intrinsics
[B,3,3]`` (focal length and principal point in units of the image size, as in EG3D's labels).

Angles follow EG3D's ``LookAtPoseSampler`` so that a gan3d camera equals the one the authors' scripts
build: :meth:`Camera.orbit` with ``yaw, pitch`` is ``LookAtPoseSampler.sample(pi/2 + yaw, pi/2 + pitch)``.

* ``yaw`` (radians) turns the camera about the world y axis (the orbit is centred on the world origin). **Positive yaw moves
  the camera towards world +x**, which is the right-hand side of the frontal image (the subject's own
  left); the face then appears turned towards the image's left.
* ``pitch`` is EG3D's vertical parameter: the camera height is ``-2 r pitch / pi`` (its true
  elevation is ``asin(-2 pitch / pi)``). **Positive pitch moves the camera down** (looking up at the
  face); EG3D's three-view layout uses ``pitch = -0.2`` (slightly from above).
* ``yaw = pitch = 0`` is the frontal view: the camera sits on +z looking towards -z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .errors import InputError, check_shape

# EG3D's FOV_to_intrinsics uses these truncated constants; keeping them reproduces its labels exactly.
_EG3D_PI = 3.14159
_EG3D_SQRT2 = 1.414


def fov_to_focal(fov_degrees: float) -> float:
    """Normalised focal length for a field of view, exactly as EG3D's ``FOV_to_intrinsics``.

    EG3D divides by ``tan(fov/2) * 1.414`` (not 2), so 18.837 degrees gives 4.26339.
    """
    fov = float(fov_degrees)
    if not math.isfinite(fov) or not 0.0 < fov < 180.0:
        raise InputError(f"fov_degrees must be in (0, 180), got {fov_degrees!r}")
    return 1.0 / (math.tan(fov * _EG3D_PI / 360.0) * _EG3D_SQRT2)


def focal_to_fov(focal: float) -> float:
    """Inverse of :func:`fov_to_focal` (degrees)."""
    return math.atan(1.0 / (float(focal) * _EG3D_SQRT2)) * 360.0 / _EG3D_PI


def normalized_intrinsics(focal: float, principal: tuple[float, float] = (0.5, 0.5)) -> torch.Tensor:
    """``[3,3]`` normalised intrinsics with focal ``focal`` (units of image size)."""
    return torch.tensor(
        [[focal, 0.0, principal[0]], [0.0, focal, principal[1]], [0.0, 0.0, 1.0]], dtype=torch.float32
    )


def _as_batch(value, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(t).all():
        raise InputError(f"{name} must be finite numbers, got {value!r}")
    return t


def look_at_cam2world(origin: torch.Tensor, look_at: torch.Tensor) -> torch.Tensor:
    """``[B,4,4]`` cam2world matrices for cameras at ``origin [B,3]`` looking at ``look_at [B,3]``.

    Same construction as EG3D's ``create_cam2world_matrix``: columns are (right, up, forward) with
    ``right = -normalize(cross(y, forward))`` and ``up = normalize(cross(forward, right))``, which in
    OpenCV terms makes the camera's +y point down in a y-up world.
    """
    forward = torch.nn.functional.normalize(look_at - origin, dim=-1)
    world_up = torch.zeros_like(forward)
    world_up[:, 1] = 1.0
    right = -torch.nn.functional.normalize(torch.cross(world_up, forward, dim=-1), dim=-1)
    up = torch.nn.functional.normalize(torch.cross(forward, right, dim=-1), dim=-1)
    m = torch.eye(4, dtype=origin.dtype).repeat(origin.shape[0], 1, 1)
    m[:, :3, :3] = torch.stack((right, up, forward), dim=-1)
    m[:, :3, 3] = origin
    return m


class Camera:
    """A batch of ``B`` cameras: ``cam2world [B,4,4]`` (OpenCV axes) and normalised ``intrinsics [B,3,3]``."""

    def __init__(self, cam2world: torch.Tensor, intrinsics: torch.Tensor):
        cam2world = torch.as_tensor(cam2world)
        intrinsics = torch.as_tensor(intrinsics)
        if cam2world.ndim == 2:
            cam2world = cam2world[None]
        if intrinsics.ndim == 2:
            intrinsics = intrinsics[None].expand(cam2world.shape[0], 3, 3)
        check_shape("cam2world", cam2world, (None, 4, 4))
        check_shape("intrinsics", intrinsics, (None, 3, 3))
        if cam2world.shape[0] != intrinsics.shape[0]:
            raise InputError(
                f"cam2world and intrinsics need the same batch size, got {cam2world.shape[0]} and "
                f"{intrinsics.shape[0]}"
            )
        if not (torch.isfinite(cam2world).all() and torch.isfinite(intrinsics).all()):
            raise InputError("camera matrices contain NaN or infinity")
        self.cam2world = cam2world.float()
        self.intrinsics = intrinsics.float()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def orbit(
        cls,
        yaw: float | Sequence[float] | torch.Tensor = 0.0,
        pitch: float | Sequence[float] | torch.Tensor = 0.0,
        radius: float = 2.7,
        fov_degrees: float | None = None,
        look_at: Sequence[float] = (0.0, 0.0, 0.0),
        focal: float | None = None,
    ) -> "Camera":
        """Cameras on a sphere of ``radius`` about the world origin, each looking at ``look_at``.

        As in EG3D, the sphere is centred on the origin, not on ``look_at`` (FFHQ looks at the pivot
        (0, 0, 0.2) from 2.7 units off the origin). See the module docstring for the angles.

        ``yaw`` and ``pitch`` are radians, scalars or sequences (broadcast against each other). Give the
        field of view either as ``fov_degrees`` (EG3D's formula, :func:`fov_to_focal`) or directly as a
        normalised ``focal``; with neither, FFHQ's 18.837 degrees is used.
        """
        yaw_t, pitch_t = torch.broadcast_tensors(_as_batch(yaw, "yaw"), _as_batch(pitch, "pitch"))
        if (pitch_t.abs() > math.pi / 2).any():
            raise InputError(f"pitch must lie in [-pi/2, pi/2] radians (EG3D's vertical range), got {pitch!r}")
        r = float(radius)
        if not math.isfinite(r) or r <= 0:
            raise InputError(f"radius must be a positive finite number, got {radius!r}")
        if fov_degrees is not None and focal is not None:
            raise InputError("give either fov_degrees or focal, not both")
        if focal is None:
            focal = fov_to_focal(18.837 if fov_degrees is None else fov_degrees)
        elif not (math.isfinite(float(focal)) and float(focal) > 0):
            raise InputError(f"focal must be a positive finite number, got {focal!r}")
        target = _as_batch(look_at, "look_at")
        if target.numel() != 3:
            raise InputError(f"look_at must be 3 numbers, got {list(look_at)!r}")

        # EG3D: theta = pi/2 + yaw, phi = arccos(1 - 2 v / pi) with v = pi/2 + pitch clamped to (0, pi).
        theta = math.pi / 2 + yaw_t
        v = torch.clamp(math.pi / 2 + pitch_t, 1e-5, math.pi - 1e-5)
        phi = torch.arccos(1 - 2 * v / math.pi)
        origin = torch.stack(
            (
                r * torch.sin(phi) * torch.cos(math.pi - theta),
                r * torch.cos(phi),
                r * torch.sin(phi) * torch.sin(math.pi - theta),
            ),
            dim=-1,
        )
        c2w = look_at_cam2world(origin, target.expand_as(origin))
        return cls(c2w, normalized_intrinsics(float(focal)).expand(c2w.shape[0], 3, 3).clone())

    @classmethod
    def from_eg3d_label(cls, label: torch.Tensor) -> "Camera":
        """From EG3D's 25-number labels ``[B,25]``: row-major cam2world (16) then intrinsics (9)."""
        label = torch.as_tensor(label, dtype=torch.float32)
        if label.ndim == 1:
            label = label[None]
        check_shape("EG3D camera label", label, (None, 25), "16 numbers of cam2world then 9 of intrinsics")
        return cls(label[:, :16].reshape(-1, 4, 4), label[:, 16:].reshape(-1, 3, 3))

    @classmethod
    def cat(cls, cameras: Sequence["Camera"]) -> "Camera":
        """Concatenate batches of cameras."""
        if not cameras:
            raise InputError("Camera.cat needs at least one camera")
        return cls(
            torch.cat([c.cam2world.to(cameras[0].device) for c in cameras]),
            torch.cat([c.intrinsics.to(cameras[0].device) for c in cameras]),
        )

    # ------------------------------------------------------------------ conversions
    def to_eg3d_label(self) -> torch.Tensor:
        """EG3D's 25-number label ``[B,25]``."""
        return torch.cat((self.cam2world.reshape(-1, 16), self.intrinsics.reshape(-1, 9)), dim=1)

    def flip_yaw(self) -> "Camera":
        """The mirrored camera (EG3D's ``flip_yaw``): negate entries [0,1],[0,2],[1,0],[2,0],[0,3]."""
        m = self.cam2world.clone()
        for i, j in ((0, 1), (0, 2), (1, 0), (2, 0), (0, 3)):
            m[:, i, j] = -m[:, i, j]
        return Camera(m, self.intrinsics.clone())

    @property
    def origin(self) -> torch.Tensor:
        """Camera centres ``[B,3]``."""
        return self.cam2world[:, :3, 3]

    @property
    def focal(self) -> torch.Tensor:
        """Normalised focal lengths ``[B]`` (fx)."""
        return self.intrinsics[:, 0, 0]

    def yaw_pitch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Recover ``(yaw, pitch) [B]`` in :meth:`orbit`'s convention from the camera centres."""
        d = self.origin.double()
        r = d.norm(dim=-1)
        yaw = torch.atan2(d[:, 0], d[:, 2])
        pitch = -(math.pi / 2) * (d[:, 1] / r)  # inverse of phi = arccos(-2 pitch / pi)
        return yaw.float(), pitch.float()

    # ------------------------------------------------------------------ batch handling
    @property
    def device(self) -> torch.device:
        return self.cam2world.device

    def to(self, device: torch.device | str) -> "Camera":
        return Camera(self.cam2world.to(device), self.intrinsics.to(device))

    def __len__(self) -> int:
        return self.cam2world.shape[0]

    def __getitem__(self, index) -> "Camera":
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Camera(self.cam2world[index], self.intrinsics[index])

    def repeat(self, n: int) -> "Camera":
        """Each camera repeated ``n`` times in a row: ``[c0, c0, ..., c1, c1, ...]``."""
        return Camera(self.cam2world.repeat_interleave(n, 0), self.intrinsics.repeat_interleave(n, 0))

    def expand(self, batch: int) -> "Camera":
        """A single camera broadcast to ``batch``; a batch of the right size is returned unchanged."""
        if len(self) == batch:
            return self
        if len(self) != 1:
            raise InputError(f"cannot broadcast {len(self)} cameras to a batch of {batch}")
        return self.repeat(batch)

    def __repr__(self) -> str:
        yaw, pitch = self.yaw_pitch()
        return f"Camera(B={len(self)}, yaw={yaw.tolist()}, pitch={pitch.tolist()}, focal={self.focal.tolist()})"
