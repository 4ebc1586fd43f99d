"""The distributions of the synthetic head world: identity, expression, light and camera.

Every sample ``i`` of a world with seed ``s`` draws its identity from the random stream
``(s, 0, i)`` and its scene (smile, light, camera, background) from ``(s, 1, i)``, so a sample does not
depend on how many others are drawn with it or in which batch: ``num=2000`` starts with the same 1000
samples as ``num=1000``, and the same identity can be re-rendered under any other view.

Identity id ``i`` is the sample index (one identity per sample, as in FFHQ); :func:`identities` draws
identities by id for evaluations that need several views of one person.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...camera import Camera
from ...errors import InputError

# EG3D's FFHQ camera: orbit radius, look-at pivot and normalised focal length.
RADIUS = 2.7
PIVOT = (0.0, 0.0, 0.2)
FOCAL = 4.2647

# Identity parameters: (name, low, high). Shape factors are relative to an average adult head; colours
# are linear RGB albedos in [0, 1]. ``glasses`` is 0 or 1.
IDENTITY_PARAMS: tuple[tuple[str, float, float], ...] = (
    ("head_width", 0.92, 1.08),
    ("face_length", 0.93, 1.07),
    ("jaw_width", 0.80, 0.95),
    ("chin", 0.7, 1.3),
    ("nose_length", 0.88, 1.12),
    ("nose_width", 0.85, 1.25),
    ("nose_height", 0.8, 1.2),
    ("eye_spacing", 0.94, 1.06),
    ("eye_size", 0.9, 1.12),
    ("brow_height", 0.85, 1.2),
    ("brow_thickness", 0.8, 1.4),
    ("mouth_width", 0.9, 1.1),
    ("lip_thickness", 0.75, 1.25),
    ("ear_size", 0.85, 1.15),
    ("hair_coverage", 0.0, 1.0),
    ("hair_length", 0.0, 1.0),
    ("glasses", 0.0, 1.0),
    ("skin_r", 0.0, 1.0), ("skin_g", 0.0, 1.0), ("skin_b", 0.0, 1.0),
    ("hair_r", 0.0, 1.0), ("hair_g", 0.0, 1.0), ("hair_b", 0.0, 1.0),
    ("iris_r", 0.0, 1.0), ("iris_g", 0.0, 1.0), ("iris_b", 0.0, 1.0),
    ("cloth_r", 0.0, 1.0), ("cloth_g", 0.0, 1.0), ("cloth_b", 0.0, 1.0),
    ("frame_r", 0.0, 1.0), ("frame_g", 0.0, 1.0), ("frame_b", 0.0, 1.0),
)
IDENTITY_NAMES: tuple[str, ...] = tuple(p[0] for p in IDENTITY_PARAMS)
_INDEX = {n: i for i, n in enumerate(IDENTITY_NAMES)}

# Skin tones from light to dark (albedo), interpolated by one tone parameter.
_SKIN = np.array([[0.93, 0.78, 0.68], [0.86, 0.64, 0.52], [0.72, 0.50, 0.36], [0.50, 0.33, 0.23],
                  [0.33, 0.21, 0.15]])
_HAIR = np.array([[0.06, 0.05, 0.05], [0.18, 0.11, 0.07], [0.35, 0.22, 0.12], [0.70, 0.55, 0.32],
                  [0.55, 0.22, 0.10], [0.62, 0.62, 0.60]])
_HAIR_P = np.array([0.3, 0.3, 0.17, 0.1, 0.05, 0.08])
_IRIS = np.array([[0.22, 0.12, 0.06], [0.35, 0.22, 0.10], [0.25, 0.40, 0.60], [0.30, 0.42, 0.28],
                  [0.10, 0.07, 0.05]])
_CLOTH = np.array([[0.1, 0.1, 0.12], [0.85, 0.85, 0.85], [0.15, 0.2, 0.45], [0.5, 0.1, 0.1],
                   [0.2, 0.4, 0.25], [0.5, 0.45, 0.4]])


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stream, int(index)])


def _draw_identity(rng: np.random.Generator) -> np.ndarray:
    v = np.empty(len(IDENTITY_PARAMS))
    for k, (_, lo, hi) in enumerate(IDENTITY_PARAMS):
        v[k] = lo + (hi - lo) * rng.random()
    v[_INDEX["glasses"]] = float(rng.random() < 0.15)
    v[_INDEX["hair_coverage"]] **= 0.6  # more full heads of hair than bald ones
    tone = rng.random() * (len(_SKIN) - 1)
    lo = int(tone)
    skin = _SKIN[lo] + (tone - lo) * (_SKIN[min(lo + 1, len(_SKIN) - 1)] - _SKIN[lo])
    skin = skin * (1 + 0.04 * rng.standard_normal(3))
    hair = _HAIR[rng.choice(len(_HAIR), p=_HAIR_P)] * (1 + 0.15 * rng.standard_normal()) * (1 + 0.04 * rng.standard_normal(3))
    iris = _IRIS[rng.integers(len(_IRIS))] * (1 + 0.1 * rng.standard_normal(3))
    cloth = _CLOTH[rng.integers(len(_CLOTH))] * (1 + 0.2 * rng.standard_normal(3))
    frame = np.full(3, 0.05 + 0.3 * rng.random()) * (1 + 0.2 * rng.standard_normal(3))
    for name, rgb in (("skin", skin), ("hair", hair), ("iris", iris), ("cloth", cloth), ("frame", frame)):
        for c, value in zip("rgb", rgb):
            v[_INDEX[f"{name}_{c}"]] = float(np.clip(value, 0.0, 1.0))
    return v


def identities(ids: Sequence[int], seed: int = 0) -> torch.Tensor:
    """Identity parameter vectors ``[B,P]`` float64 (columns :data:`IDENTITY_NAMES`) for identity ``ids``."""
    return torch.from_numpy(np.stack([_draw_identity(_rng(seed, 0, i)) for i in ids]))


@dataclass
class Scenes:
    """A batch of ``B`` scenes: who, with what expression, under which light, seen from where.

    identity:   ``[B,P]`` float64 identity parameters (:data:`IDENTITY_NAMES`).
    identity_id ``[B]`` int64.
    smile:      ``[B]`` in ``[0,1]`` (0 neutral, 1 a wide smile with the teeth showing).
    light:      ``[B,3]`` unit direction towards the light, world axes (y up, +z towards the frontal camera).
    ambient:    ``[B]`` ambient share of the lighting in ``[0,1]``.
    background: ``[B,2,3]`` top and bottom colours of the background gradient, in ``[0,1]``.
    yaw, pitch: ``[B]`` radians in :meth:`gan3d.Camera.orbit`'s convention.
    """

    identity: torch.Tensor
    identity_id: torch.Tensor
    smile: torch.Tensor
    light: torch.Tensor
    ambient: torch.Tensor
    background: torch.Tensor
    yaw: torch.Tensor
    pitch: torch.Tensor

    def __len__(self) -> int:
        return self.identity.shape[0]

    def param(self, name: str) -> torch.Tensor:
        """Column ``name`` of the identity vectors, ``[B]``."""
        return self.identity[:, _INDEX[name]]

    def views(self, yaw: Sequence[float], pitch: float | Sequence[float] = 0.0) -> "Scenes":
        """Each scene seen from every ``yaw`` (radians) in turn: ``B * len(yaw)`` scenes, scene-major,
        with everything but the camera unchanged (``pitch`` one value or one per yaw)."""
        n = len(yaw)
        yaws = torch.as_tensor(yaw, dtype=torch.float64).repeat(len(self))
        pitches = torch.as_tensor(pitch, dtype=torch.float64).expand(n).repeat(len(self))
        rep = {f: getattr(self, f).repeat_interleave(n, 0) for f in
               ("identity", "identity_id", "smile", "light", "ambient", "background")}
        return Scenes(**rep, yaw=yaws, pitch=pitches)

    def camera(self) -> Camera:
        """EG3D's FFHQ cameras for these views (radius 2.7, pivot (0,0,0.2), focal 4.2647)."""
        return Camera.orbit(yaw=self.yaw, pitch=self.pitch, radius=RADIUS, focal=FOCAL, look_at=PIVOT)


