"""Errors gan3d raises on bad input.

Every error says what is wrong and how to fix it; the command line prints the message alone (no stack
trace) and exits with status 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")


class Gan3dError(Exception):
    """Base class of every error gan3d raises deliberately."""


class InputError(Gan3dError, ValueError):
    """A value given by the user is malformed (a tensor shape, a seed list, an angle, a radius)."""


class DatasetError(InputError):
    """A data set is missing, unreadable or inconsistent (labels, image sizes, mask classes)."""


class UnknownModelError(Gan3dError, KeyError):
    """A model name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEvaluatorError(UnknownModelError):
    """A metric name that no installed plugin registers."""


class CheckpointError(Gan3dError):
    """A checkpoint file is unreadable, truncated, tampered with or of another method."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asks for a global that is not on the allow-list; nothing from it was executed."""


class ChecksumError(CheckpointError):
    """A file's sha256 differs from the one its model card pins."""


class WeightsNotFoundError(Gan3dError, FileNotFoundError):
    """The weights of a model are neither cached nor downloadable (offline, no URL)."""


def check_shape(name: str, tensor, expected: tuple, hint: str = "") -> None:
    """Raise :class:`InputError` unless ``tensor.shape`` fits ``expected``.

    ``expected`` holds ints or ``None`` (any size), e.g. ``(None, 4, 4)`` for a batch of 4x4 matrices.
    """
    shape = tuple(getattr(tensor, "shape", ()))
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        want = "[" + ", ".join("B" if e is None else str(e) for e in expected) + "]"
        msg = f"{name} must have shape {want}, got {list(shape)}"
        raise InputError(msg + (f"; {hint}" if hint else ""))


def field_problems(error: ValidationError, names: dict[str, str] | None = None) -> list[str]:
    """Each problem of a pydantic ``ValidationError`` as ``"<field> = <value given>: <reason>"``.

    ``names`` maps a dotted field path (``"camera.look_at"``) to how the user's file spells it
    (``"rendering_kwargs['avg_camera_pivot']"``); the longest mapped prefix of a problem's path wins and
    the rest of the path is kept (``[2]``, ``.field``), so the message names what the user can edit.
    """
    names = names or {}
    out = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"]
        if err["type"] == "missing" and loc and loc[-1].isdigit():  # a tuple given too few items
            msg = f"too few items (item {loc.pop()} is missing)"
        label = ".".join(loc) or "(top level)"
        for cut in range(len(loc), 0, -1):
            key = ".".join(loc[:cut])
            if key in names:
                label = names[key] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[cut:])
                break
        given = repr(err.get("input"))
        given = given if len(given) <= 60 else given[:57] + "..."
        out.append(f"{label} = {given}: {msg}")
    return out


def validated(model: type[M], data: Any, *, source: str, fix: str, names: dict[str, str] | None = None,
              error: type[Gan3dError] = CheckpointError) -> M:
    """``model(**data)`` for a pydantic ``model``, or one ``error`` naming ``source``, every bad field (by
    ``names``, see :func:`field_problems`) with the value it got, and ``fix``.

    For configs and cards built from values read out of a file: a pydantic traceback would name neither
    the file nor how to repair it. An :class:`InputError` the model raises itself (checks in ``__init__``)
    is re-raised as ``error`` with the same file and fix.
    """
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping of {model.__name__} fields, got {type(data).__name__}; {fix}")
    try:
        return model(**data)
    except ValidationError as e:
        problems = field_problems(e, names)
        lines = [f"{source} holds {len(problems)} value(s) gan3d cannot use ({model.__name__}):"]
        raise error("\n".join(lines + [f"  {p}" for p in problems] + [fix])) from None
    except InputError as e:
        raise error(f"{source}: {e}\n{fix}") from None
