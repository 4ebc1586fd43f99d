"""A restricted unpickler: read authors' pickles as plain data, never run code from them.

Python's pickle calls whatever global a file names. :func:`load_pickle` only resolves globals on an
allow-list (tensors, storages, ordered dicts, numpy scalars, ...). Classes under module prefixes that
a plugin declares (e.g. ``training.`` for EG3D) become inert :class:`PickledObject` records holding
their class path and state; they are never imported. Every other global is refused with its name in
the message, before anything runs.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .errors import CheckpointError, UnsafeCheckpointError


class PickledObject:
    """An inert stand-in for an object of a class that is not imported.

    ``cls_path`` is ``"module.Name"``, ``args`` what the pickle passed to ``__new__``/the class, and
    ``state`` what it passed to ``__setstate__`` (usually the object's ``__dict__``).
    """

    cls_path: str = ""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state: Any = None

    def __setstate__(self, state):
        self.state = state

    def __repr__(self) -> str:
        return f"<PickledObject {self.cls_path}>"


def _stub_class(module: str, name: str) -> type:
    return type(name, (PickledObject,), {"cls_path": f"{module}.{name}", "__module__": "gan3d.unpickle"})


def _load_storage_bytes(b: bytes):
    # A storage embedded as a nested torch.save blob: read it with the weights-only loader.
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


def _numpy_scalar(dtype, data=None):
    return np.frombuffer(data, dtype=dtype)[0] if data is not None else dtype.type()


DEFAULT_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch", "Size"): torch.Size,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}
for _dt in ("float16", "float32", "float64", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"):
    DEFAULT_ALLOWED[("torch", _dt)] = getattr(torch, _dt)
for _np in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "BoolDType"):
    if hasattr(np.dtypes, _np):
        DEFAULT_ALLOWED[("numpy.dtypes", _np)] = getattr(np.dtypes, _np)


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only allow-listed globals (see the module docstring)."""

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], Any] | None = None,
                 stub_modules: Iterable[str] = (), source: str = "pickle"):
        super().__init__(file)
        self._allowed = dict(DEFAULT_ALLOWED)
        self._allowed.update(allowed or {})
        self._stub_prefixes = tuple(stub_modules)
        self._stubs: dict[tuple[str, str], type] = {}
        self._source = source

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in self._allowed:
            return self._allowed[key]
        if any(module == p.rstrip(".") or module.startswith(p if p.endswith(".") else p + ".")
               for p in self._stub_prefixes):
            if key not in self._stubs:
                self._stubs[key] = _stub_class(module, name)
            return self._stubs[key]
        raise UnsafeCheckpointError(
            f"{self._source} refers to the global '{module}.{name}', which gan3d does not load "
            f"(only plain data is read from pickles; nothing from the file was executed). If this file "
            f"should be loadable, report it with the file's origin."
        )

    def persistent_load(self, pid):
        raise UnsafeCheckpointError(f"{self._source} uses persistent ids ({pid!r:.60}); it is not a plain pickle. "
                                    f"If it is a torch.save file, load it with torch.load(weights_only=True).")


def load_pickle(
    file: str | os.PathLike | BinaryIO,
    allowed: Mapping[tuple[str, str], Callable | type] | None = None,
    stub_modules: Iterable[str] = (),
) -> Any:
    """Unpickle ``file`` with :class:`RestrictedUnpickler`; broken files raise :class:`CheckpointError`."""
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
        with open(path, "rb") as f:
            return load_pickle_stream(f, allowed, stub_modules, source=f"pickle {str(path)!r}")
    return load_pickle_stream(file, allowed, stub_modules, source="pickle")


def load_pickle_stream(f: BinaryIO, allowed=None, stub_modules=(), source: str = "pickle") -> Any:
    try:
        return RestrictedUnpickler(f, allowed, stub_modules, source).load()
    except UnsafeCheckpointError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, RuntimeError, IndexError, KeyError,
            TypeError, AttributeError, UnicodeDecodeError, OverflowError, MemoryError) as e:
        raise CheckpointError(f"{source} is truncated or corrupt and cannot be read "
                              f"({type(e).__name__}: {e}); download it again") from None


def load_state_dict(path: str | os.PathLike, safe_globals: Iterable[Any] = ()) -> Any:
    """A ``torch.save``d file (state_dict or plain data), read with ``weights_only=True`` and clear errors.

    ``safe_globals`` extends torch's weights-only allow-list with inert data classes a method's files
    carry (e.g. ``argparse.Namespace`` in stylegan2-pytorch checkpoints).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(f"{str(path)!r} holds more than tensors and plain data and is not loaded "
                                    f"(weights-only loading refused it: {str(e).splitlines()[0]})") from None
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{str(path)!r} is truncated or corrupt ({type(e).__name__}: {e}); "
                              f"download it again") from None


def check_state_dict(state, expected: dict[str, tuple[int, ...]], what: str) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly the ``expected`` keys and shapes.

    The message counts and names missing, unexpected and mis-shaped keys, so a checkpoint of another
    architecture or width is explained, not a torch traceback. ``what`` names the file and model.
    """
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{what}: a state_dict maps names to tensors; this one does not")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {list(state[k].shape)} vs {list(expected[k])}" for k in expected
             if k in state and tuple(state[k].shape) != tuple(expected[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:4])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:4])})")
    if wrong:
        parts.append(f"{len(wrong)} of another shape (e.g. {'; '.join(wrong[:3])})")
    if parts:
        raise CheckpointError(f"{what} does not fit: " + "; ".join(parts))
