"""Identity similarity (EG3D's "ID"): do two views of one latent show the same person?

For each latent, two renders from independent random cameras (the conditioning camera fixed frontal);
faces are detected and aligned, embedded, and the metric is the mean cosine similarity of the pairs.
Pairs where either face is not detected are counted and left out.

Backends:

* ``facenet`` (default): MTCNN (facenet-pytorch) box crop resized to 160 px, standardised as
  ``(x - 127.5) / 128``, through FaceNet ``InceptionResnetV1`` trained on VGGFace2. The weights are
  downloaded once into the gan3d cache (``weights/eval/20180402-114759-vggface2.pt``) or taken from a
  local file (``weights=``); offline without them the error says where to put the file.
* ``dlib``: dlib's HOG detector, 68-landmark alignment and its ResNet 128-d face descriptor; all
  weights ship in PyPI packages (``dlib-bin``, ``face-recognition-models``), fully offline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .cameras import _Dist
from .faces import DlibDetector, MtcnnDetector, as_uint8_images, dlib_model_dir
from .harness import EvalContext, Evaluator, SampleBatch, SampleRequest
from .protocol import MetricResult
from .weights import FACENET_VGGFACE2, resolve_backbone


class DlibEmbedder:
    """dlib's 128-d face descriptor on 68-landmark aligned faces."""

    name = "dlib-resnet-v1"

    def __init__(self, detector: DlibDetector | None = None, jitter: int = 0):
        self.detector = detector or DlibDetector()
        import dlib

        path = dlib_model_dir() / "dlib_face_recognition_resnet_model_v1.dat"
        self.net = dlib.face_recognition_model_v1(str(path))
        from ..cache import file_sha256

        self.sha256 = file_sha256(path)
        self.jitter = int(jitter)

    def embed(self, images) -> np.ndarray:
        """Descriptors ``[B,128]`` (NaN rows where no face was found)."""
        imgs = as_uint8_images(images)
        faces = self.detector.detect(imgs)
        out = np.full((len(imgs), 128), np.nan)
        for i, shape in enumerate(self.detector.shapes):
            if shape is not None:
                out[i] = np.asarray(self.net.compute_face_descriptor(imgs[i], shape, self.jitter))
        self.last_faces = faces
        return out