def _draw_yaw(rng: np.random.Generator) -> float:
    """FFHQ-like yaw: most faces within about 20 degrees of frontal, a tail out to 60 degrees."""
    if rng.random() < 0.8:
        yaw = 0.3 * rng.standard_normal()
    else:
        yaw = (2 * rng.random() - 1) * math.radians(60)
    return float(np.clip(yaw, -math.radians(60), math.radians(60)))


def scenes(indices: Sequence[int], seed: int = 0) -> Scenes:
    """The world's samples ``indices`` (identity ``i`` and scene ``i`` for each ``i``)."""
    idx = [int(i) for i in indices]
    if any(i < 0 for i in idx):
        raise InputError(f"sample indices must be non-negative, got {min(idx)}")
    ident = identities(idx, seed)
    smile, light, amb, bg, yaw, pitch = [], [], [], [], [], []
    for i in idx:
        rng = _rng(seed, 1, i)
        smile.append(rng.random())
        az = 0.6 * rng.standard_normal()
        el = 0.35 + 0.3 * rng.standard_normal()
        light.append([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
        amb.append(0.3 + 0.25 * rng.random())
        base = 0.45 * rng.random(3) + 0.55 * rng.random()  # muted colours, like indoor/outdoor backdrops
        bg.append([base, np.clip(base * (0.6 + 0.5 * rng.random()) + 0.05 * rng.standard_normal(3), 0, 1)])
        yaw.append(_draw_yaw(rng))
        pitch.append(float(np.clip(0.12 * rng.standard_normal() - 0.02, -0.35, 0.35)))
    f = torch.float64
    return Scenes(identity=ident, identity_id=torch.tensor(idx, dtype=torch.int64),
                  smile=torch.tensor(smile, dtype=f), light=torch.tensor(light, dtype=f),
                  ambient=torch.tensor(amb, dtype=f), background=torch.tensor(np.array(bg), dtype=f),
                  yaw=torch.tensor(yaw, dtype=f), pitch=torch.tensor(pitch, dtype=f))
