"""Errors gan3d raises on bad input.

Every error says what is wrong and how to fix it; the command line prints the message alone (no stack
trace) and exits with status 2.
"""

from __future__ import annotations


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