class FacenetEmbedder:
    """FaceNet (InceptionResnetV1, VGGFace2) on MTCNN crops; ``weights`` overrides the cached file."""

    name = "facenet-vggface2"

    def __init__(self, device: str | torch.device = "cpu", weights: str | None = None,
                 detector: MtcnnDetector | None = None, image_size: int = 160):
        try:
            from facenet_pytorch import InceptionResnetV1
        except ImportError:
            from .faces import MissingDependencyError

            raise MissingDependencyError("the facenet identity backend needs facenet-pytorch: "
                                         "pip install 'facenet-pytorch==2.5.3' --no-deps") from None
        path, self.sha256 = resolve_backbone(FACENET_VGGFACE2, weights)
        self.device = torch.device(device)
        net = InceptionResnetV1(pretrained=None, classify=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        net.load_state_dict(state)
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.detector = detector or MtcnnDetector(self.device)
        self.image_size = image_size

    def crops(self, images) -> tuple[torch.Tensor, np.ndarray]:
        """Standardised face crops ``[F,3,S,S]`` of the images with a face, and that mask ``[B]``."""
        imgs = as_uint8_images(images)
        faces = self.detector.detect(imgs)
        self.last_faces = faces
        h, w = imgs.shape[1:3]
        crops = []
        for i in np.nonzero(faces.found)[0]:
            x0, y0, x1, y1 = faces.boxes[i]
            x0, y0 = int(max(x0, 0)), int(max(y0, 0))
            x1, y1 = int(min(x1, w)), int(min(y1, h))
            if x1 - x0 < 2 or y1 - y0 < 2:
                faces.found[i] = False
                continue
            face = torch.from_numpy(imgs[i, y0:y1, x0:x1].copy()).permute(2, 0, 1)[None].float().to(self.device)
            crops.append(F.interpolate(face, size=(self.image_size, self.image_size), mode="bilinear",
                                       antialias=True, align_corners=False))
        if not crops:
            return torch.zeros(0, 3, self.image_size, self.image_size, device=self.device), faces.found
        return (torch.cat(crops) - 127.5) / 128.0, faces.found

    def embed(self, images) -> np.ndarray:
        """Embeddings ``[B,512]`` (unit length; NaN rows where no face was found)."""
        crops, found = self.crops(images)
        out = np.full((len(found), 512), np.nan)
        if len(crops):
            with torch.inference_mode():
                out[found] = self.net(crops).double().cpu().numpy()
        return out


def make_embedder(backend: str, device: str | torch.device = "cpu", weights: str | None = None):
    if backend == "facenet":
        return FacenetEmbedder(device, weights)
    if backend == "dlib":
        if weights is not None:
            raise InputError("the dlib identity backend uses the descriptor shipped by face-recognition-models; "
                             "it takes no weights file")
        return DlibEmbedder()
    raise InputError(f"unknown identity backend {backend!r}; use facenet (default) or dlib")


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of ``a [N,D]`` and ``b [N,D]`` -> ``[N]`` (NaN where a row is NaN)."""
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / (na * nb)


class IdentityEvaluator(Evaluator):
    """Mean cosine similarity of face embeddings between two random views of each latent.

    Result ``id`` (spread: std over pairs); ``details``: images without a face, pairs left out.
    """

    name = "id"
    needs_views = True

    def __init__(self, backend: str = "facenet", num: int | None = None, cameras: _Dist | None = None,
                 weights: str | None = None, device: str | torch.device | None = None, embedder=None):
        if backend not in ("facenet", "dlib"):
            raise InputError(f"unknown identity backend {backend!r}; use facenet (default) or dlib")
        self.backend, self.num, self.cameras, self.weights = backend, num, cameras, weights
        self._device, self.embedder = device, embedder

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        self.request = ctx.request(self.num, 2, self.cameras, conditioning="frontal")
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        if self.embedder is None:
            self.embedder = make_embedder(self.backend, self._device or ctx.device, self.weights)
        self.sims: list[np.ndarray] = []
        self.undetected = 0

    def extract(self, request: SampleRequest, batch: SampleBatch) -> tuple[np.ndarray, int]:
        """``(cosine similarity [L] of each latent's two views, images without a face)``."""
        emb = self.embedder.embed(batch.images)
        view = batch.view.cpu().numpy()
        a, b = emb[view == 0], emb[view == 1]  # latent-major order: rows pair up
        return cosine_similarity(a, b), int(np.isnan(emb[:, 0]).sum())

    def update(self, request: SampleRequest, extracted: tuple[np.ndarray, int]) -> None:
        sims, undetected = extracted
        self.sims.append(sims)
        self.undetected += undetected

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        sims = np.concatenate(self.sims) if self.sims else np.zeros(0)
        ok = np.isfinite(sims)
        proto = ctx.protocol("id", self.request, backbone=self.embedder.name,
                             backbone_sha256=getattr(self.embedder, "sha256", None),
                             resize="face crop from the detector's box, 160 px" if self.backend == "facenet"
                             else "dlib 68-landmark chip, 150 px",
                             options={"detector": getattr(self.embedder.detector, "name", "")})
        return [MetricResult(name="id", value=float(sims[ok].mean()) if ok.any() else float("nan"),
                             spread=float(sims[ok].std()) if ok.any() else None, spread_kind="std",
                             n=int(ok.sum()), protocol=proto,
                             details={"undetected_images": self.undetected, "pairs_left_out": int((~ok).sum()),
                                      "pairs": int(len(sims))})]
