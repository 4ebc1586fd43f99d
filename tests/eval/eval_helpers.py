"""Fixtures for the evaluator tests: real photographs (shipped by scikit-image and matplotlib) and tiny
generators built on them, all offline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan3d

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import landmarks  # noqa: E402

CARD = gan3d.ModelCard(name="test/photo", method="test", dataset="photos", resolution=192,
                       latent=gan3d.LatentSpec(parts={"z": 8}),
                       camera=gan3d.CameraDefaults(radius=2.7, focal=4.2647))

# lfw_subset faces labelled by eye (25 px crops): clear smiles, and closed-mouth neutral faces.
LFW_SMILING = [1, 18, 19, 31, 37, 52, 69, 79, 85, 91, 94]
LFW_NEUTRAL = [3, 6, 20, 28, 40, 42, 60, 62, 66, 70, 76, 92]
# faces turned well away from the camera (for the mirror test)
LFW_TURNED = [40, 47, 75]


def _square(img: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.asarray(Image.fromarray(img[y0:y1, x0:x1]).resize((size, size), Image.BICUBIC))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    import matplotlib.cbook as cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session")
def faces192(astronaut, grace_hopper) -> dict[str, np.ndarray]:
    """Head-and-shoulders crops at 192 px: the astronaut (smiling) and Grace Hopper (neutral)."""
    return {"astronaut": _square(astronaut, (130, 20, 330, 220), 192),
            "grace": _square(grace_hopper, (120, 80, 420, 380), 192)}


def lfw_image(index: int, size: int = 160) -> np.ndarray:
    """``skimage.data.lfw_subset()[index]`` padded (faces are cropped tight) and upsampled, RGB uint8."""
    from skimage import data

    x = (data.lfw_subset()[index] * 255).astype(np.uint8)
    pad = x.shape[0] // 2
    x = np.pad(x, pad, mode="edge")
    x = np.asarray(Image.fromarray(x).resize((size, size), Image.BICUBIC))
    return np.repeat(x[..., None], 3, axis=-1)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 ``[H,W,3]`` -> ``[1,3,H,W]`` in [-1,1]."""
    return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


class PhotoGenerator(gan3d.Generator):
    """Pastes a real photo: ``choose(z, yaw) -> photo name`` per sample (z-dependent brightness optional)."""

    stochastic = False

    def __init__(self, photos: dict[str, np.ndarray], choose, card: gan3d.ModelCard = CARD, shade: float = 0.0):
        super().__init__(card)
        self.photos = {k: to_tensor(v)[0] for k, v in photos.items()}
        self.choose, self.shade = choose, shade
        self.calls = 0

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        return self.check_latents(z)[:, None]

    def synthesize(self, w, camera, **kwargs):
        self.calls += 1
        camera = camera.expand(w.shape[0])
        yaw, _ = camera.yaw_pitch()
        imgs = []
        for i in range(w.shape[0]):
            img = self.photos[self.choose(w[i, 0], float(yaw[i]))]
            imgs.append((img + self.shade * torch.tanh(w[i, 0, 0])).clamp(-1, 1))
        return gan3d.GeneratorOutput(image=torch.stack(imgs))


class LandmarkGenerator(gan3d.Generator):
    """Draws the generic face's landmarks, seen through the requested camera, as coded dots.

    Landmark ``j`` of :data:`gan3d.eval.pose.GENERIC_FACE` is a one-pixel dot whose red value is ``j+1``
    steps of 1/16 (green marks dots); :class:`DotDetector` reads them back: an exact end-to-end check of the pose convention.
    """

    stochastic = False

    def __init__(self, card: gan3d.ModelCard = CARD):
        super().__init__(card)

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        return self.check_latents(z)[:, None]

    def synthesize(self, w, camera, **kwargs):
        from gan3d.eval.pose import GENERIC_FACE

        camera = camera.expand(w.shape[0])
        size = self.card.resolution
        _, p68 = landmarks(camera.to("cpu"), size)
        img = -torch.ones(w.shape[0], 3, size, size)
        for j, k in enumerate(GENERIC_FACE):
            for b in range(w.shape[0]):
                x, y = np.round(p68[b, k]).astype(int)
                img[b, 0, y, x] = (j + 1) / 16 * 2 - 1
                img[b, 1, y, x] = 1.0
        return gan3d.GeneratorOutput(image=img)


class DotDetector:
    """Finds :class:`LandmarkGenerator` 's dots: a :class:`~gan3d.eval.faces.Faces` with 68 (partial) points."""

    name = "dots"
    landmarks = 68

    def detect(self, images):
        from gan3d.eval.faces import Faces, points5_from_68
        from gan3d.eval.pose import GENERIC_FACE

        x = images.detach().cpu()
        faces = Faces.empty(len(x), with68=True)
        red = ((x[:, 0] + 1) / 2 * 16).round().long()
        keys = list(GENERIC_FACE)
        for b in range(len(x)):
            p68 = np.full((68, 2), np.nan)
            ys, xs = torch.nonzero(x[b, 1] > 0.5, as_tuple=True)
            for y, xx, level in zip(ys.tolist(), xs.tolist(), red[b, ys, xs].tolist()):
                if 1 <= level <= len(keys):
                    p68[keys[level - 1]] = (xx, y)
            for lo, a, c in ((36, 36, 39), (42, 42, 45)):
                for j in range(lo, lo + 6):
                    if j not in GENERIC_FACE:
                        p68[j] = (p68[a] + p68[c]) / 2
            if np.isfinite(p68[list(GENERIC_FACE)]).all():
                faces.found[b] = True
                faces.points68[b] = p68
                faces.points5[b] = points5_from_68(p68)
                faces.boxes[b] = (*np.nanmin(p68, 0), *np.nanmax(p68, 0))
        return faces


@pytest.fixture(scope="session")
def dlib_detector():
    from gan3d.eval.faces import DlibDetector

    return DlibDetector()


@pytest.fixture(scope="session")
def mtcnn_detector():
    from gan3d.eval.faces import MtcnnDetector

    return MtcnnDetector("cpu")


@pytest.fixture(scope="session")
def dlib_embedder(dlib_detector):
    from gan3d.eval.identity import DlibEmbedder

    return DlibEmbedder(dlib_detector)
