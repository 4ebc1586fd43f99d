"""Reading NVIDIA's EG3D network pickles as data, without NVIDIA's code.

An official snapshot is ``pickle.dump(dict(training_set_kwargs, G, D, G_ema, augment_pipe))`` where
the networks use ``torch_utils.persistence``: each persistent object pickles as
``_reconstruct_persistent_obj(meta)`` with ``meta = {type, version, module_src, class_name, state}``
(``module_src`` is the full source text of the defining module, which the official loader
``exec``s). Here that function is replaced by one that records ``class_name`` and ``state`` only; the
source text is never run. Non-persistent classes (``training.*``, ``torch.nn.modules.*``) become inert
:class:`gan3d.unpickle.PickledObject` records; ``dnnlib.util.EasyDict`` becomes a plain dict;
tensors come from ``torch._utils`` rebuilders with storages read by ``torch.load(weights_only=True)``.
Every other global is refused by the core's restricted unpickler before anything runs.

The G_ema tree is then walked like ``nn.Module.state_dict()`` (own parameters, persistent buffers,
then children in order), which gives exactly the official key names and order.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gan3d.errors import CheckpointError
from gan3d.unpickle import PickledObject, load_pickle

# Positional order of TriPlaneGenerator.__init__ (for pickles whose _init_args is not empty).
_INIT_ARG_NAMES = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "sr_num_fp16_res",
                   "mapping_kwargs", "rendering_kwargs", "sr_kwargs")
_HEAD_BYTES = 4 << 20  # the first persistent object's class name lies within its module source near the start


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: its items, as a plain dict (no attribute magic)."""


@dataclass
class PersistentObject:
    """What a ``torch_utils.persistence`` record holds, minus its source code (only hashed)."""

    class_name: str
    state: dict
    module_sha256: str = ""
    version: Any = None

    @property
    def cls_path(self) -> str:
        return self.class_name


def _reconstruct_persistent_obj(meta: dict) -> PersistentObject:
    if not isinstance(meta, dict) or "class_name" not in meta or "state" not in meta:
        raise CheckpointError("persistence record without class_name/state; not an NVIDIA network pickle")
    src = meta.get("module_src", "")
    digest = hashlib.sha256(src.encode("utf-8", "replace") if isinstance(src, str) else b"").hexdigest()
    state = meta["state"]
    return PersistentObject(str(meta["class_name"]), dict(state) if isinstance(state, dict) else {},
                            digest, meta.get("version"))


ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
}
STUB_MODULES = ("training.", "torch.nn.modules.")


def read_network_pickle(path: str | os.PathLike) -> dict:
    """The top-level dict of an NVIDIA network pickle (``G``, ``D``, ``G_ema``, ...) as inert data.

    Raises :class:`gan3d.UnsafeCheckpointError` for any global outside the allow-list (nothing from the
    file is executed) and :class:`gan3d.CheckpointError` for truncated or malformed files.
    """
    data = load_pickle(path, allowed=ALLOWED, stub_modules=STUB_MODULES)
    if not isinstance(data, dict):
        raise CheckpointError(f"{str(path)!r} is a pickle of a {type(data).__name__}, not an NVIDIA network "
                              f"snapshot (a dict with G, D, G_ema)")
    return data


def class_name(node: Any) -> str:
    if isinstance(node, PersistentObject):
        return node.class_name
    if isinstance(node, PickledObject):
        return node.cls_path.rsplit(".", 1)[-1]
    return type(node).__name__


def _module_state(node: Any, where: str) -> dict:
    state = node.state if isinstance(node, (PersistentObject, PickledObject)) else None
    if isinstance(state, tuple) and state and isinstance(state[0], dict):  # (dict, slots) form
        state = state[0]
    if not isinstance(state, dict) or "_modules" not in state:
        raise CheckpointError(f"{where} is not a torch module record ({class_name(node)})")
    return state


