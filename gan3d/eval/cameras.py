"""Camera distributions for evaluation: fixed lists, Gaussian around frontal, uniform ranges, dataset labels.

All angles are :meth:`gan3d.Camera.orbit` radians (positive yaw: camera towards world +x, the face
turns towards the image's left; positive pitch: camera lower). Every distribution draws the camera of
sample ``i`` from its own random stream (``numpy.random.default_rng([seed, i])``), so a draw does not
depend on batch size, sample count or sharding: the first 100 of 1000 samples are the 100 samples.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from ..camera import Camera
from ..cards import CameraDefaults
from ..errors import InputError


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: True when the draw uses the seed (False for fixed lists).
    random: bool = Field(default=True, exclude=True)

    def describe(self) -> dict[str, Any]:
        """What goes into a :class:`~gan3d.eval.protocol.Protocol` (no local paths)."""
        return self.model_dump(mode="json")

    def yaw_pitch(self, indices: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(yaw [N], pitch [N])`` radians for sample ``indices [N]``."""
        raise NotImplementedError

    def sample(self, indices, seed: int, camera: CameraDefaults) -> tuple[Camera, torch.Tensor, torch.Tensor]:
        """Cameras for sample ``indices [N]``: ``(Camera [N], yaw [N], pitch [N])``, orbiting with ``camera``'s
        radius, focal and look-at point."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        yaw, pitch = self.yaw_pitch(idx, seed)
        yaw_t, pitch_t = torch.as_tensor(yaw, dtype=torch.float32), torch.as_tensor(pitch, dtype=torch.float32)
        if len(idx) == 0:
            return Camera(torch.zeros(0, 4, 4), torch.zeros(0, 3, 3)), yaw_t, pitch_t
        return camera.orbit(yaw_t, pitch_t), yaw_t, pitch_t


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index)])


class FixedCameras(_Dist):
    """A fixed list of ``(yaw, pitch)`` poses, cycled: sample ``i`` gets pose ``i % len(poses)``."""

    kind: Literal["fixed"] = "fixed"
    poses: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    random: bool = Field(default=False, exclude=True)

    @field_validator("poses")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("a fixed camera list needs at least one (yaw, pitch) pose")
        return v

    def yaw_pitch(self, indices: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        poses = np.asarray(self.poses, dtype=np.float64)
        sel = poses[np.asarray(indices) % len(poses)]
        return sel[:, 0], sel[:, 1]


class GaussianCameras(_Dist):
    """Yaw and pitch drawn from independent Gaussians around frontal (EG3D's ``GaussianCameraPoseSampler``;
    EG3D and its successors use yaw std 0.3 rad and pitch std 0.155 rad). Pitch is clamped to the sphere."""

    kind: Literal["gaussian"] = "gaussian"
    yaw_mean: float = 0.0
    yaw_std: float = Field(0.3, ge=0)
    pitch_mean: float = 0.0
    pitch_std: float = Field(0.155, ge=0)

    def yaw_pitch(self, indices: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        draws = np.stack([_rng(seed, i).standard_normal(2) for i in indices]) if len(indices) else np.zeros((0, 2))
        yaw = self.yaw_mean + self.yaw_std * draws[:, 0]
        pitch = np.clip(self.pitch_mean + self.pitch_std * draws[:, 1], -math.pi / 2 + 1e-5, math.pi / 2 - 1e-5)
        return yaw, pitch


class UniformCameras(_Dist):
    """Yaw and pitch uniform in ``[lo, hi]`` ranges (radians)."""

    kind: Literal["uniform"] = "uniform"
    yaw: tuple[float, float] = (-0.5, 0.5)
    pitch: tuple[float, float] = (-0.25, 0.25)

    @field_validator("yaw", "pitch")
    @classmethod
    def _ordered(cls, v):
        if v[0] > v[1]:
            raise ValueError(f"range {v} has its low end above its high end")
        return v

    def yaw_pitch(self, indices: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        u = np.stack([_rng(seed, i).random(2) for i in indices]) if len(indices) else np.zeros((0, 2))
        return (self.yaw[0] + (self.yaw[1] - self.yaw[0]) * u[:, 0],
                self.pitch[0] + (self.pitch[1] - self.pitch[0]) * u[:, 1])


def read_dataset_labels(path: str | Path) -> tuple[np.ndarray, str]:
    """EG3D ``dataset.json`` camera labels ``[N,25]`` and the sha256 of the json text.

    ``path`` is the json file, a folder holding ``dataset.json`` or an EG3D dataset zip.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "dataset.json"
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                try:
                    raw = zf.read("dataset.json")
                except KeyError:
                    raise InputError(f"{path} holds no dataset.json with camera labels (EG3D's dataset format)") from None
        elif path.is_file():
            raw = path.read_bytes()
        else:
            raise InputError(f"camera labels {str(path)!r} do not exist; give EG3D's dataset.json, its folder or its zip")
    except zipfile.BadZipFile:
        raise InputError(f"{path} is not a zip file") from None
    try:
        labels = json.loads(raw)["labels"]
        arr = np.asarray([lab[1] if isinstance(lab, (list, tuple)) and len(lab) == 2 else lab for lab in labels],
                         dtype=np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not EG3D's dataset.json format ({{'labels': [[name, [25 numbers]], ...]}}): {e}") from None
    if arr.ndim != 2 or arr.shape[1] != 25 or len(arr) == 0:
        raise InputError(f"{path}: camera labels must be 25 numbers each (16 cam2world, 9 intrinsics), "
                         f"got an array of shape {list(arr.shape)}")
    import hashlib

    return arr, hashlib.sha256(raw).hexdigest()


class DatasetCameras(_Dist):
    """Cameras drawn uniformly (with replacement) from the labels of an EG3D-format dataset.

    The cameras are the labels themselves (cam2world and intrinsics); yaw/pitch are recovered from the
    camera centres (:meth:`gan3d.Camera.yaw_pitch`, orbit centred on the origin). ``path`` is not part of the protocol, ``sha256`` of the labels is.
    """

    kind: Literal["dataset"] = "dataset"
    path: str = Field(exclude=True)
    sha256: str = ""
    count: int = 0
    _labels: np.ndarray | None = PrivateAttr(default=None)

    @classmethod
    def from_path(cls, path: str | Path) -> "DatasetCameras":
        labels, digest = read_dataset_labels(path)
        dist = cls(path=str(path), sha256=digest, count=len(labels))
        dist._labels = labels
        return dist

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels, _ = read_dataset_labels(self.path)
        return self._labels

    def label_indices(self, indices: np.ndarray, seed: int) -> np.ndarray:
        n = len(self.labels)
        return np.asarray([_rng(seed, i).integers(n) for i in indices], dtype=np.int64)

    def sample(self, indices, seed: int, camera: CameraDefaults) -> tuple[Camera, torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        cams = Camera.from_eg3d_label(torch.from_numpy(self.labels[self.label_indices(idx, seed)]).float())
        yaw, pitch = cams.yaw_pitch()
        return cams, yaw, pitch

    def yaw_pitch(self, indices: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise InputError("dataset cameras are whole camera labels; use sample()")


CameraDistribution = Annotated[Union[FixedCameras, GaussianCameras, UniformCameras, DatasetCameras],
                               Field(discriminator="kind")]


def camera_distribution(spec: str | dict | _Dist, dataset: str | Path | None = None) -> _Dist:
    """A distribution from a name (``gaussian``, ``frontal``, ``uniform``, ``dataset``), a dict or itself.

    ``dataset`` is the labels' source for ``"dataset"`` (EG3D dataset.json, its folder or zip).
    """
    if isinstance(spec, _Dist):
        return spec
    if isinstance(spec, dict):
        kind = spec.get("kind")
        cls = {"fixed": FixedCameras, "gaussian": GaussianCameras, "uniform": UniformCameras}.get(kind)
        if kind == "dataset":
            return DatasetCameras.from_path(spec.get("path") or dataset)
        if cls is None:
            raise InputError(f"unknown camera distribution kind {kind!r}; use fixed, gaussian, uniform or dataset")
        return cls(**{k: v for k, v in spec.items()})
    name = str(spec).lower()
    if name == "gaussian":
        return GaussianCameras()
    if name == "frontal":
        return FixedCameras()
    if name == "uniform":
        return UniformCameras()
    if name == "dataset":
        if dataset is None:
            raise InputError("--cameras dataset needs the dataset (EG3D dataset.json, its folder or zip); pass it with --ref")
        return DatasetCameras.from_path(dataset)
    raise InputError(f"unknown camera distribution {spec!r}; use gaussian, frontal, uniform or dataset")
