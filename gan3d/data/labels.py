"""EG3D camera labels: mirroring and sanity checks.

A label is 25 numbers: the row-major 4x4 cam2world matrix (OpenCV axes) then the row-major 3x3
intrinsics normalised by the image size (see :class:`gan3d.Camera`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import BaseModel, ConfigDict

from ..camera import Camera

LABEL_SIZE = 25

# Tolerances for labels written as float32 by preprocessing scripts (EG3D's FFHQ labels are accurate to ~1e-6).
_ORTHO_TOL = 1e-3
_PRINCIPAL_TOL = 0.1


def mirror_labels(labels: torch.Tensor) -> torch.Tensor:
    """Labels ``[N,25]`` (or ``[25]``) of the x-flipped images, as EG3D's ``mirror_dataset.py`` writes them.

    The pose goes through ``flip_yaw`` (:meth:`gan3d.Camera.flip_yaw`); the intrinsics are kept. Applying
    it twice gives the labels back.
    """
    labels = torch.as_tensor(labels, dtype=torch.float32)
    flat = labels.reshape(-1, LABEL_SIZE)
    return Camera.from_eg3d_label(flat).flip_yaw().to_eg3d_label().reshape(labels.shape)


class LabelProblem(BaseModel):
    """One implausible label: the entry's name and what is wrong with it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    problem: str


def label_problems(label: torch.Tensor) -> list[str]:
    """What is wrong with one label ``[25]`` (empty when it is a plausible EG3D camera).

    cam2world must be a rotation (orthonormal, determinant +1) and translation with last row
    ``0 0 0 1``; the intrinsics need positive focal lengths, no skew, a principal point within
    0.1 of the image centre (0.5 in normalised units) and last row ``0 0 1``.
    """
    label = torch.as_tensor(label, dtype=torch.float64).reshape(-1)
    if label.numel() != LABEL_SIZE:
        return [f"has {label.numel()} numbers, EG3D labels have {LABEL_SIZE} (16 of cam2world, 9 of intrinsics)"]
    if not torch.isfinite(label).all():
        return ["contains NaN or infinity"]
    out = []
    pose, intr = label[:16].reshape(4, 4), label[16:].reshape(3, 3)
    rot = pose[:3, :3]
    err = (rot.T @ rot - torch.eye(3, dtype=rot.dtype)).abs().max().item()
    if err > _ORTHO_TOL:
        out.append(f"cam2world rotation is not orthonormal (|R^T R - I| = {err:.3g})")
    elif torch.linalg.det(rot).item() < 0:
        out.append("cam2world rotation is a reflection (determinant -1)")
    last = pose[3].tolist()
    if max(abs(a - b) for a, b in zip(last, (0, 0, 0, 1))) > _ORTHO_TOL:
        out.append(f"cam2world last row is {_fmt(last)}, expected 0 0 0 1")
    fx, fy, cx, cy = intr[0, 0].item(), intr[1, 1].item(), intr[0, 2].item(), intr[1, 2].item()
    if fx <= 0 or fy <= 0:
        out.append(f"focal lengths must be positive, got fx={fx:.4g} fy={fy:.4g}")
    if abs(intr[0, 1].item()) > _ORTHO_TOL or abs(intr[1, 0].item()) > _ORTHO_TOL:
        out.append("intrinsics have skew (entries [0,1] or [1,0] are not 0)")
    if abs(cx - 0.5) > _PRINCIPAL_TOL or abs(cy - 0.5) > _PRINCIPAL_TOL:
        out.append(f"principal point ({cx:.4g}, {cy:.4g}) is not near the image centre (0.5, 0.5): "
                   "are the intrinsics in pixels instead of normalised by the image size?")
    if max(abs(a - b) for a, b in zip(intr[2].tolist(), (0, 0, 1))) > _ORTHO_TOL:
        out.append(f"intrinsics last row is {_fmt(intr[2].tolist())}, expected 0 0 1")
    return out


def check_labels(labels: torch.Tensor, names: Sequence[str]) -> list[LabelProblem]:
    """Every implausible label of ``labels [N,25]``, named by ``names[i]`` (see :func:`label_problems`)."""
    return [LabelProblem(name=name, problem=p) for label, name in zip(labels, names) for p in label_problems(label)]


def _fmt(values: Sequence[float]) -> str:
    return " ".join(f"{v:.4g}" for v in values)
