"""Backbone weights of the evaluators: looked up locally, else downloaded once into the gan3d cache.

Files live in ``<gan3d home>/weights/eval/<filename>`` (also searched: each folder of
``$GAN3D_PATH`` and ``<folder>/eval``). A download goes to a temporary file, is sha256-checked where a
checksum is pinned (or the sha256 prefix that torchvision puts in its file names), and is moved into
place in one rename. Offline (``GAN3D_OFFLINE=1`` or no network) a missing file is a
:class:`~gan3d.errors.WeightsNotFoundError` naming every path searched, the URL and where to put the
file.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..errors import ChecksumError, WeightsNotFoundError


class BackboneFile(BaseModel):
    """A network file an evaluator needs. ``sha256_prefix``: leading hex digits known to be right."""

    model_config = ConfigDict(frozen=True)

    name: str
    filename: str
    url: str
    sha256: str | None = None
    sha256_prefix: str | None = None


FACENET_VGGFACE2 = BackboneFile(
    name="facenet-vggface2", filename="20180402-114759-vggface2.pt",
    url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt")
INCEPTION_NVIDIA = BackboneFile(
    name="inception-2015-12-05", filename="inception-2015-12-05.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt")
TORCHVISION_ALEXNET = BackboneFile(
    name="torchvision-alexnet", filename="alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", sha256_prefix="7be5be79")
TORCHVISION_VGG16 = BackboneFile(
    name="torchvision-vgg16", filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth", sha256_prefix="397923af")
TORCHVISION_SQUEEZENET = BackboneFile(
    name="torchvision-squeezenet1_1", filename="squeezenet1_1-b8a52dc0.pth",
    url="https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth", sha256_prefix="b8a52dc0")


def eval_weights_dir() -> Path:
    from ..cache import home

    return home() / "weights" / "eval"


def search_paths(bf: BackboneFile) -> list[Path]:
    """Every place ``bf`` is looked for, in order."""
    paths = [eval_weights_dir() / bf.filename]
    for extra in filter(None, os.environ.get("GAN3D_PATH", "").split(os.pathsep)):
        base = Path(extra).expanduser()
        paths += [base / "eval" / bf.filename, base / bf.filename]
    return paths


def _check(path: Path, bf: BackboneFile) -> str:
    from ..cache import file_sha256

    digest = file_sha256(path)
    if bf.sha256 and digest != bf.sha256:
        raise ChecksumError(f"{path} has sha256 {digest}, expected {bf.sha256} for {bf.name}; delete it and fetch it again")
    if bf.sha256_prefix and not digest.startswith(bf.sha256_prefix):
        raise ChecksumError(f"{path} has sha256 {digest}, which does not start with {bf.sha256_prefix} as {bf.name}'s "
                            f"must; delete it and fetch it again")
    return digest


def resolve_backbone(bf: BackboneFile, local: str | os.PathLike | None = None,
                     allow_download: bool = True) -> tuple[Path, str]:
    """``(path, sha256)`` of ``bf``: ``local`` if given, else the cache, else a download into it."""
    if local is not None:
        path = Path(local).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"{bf.name} weights {str(path)!r} do not exist (download them from {bf.url})")
        return path, _check(path, bf)
    searched = search_paths(bf)
    for p in searched:
        if p.is_file():
            return p, _check(p, bf)
    error = ""
    if allow_download and not os.environ.get("GAN3D_OFFLINE"):
        from ..cache import download

        try:
            path = download(bf.url, searched[0], bf.sha256, desc=bf.name)
            return path, _check(path, bf)
        except ChecksumError:
            if searched[0].exists():
                searched[0].unlink()
            raise
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            error = f"\n  download failed: {getattr(e, 'reason', e)}"
    lines = [f"the {bf.name} weights ({bf.filename}) are missing and could not be downloaded"
             + (" (GAN3D_OFFLINE is set)" if os.environ.get("GAN3D_OFFLINE") else ""), "  searched:"]
    lines += [f"    {p}" for p in searched]
    lines.append(f"  download {bf.url}")
    lines.append(f"  and put it at {searched[0]} (or in a folder listed in GAN3D_PATH)")
    raise WeightsNotFoundError("\n".join(lines) + error)