def module_state_dict(node: Any, prefix: str = "", out: OrderedDict | None = None) -> OrderedDict:
    """``nn.Module.state_dict()`` of a pickled module tree: parameters, persistent buffers, children."""
    out = OrderedDict() if out is None else out
    st = _module_state(node, prefix.rstrip(".") or "the network")
    skip = set(st.get("_non_persistent_buffers_set") or ())
    for name, p in (st.get("_parameters") or {}).items():
        if p is not None:
            out[prefix + name] = _tensor(p, prefix + name)
    for name, b in (st.get("_buffers") or {}).items():
        if b is not None and name not in skip:
            out[prefix + name] = _tensor(b, prefix + name)
    for name, child in (st.get("_modules") or {}).items():
        if child is not None:
            module_state_dict(child, f"{prefix}{name}.", out)
    return out


def _tensor(t: Any, key: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(f"state entry {key!r} is a {type(t).__name__}, not a tensor")
    return t.detach()


@dataclass
class EG3DCheckpoint:
    """An EG3D generator read from a pickle: enough to rebuild it and load its weights strictly."""

    init_kwargs: dict
    rendering_kwargs: dict
    neural_rendering_resolution: int
    state_dict: OrderedDict
    sr_antialias: bool | None = None
    source: str = ""
    extras: dict = field(default_factory=dict)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes, torch.Tensor)):
        return obj.item()  # numpy scalars
    return obj


def eg3d_from_network(net: Any, source: str) -> EG3DCheckpoint:
    """Extract an :class:`EG3DCheckpoint` from a pickled ``TriPlaneGenerator`` record."""
    name = class_name(net)
    if name != "TriPlaneGenerator":
        where = getattr(net, "cls_path", name)
        raise CheckpointError(f"{source} holds a {where} generator, not EG3D's TriPlaneGenerator; it is a checkpoint "
                              f"of another method (load it with that method's plugin)")
    st = _module_state(net, "G_ema")
    args = tuple(st.get("_init_args") or ())
    kwargs = dict(_plain(st.get("_init_kwargs") or {}))
    for n, v in zip(_INIT_ARG_NAMES, args):
        kwargs.setdefault(n, _plain(v))
    rendering = _plain(st.get("rendering_kwargs", kwargs.get("rendering_kwargs")))
    if not isinstance(rendering, dict):
        raise CheckpointError(f"{source}: the generator has no rendering_kwargs")
    rendering = dict(rendering)
    nrr = st.get("neural_rendering_resolution", 64)
    sr = (st.get("_modules") or {}).get("superresolution")
    sr_antialias = None
    if sr is not None:
        sr_state = _module_state(sr, "superresolution")
        # the module that was really built wins over the (possibly edited) rendering_kwargs entry
        rendering["superresolution_module"] = "training.superresolution." + class_name(sr)
        if "sr_antialias" in sr_state:
            sr_antialias = bool(sr_state["sr_antialias"])
    try:
        nrr = int(_plain(nrr))
    except (TypeError, ValueError):
        raise CheckpointError(f"{source}: neural_rendering_resolution {nrr!r} is not an integer") from None
    state_dict = module_state_dict(net)
    return EG3DCheckpoint(kwargs, rendering, nrr, state_dict, sr_antialias, source)


def load_eg3d_pickle(path: str | os.PathLike, network: str = "G_ema") -> EG3DCheckpoint:
    """Read ``network`` (default ``G_ema``) of an official EG3D snapshot pickle as an :class:`EG3DCheckpoint`."""
    path = Path(path)
    source = f"pickle {str(path)!r}"
    data = read_network_pickle(path)
    if network not in data:
        keys = ", ".join(sorted(map(str, data))) or "nothing"
        raise CheckpointError(f"{source} has no {network!r} (it holds {keys}); not an NVIDIA EG3D snapshot")
    return eg3d_from_network(data[network], source)


def looks_like_eg3d_pickle(path: str | os.PathLike) -> bool:
    """Cheap check without unpickling: a pickle whose head names the persistence loader and ``TriPlaneGenerator``.

    Used by the checkpoint hook to pass files of other methods on (returning None) instead of failing.
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return False
    return head[:1] == b"\x80" and b"TriPlaneGenerator" in head and b"_reconstruct_persistent_obj" in head
