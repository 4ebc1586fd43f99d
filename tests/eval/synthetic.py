"""Landmarks of gan3d's generic face seen through gan3d cameras (exact geometry for pose tests)."""

from __future__ import annotations

import numpy as np

from gan3d import Camera
from gan3d.eval.pose import GENERIC_FACE, HEAD_CENTRE

SCALE = 0.0025  # world units per millimetre: the face fills about half of an FFHQ-camera frame


def face_world(centre=(0.0, 0.0, 0.0), scale: float = SCALE) -> dict[int, np.ndarray]:
    """World positions of the generic face, head centre at ``centre`` (the orbit's centre is the origin),
    looking towards +z."""
    flip = np.array([1.0, -1.0, -1.0])
    return {k: scale * flip * (np.asarray(v) - HEAD_CENTRE) + np.asarray(centre) for k, v in GENERIC_FACE.items()}


def project(camera: Camera, points: np.ndarray, size: int) -> np.ndarray:
    """Pixels ``[B,P,2]`` of world ``points [P,3]`` seen by ``camera`` (``B`` cameras) in ``size`` px images."""
    c2w = camera.cam2world.double().numpy()
    w2c = np.linalg.inv(c2w)
    ph = np.concatenate([points, np.ones((len(points), 1))], 1)
    cam = np.einsum("bij,pj->bpi", w2c, ph)[..., :3]
    K = camera.intrinsics.double().numpy()
    uv = np.einsum("bij,bpj->bpi", K, cam / cam[..., 2:3])[..., :2]
    return uv * size


def landmarks(camera: Camera, size: int = 512, centre=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """``(points5 [B,5,2], points68 [B,68,2])``; the 68 array is NaN except the generic face's points."""
    fw = face_world(centre)
    keys = list(fw)
    uv = project(camera, np.stack([fw[k] for k in keys]), size)
    p68 = np.full((len(camera), 68, 2), np.nan)
    for j, k in enumerate(keys):
        p68[:, k] = uv[:, j]
    # eye centres as the mean of the corners (also fill the eye rings for points5_from_68)
    for lo, a, b in ((36, 36, 39), (42, 42, 45)):
        for j in range(lo, lo + 6):
            if j not in fw:
                p68[:, j] = (p68[:, a] + p68[:, b]) / 2
    p5 = np.stack([p68[:, 36:42].mean(1), p68[:, 42:48].mean(1), p68[:, 30], p68[:, 48], p68[:, 54]], 1)
    return p5, p68


def rotate_points(points: np.ndarray, theta: float, centre: tuple[float, float]) -> np.ndarray:
    """Points ``[...,2]`` rotated counter-clockwise on screen (y down) by ``theta`` about ``centre``."""
    c, s = np.cos(theta), np.sin(theta)
    rel = points - np.asarray(centre)
    x, y = rel[..., 0], rel[..., 1]
    return np.stack([c * x + s * y, -s * x + c * y], -1) + np.asarray(centre)
