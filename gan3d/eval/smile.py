"""Smile coefficient and the expression-consistency evaluator (EG3D, Table 4).

EG3D measured how much a face's expression changes along a camera sweep of one scene with a
proprietary face tracker. gan3d's open measure, from landmarks:

* five points (MTCNN) or 68 (dlib): after removing roll (landmarks expressed along the eye line),
  ``width = horizontal mouth-corner distance / horizontal eye-centre distance``. Yaw shrinks both
  distances by ``cos(yaw)`` (weak perspective), so the ratio is yaw-normalised by construction.
* 68 points add the mouth-corner lift: ``lift = (lip-centre height - mean corner height) /
  eye distance`` (positive when the corners sit above the centre of the lips, as in a smile).

``smile = width + lift`` (``lift = 0`` with five points). The metric is the mean over latents of the
standard deviation of ``smile`` across the frames of that latent's sweep (lower = more consistent);
frames without a detected face are counted and left out, and a latent needs at least two frames.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .cameras import FixedCameras
from .faces import Faces, make_detector
from .harness import EvalContext, Evaluator, SampleBatch, SampleRequest
from .pose import face_frame
from .protocol import MetricResult


def smile_coefficient(faces: Faces) -> np.ndarray:
    """Smile ``[N]`` per image (NaN where no face): mouth width / eye distance (+ corner lift with 68 points)."""
    out = np.full(len(faces), np.nan)
    ok = faces.found
    if not ok.any():
        return out
    p5 = faces.points5[ok]
    f = face_frame(p5)
    eye = f[:, 1, 0] - f[:, 0, 0]
    width = (f[:, 4, 0] - f[:, 3, 0]) / eye
    lift = np.zeros_like(width)
    if faces.points68 is not None:
        p = face_frame(p5, faces.points68[ok])
        centre_y = (p[:, 62, 1] + p[:, 66, 1]) / 2      # middle of the inner lips
        corners_y = (p[:, 48, 1] + p[:, 54, 1]) / 2
        lift = (centre_y - corners_y) / eye
    out[ok] = width + lift
    return out


class SmileEvaluator(Evaluator):
    """Expression consistency: mean over latents of the std of the smile coefficient along a yaw sweep.

    Each latent is rendered at ``frames`` yaws evenly spaced in ``[-yaw_range, yaw_range]`` at ``pitch``
    (conditioning frontal). Result ``smile_std`` (spread: std over latents); ``details`` has the mean
    smile, undetected frames and latents with too few frames.
    """

    name = "smile"
    needs_views = True

    def __init__(self, backend: str = "mtcnn", num: int | None = None, frames: int = 9, yaw_range: float = 0.5,
                 pitch: float = 0.0, device: str | torch.device | None = None, detector=None):
        if backend not in ("mtcnn", "dlib"):
            raise InputError(f"smile backend must be mtcnn or dlib, got {backend!r}")
        if frames < 2:
            raise InputError(f"a smile sweep needs at least 2 frames, got {frames}")
        self.backend, self.num, self._device, self.detector = backend, num, device, detector
        yaws = np.linspace(-yaw_range, yaw_range, frames)
        self.cameras = FixedCameras(poses=tuple((float(y), float(pitch)) for y in yaws))
        self.frames = frames

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        self.request = ctx.request(self.num, self.frames, self.cameras)
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        if self.detector is None:
            self.detector = make_detector(self.backend, self._device or ctx.device)
        self.values: list[np.ndarray] = []
        self.latents: list[np.ndarray] = []

    def extract(self, request: SampleRequest, batch: SampleBatch) -> tuple[np.ndarray, np.ndarray]:
        """``(smile coefficient [B], latent index [B])``."""
        return smile_coefficient(self.detector.detect(batch.images)), batch.latent_index.cpu().numpy()

    def update(self, request: SampleRequest, extracted: tuple[np.ndarray, np.ndarray]) -> None:
        values, latents = extracted
        self.values.append(values)
        self.latents.append(latents)

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        vals, lat = np.concatenate(self.values), np.concatenate(self.latents)
        stds, skipped = [], 0
        for i in np.unique(lat):
            v = vals[lat == i]
            v = v[np.isfinite(v)]
            if len(v) < 2:
                skipped += 1
                continue
            stds.append(v.std())
        stds = np.asarray(stds)
        proto = ctx.protocol("smile", self.request, backbone=self.detector.name,
                             backbone_sha256=getattr(self.detector, "sha256", None),
                             options={"landmarks": getattr(self.detector, "landmarks", None),
                                      "measure": "mouth width / eye distance (+ corner lift with 68 points)"})
        return [MetricResult(name="smile_std", value=float(stds.mean()) if len(stds) else float("nan"),
                             spread=float(stds.std()) if len(stds) else None, spread_kind="std", n=len(stds),
                             protocol=proto,
                             details={"undetected_frames": int((~np.isfinite(vals)).sum()), "frames": int(len(vals)),
                                      "latents_skipped": skipped,
                                      "mean_smile": float(np.nanmean(vals)) if np.isfinite(vals).any() else None})]
