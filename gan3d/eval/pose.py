"""Head pose from landmarks, in :class:`gan3d.Camera`'s convention, and the pose-consistency evaluator.

The estimated pose is expressed as the orbit camera that would see a frontal face this way:
``yaw > 0`` when the camera is on the subject's left (the face turns towards the image's left),
``pitch > 0`` when the camera is below the face, exactly as :meth:`gan3d.Camera.orbit`. So requested
and estimated angles compare directly. ``roll`` is the in-plane angle of the eye line, positive when
the face is rotated counter-clockwise in the image.

* Five points (MTCNN): roll from the eye line; yaw from the nose tip's horizontal offset from the
  centre of the eyes and mouth corners, relative to their horizontal spread, through a generic face's
  depths (weak perspective: ``offset / spread = -(2 z / (eye + mouth width)) tan(yaw)``, see
  :data:`YAW_GAIN_5PT` for its perspective bias). No pitch:
  a 3D fit on five points gives unreliable pitch on real faces.
* 68 points (dlib): a perspective-n-point fit of a generic 3D face (:data:`GENERIC_FACE`) by
  Levenberg-Marquardt on the reprojection error, with the camera's focal length when known; gives
  yaw and pitch (roll still from the eye line).

:data:`GENERIC_FACE` is an approximate adult face written for gan3d from average anthropometric
distances (millimetres); it is not a fitted model, so expect errors of a few degrees.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from .cameras import _Dist
from .faces import Faces, make_detector
from .harness import EvalContext, Evaluator, SampleBatch, SampleRequest
from .protocol import MetricResult

# Model frame: x towards image right in the frontal view (the subject's left), y down, z into the face
# (away from a frontal camera); nose tip at the origin. Keys are iBUG-68 indices.
GENERIC_FACE: dict[int, tuple[float, float, float]] = {
    8: (0.0, 68.0, 22.0),      # chin
    27: (0.0, -42.0, 24.0),    # nasion
    30: (0.0, 0.0, 0.0),       # nose tip
    31: (-13.0, 8.0, 14.0),    # nostril wings
    35: (13.0, 8.0, 14.0),
    33: (0.0, 13.0, 14.0),     # subnasale
    36: (-45.0, -36.0, 40.0),  # eye corners: outer/inner, image-left eye then image-right eye
    39: (-16.0, -36.0, 30.0),
    42: (16.0, -36.0, 30.0),
    45: (45.0, -36.0, 40.0),
    48: (-25.0, 30.0, 28.0),   # mouth corners
    54: (25.0, 30.0, 28.0),
    51: (0.0, 24.0, 17.0),     # upper lip top
    57: (0.0, 42.0, 20.0),     # lower lip bottom
}
#: Rotation centre of the head in the model frame (the point an orbit camera circles).
HEAD_CENTRE = np.array([0.0, -10.0, 95.0])
# Five-point model derived from the same face: eye centres, nose tip, mouth corners.
_EYE_HALF = (GENERIC_FACE[45][0] + GENERIC_FACE[42][0]) / 2
_EYE_Z = (GENERIC_FACE[45][2] + GENERIC_FACE[42][2]) / 2
_MOUTH_HALF, _MOUTH_Z = GENERIC_FACE[54][0], GENERIC_FACE[54][2]
#: ``(eye width + mouth width) / (2 * mean depth of eyes and mouth corners behind the nose tip)`` of the
#: generic face (1.76): the weak-perspective relation between nose offset and yaw. Under a close camera
#: perspective enlarges the nose's offset (the nose is nearer), so yaw is overestimated by a few percent
#: up to ~20% (faces filling the frame of EG3D's FFHQ camera); the 68-point PnP has no such bias.
YAW_GAIN_5PT = (2 * _EYE_HALF + 2 * _MOUTH_HALF) / (_EYE_Z + _MOUTH_Z)


def roll_from_points(points5: np.ndarray) -> np.ndarray:
    """Roll ``[N]`` (radians, counter-clockwise positive) from the eye line of ``points5 [N,5,2]``."""
    d = points5[:, 1] - points5[:, 0]
    return np.arctan2(-d[:, 1], d[:, 0])


def face_frame(points5: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Landmarks in a roll-free frame: origin between the eyes, x along the eye line, y perpendicular
    (down the face). The frame comes from the five points ``[N,5,2]`` (eyes first); ``points [N,P,2]``
    (default: the five themselves) are expressed in it. Returns ``[N,P,2]``."""
    points = points5 if points is None else points
    le, re = points5[:, 0], points5[:, 1]
    u = re - le
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    v = np.stack([-u[:, 1], u[:, 0]], -1)
    rel = points - ((le + re) / 2)[:, None]
    return np.stack([(rel * u[:, None]).sum(-1), (rel * v[:, None]).sum(-1)], -1)


