"""Running the authors' code beside gan3d in a benchmark (``--official PATH``).

Nothing here ships with gan3d: a user points a benchmark at their own checkout of the official
repository, which is imported as it is, on CPU or CUDA. The official custom ops either fall back to
plain PyTorch by themselves (EG3D's ``torch_utils.ops`` off CUDA) or compile at import time (CNeRF's
``op/`` package, whose CPU branches never touch the compiled module): for the latter the compiler is
skipped while importing. Packages that the generator never calls at inference (mesh and marching-cube
libraries) are replaced by empty stand-ins when they are not installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from gan3d.errors import InputError

# top-level module names the official repositories import; a clash with an installed package of the
# same name would silently run the wrong code
EG3D_MODULES = ("training", "torch_utils", "dnnlib")
CNERF_MODULES = ("model", "volume_renderer", "utils", "op", "options")
# imported by CNeRF's model.py / utils.py for meshes and marching cubes only
CNERF_UNUSED_IMPORTS = ("trimesh", "skimage", "skimage.measure", "pytorch3d", "pytorch3d.io",
                        "pytorch3d.structures", "pytorch3d.renderer", "pytorch3d.transforms")


def _check_checkout(path: str | Path, inner: str, marker: str, name: str, url: str) -> Path:
    """The folder holding the official code: ``path/inner`` for the repository root, or ``path`` itself."""
    root = Path(path).expanduser()
    for code in (root / inner, root) if inner else (root,):
        if (code / marker).is_file():
            return code
    raise InputError(f"--official {str(path)!r} is not a checkout of {name}: {root / inner / marker} is missing; "
                     f"pass the folder of `git clone {url}`")


def exit_on_error(script: str, error: Exception) -> None:
    """End a benchmark on a user error with one line, as gan3d's command line does (status 2)."""
    print(f"{script}: {error}", file=sys.stderr)
    raise SystemExit(2)


def _import_from(code: Path, modules: tuple[str, ...], entry: str):
    """Import ``entry`` with ``code`` first on sys.path, refusing modules already loaded from elsewhere."""
    for m in modules:
        loaded = sys.modules.get(m)
        origin = getattr(loaded, "__file__", None) or ""
        if loaded is not None and not Path(origin).resolve().is_relative_to(code.resolve()):
            raise InputError(f"cannot import the official code from {code}: a module named {m!r} is already "
                             f"loaded from {origin or 'elsewhere'}; run the benchmark in a fresh process")
    sys.path.insert(0, str(code))
    try:
        return importlib.import_module(entry)
    except ImportError as e:
        raise InputError(f"the official code in {code} does not import here ({type(e).__name__}: {e}); "
                         f"install what it names into this environment") from None


def import_eg3d_triplane(path: str | Path):
    """NVlabs/eg3d's ``training.triplane`` module from a checkout (the repository root)."""
    code = _check_checkout(path, "eg3d", "training/triplane.py", "NVlabs/eg3d", "https://github.com/NVlabs/eg3d")
    return _import_from(code, EG3D_MODULES, "training.triplane")


class _Unused:
    """Stands in for a class or function of a package the benchmark never calls."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is not installed; the benchmark replaced it by a stand-in")

    def __getattr__(self, attr: str) -> "_Unused":
        return _Unused(f"{self._name}.{attr}")


def _stub_module(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__getattr__ = lambda attr: _Unused(f"{name}.{attr}")  # PEP 562: any name imports
    return mod


@contextlib.contextmanager
def _no_extension_builds() -> Iterator[None]:
    """``torch.utils.cpp_extension.load`` returns None while the official ops import (never compiles)."""
    import torch.utils.cpp_extension as ext

    saved = ext.load
    ext.load = lambda *args, **kwargs: None
    try:
        yield
    finally:
        ext.load = saved


def import_cnerf_model(path: str | Path):
    """TianxiangMa/CNeRF's ``model`` and ``utils`` modules from a checkout (the repository root)."""
    code = _check_checkout(path, "", "model.py", "TianxiangMa/CNeRF", "https://github.com/TianxiangMa/CNeRF")
    if not (code / "volume_renderer.py").is_file():
        raise InputError(f"--official {str(path)!r} has model.py but no volume_renderer.py: not a CNeRF checkout")
    absent = {n.split(".")[0] for n in CNERF_UNUSED_IMPORTS
              if n.split(".")[0] not in sys.modules and importlib.util.find_spec(n.split(".")[0]) is None}
    for name in CNERF_UNUSED_IMPORTS:
        if name.split(".")[0] in absent:
            sys.modules[name] = _stub_module(name)
    with _no_extension_builds():
        model = _import_from(code, CNERF_MODULES, "model")
    return model, importlib.import_module("utils")


class Options(dict):
    """The attribute-style option dict (munch) the official CNeRF constructors read."""

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value) -> None:
        self[key] = value


def interleaved_times(fns: dict[str, Callable[[], None]], repeats: int, device: str = "cpu") -> dict[str, list[float]]:
    """Wall seconds of each function, run in turn ``repeats`` times, so that a change of machine load
    during the benchmark affects every function alike (report the min of each list)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    return times


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a - b|`` of two tensors of the same shape (float64 on CPU)."""
    if a.shape != b.shape:
        raise InputError(f"outputs differ in shape: {list(a.shape)} vs {list(b.shape)}")
    return float((a.detach().double().cpu() - b.detach().double().cpu()).abs().max())