def yaw_from_points5(points5: np.ndarray) -> np.ndarray:
    """Yaw ``[N]`` (radians, Camera convention) from five landmarks ``[N,5,2]`` (see module docstring)."""
    p = face_frame(points5)
    centre = p[:, [0, 1, 3, 4], 0].mean(-1)
    offset = p[:, 2, 0] - centre
    spread = ((p[:, 1, 0] - p[:, 0, 0]) + (p[:, 4, 0] - p[:, 3, 0])) / 2
    return np.arctan(-offset / spread * YAW_GAIN_5PT)


def _rotvec_to_matrix(r: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(r)
    if theta < 1e-12:
        return np.eye(3)
    k = r / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


def pnp_pose(points68: np.ndarray, focal_px: float, principal: tuple[float, float]) -> tuple[float, float]:
    """``(yaw, pitch)`` radians of one face from its 68 landmarks ``[68,2]`` (pixels) by PnP."""
    from scipy.optimize import least_squares

    idx = list(GENERIC_FACE)
    model = np.array([GENERIC_FACE[i] for i in idx])
    img = points68[idx]
    cx, cy = principal
    iod = np.linalg.norm(points68[42:48].mean(0) - points68[36:42].mean(0))
    depth = focal_px * (2 * _EYE_HALF) / max(iod, 1e-6)
    t0 = np.array([(img[idx.index(30), 0] - cx) * depth / focal_px, (img[idx.index(30), 1] - cy) * depth / focal_px, depth])

    def residual(params: np.ndarray) -> np.ndarray:
        R = _rotvec_to_matrix(params[:3])
        cam = model @ R.T + params[3:]
        proj = focal_px * cam[:, :2] / cam[:, 2:3] + np.array([cx, cy])
        return ((proj - img) / iod).ravel()

    best = None
    for y0 in (0.0, 0.6, -0.6):  # a few starts guard against the mirror minimum at large yaw
        sol = least_squares(residual, np.concatenate([[0.0, y0, 0.0], t0]), method="lm")
        if best is None or sol.cost < best.cost:
            best = sol
    R = _rotvec_to_matrix(best.x[:3])
    t = best.x[3:]
    cam_centre = -R.T @ t                      # camera centre in the model frame
    v = cam_centre - HEAD_CENTRE
    v = v / np.linalg.norm(v)
    w = np.array([v[0], -v[1], -v[2]])         # model frame -> gan3d world (y up, frontal camera on +z)
    yaw = math.atan2(w[0], w[2])
    pitch = -(math.pi / 2) * w[1]
    return yaw, pitch


def estimate_pose(faces: Faces, image_size: tuple[int, int], focal: np.ndarray | float | None = None
                  ) -> dict[str, np.ndarray]:
    """Yaw, pitch (68 points only, else NaN) and roll ``[N]`` in radians for detected faces (NaN elsewhere).

    ``image_size`` is ``(H, W)``; ``focal`` the normalised focal length(s) (default 4.26, FFHQ's camera).
    """
    n = len(faces)
    h, w = image_size
    focal_arr = np.broadcast_to(np.asarray(4.2647 if focal is None else focal, dtype=np.float64), (n,))
    yaw, pitch, roll = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    ok = faces.found
    if ok.any():
        roll[ok] = roll_from_points(faces.points5[ok])
        if faces.points68 is None:
            yaw[ok] = yaw_from_points5(faces.points5[ok])
        else:
            for i in np.nonzero(ok)[0]:
                yaw[i], pitch[i] = pnp_pose(faces.points68[i], float(focal_arr[i]) * w, (w / 2, h / 2))
    return {"yaw": yaw, "pitch": pitch, "roll": roll}


class PoseEvaluator(Evaluator):
    """Pose consistency: estimated head pose of each image versus the requested camera.

    Reports ``pose_yaw_error`` (mean absolute error, degrees), ``pose_pitch_error`` (68-point backend)
    and ``pose_yaw_corr`` (Pearson correlation of requested and estimated yaw), with the number of
    images without a detected face in ``details``. The yaw error is measured after removing nothing:
    a model whose frontal face is not frontal scores worse.
    """

    name = "pose"
    needs_views = True

    def __init__(self, backend: str = "mtcnn", num: int | None = None, cameras: _Dist | None = None,
                 device: str | torch.device | None = None, detector=None):
        if backend not in ("mtcnn", "dlib"):
            raise InputError(f"pose backend must be mtcnn (5 landmarks) or dlib (68 landmarks), got {backend!r}")
        self.backend, self.num, self.cameras, self._device, self.detector = backend, num, cameras, device, detector

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        self.request = ctx.request(self.num, 1, self.cameras)
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        if self.detector is None:
            self.detector = make_detector(self.backend, self._device or ctx.device)
        self.req_yaw, self.req_pitch, self.est = [], [], {"yaw": [], "pitch": [], "roll": []}

    def extract(self, request: SampleRequest, batch: SampleBatch) -> tuple[dict, np.ndarray, np.ndarray]:
        """``(estimated yaw/pitch/roll [B] each, requested yaw [B], requested pitch [B])``."""
        faces = self.detector.detect(batch.images)
        est = estimate_pose(faces, tuple(batch.images.shape[-2:]), batch.camera.focal.cpu().numpy())
        return {k: est[k] for k in self.est}, batch.yaw.cpu().numpy(), batch.pitch.cpu().numpy()

    def update(self, request: SampleRequest, extracted: tuple[dict, np.ndarray, np.ndarray]) -> None:
        est, yaw, pitch = extracted
        for k in self.est:
            self.est[k].append(est[k])
        self.req_yaw.append(yaw)
        self.req_pitch.append(pitch)

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        est = {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.est.items()}
        ry, rp = np.concatenate(self.req_yaw), np.concatenate(self.req_pitch)
        found = np.isfinite(est["yaw"])
        details = {"undetected": int((~found).sum()), "images": int(len(found)),
                   "mean_abs_roll_deg": float(np.degrees(np.abs(est["roll"][found])).mean()) if found.any() else None}
        proto = ctx.protocol("pose", self.request, backbone=self.detector.name,
                             backbone_sha256=getattr(self.detector, "sha256", None),
                             options={"landmarks": getattr(self.detector, "landmarks", None)})
        n = int(found.sum())
        err = np.degrees(np.abs(est["yaw"][found] - ry[found]))
        corr = float(np.corrcoef(ry[found], est["yaw"][found])[0, 1]) if n > 2 and ry[found].std() > 0 else float("nan")
        out = [MetricResult(name="pose_yaw_error", value=float(err.mean()) if n else float("nan"),
                            spread=float(err.std()) if n else None, spread_kind="std", n=n, protocol=proto,
                            details=dict(details, unit="degrees")),
               MetricResult(name="pose_yaw_corr", value=corr, n=n, protocol=proto, details=details)]
        if np.isfinite(est["pitch"][found]).any():
            perr = np.degrees(np.abs(est["pitch"][found] - rp[found]))
            out.append(MetricResult(name="pose_pitch_error", value=float(perr.mean()), spread=float(perr.std()),
                                    spread_kind="std", n=n, protocol=proto, details=dict(details, unit="degrees")))
        return out
