"""What the commands share: number lists, the one --device, the weights options (--weights,
--random-weights, --random-if-missing) and loading, output-location checks, and flag-named checks."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from ..errors import InputError


def parse_angles(text: str, what: str) -> list[float]:
    """``"-0.4,0,0.4"`` or ``"-1.2:1.2:7"`` (start:stop:count, both ends included) -> floats (radians).

    NaN, infinities and malformed lists are one-line errors.
    """
    text = str(text).strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if count < 1:
                raise InputError(f"{what} range {text!r} needs a count of at least 1")
            vals = [start] if count == 1 else [start + (stop - start) * i / (count - 1) for i in range(count)]
        else:
            vals = [float(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise InputError(f"bad {what} list {text!r}; give comma-separated radians (-0.4,0,0.4) "
                         f"or a range start:stop:count (-1.2:1.2:7)") from None
    if not vals:
        raise InputError(f"empty {what} list")
    if not all(math.isfinite(v) for v in vals):
        raise InputError(f"{what} must be finite numbers, got {text!r}")
    return vals


def pair_pitches(yaws: list[float], pitches: list[float]) -> list[float]:
    """One pitch for all yaws, or one per yaw."""
    if len(pitches) == 1:
        return pitches * len(yaws)
    if len(pitches) != len(yaws):
        raise InputError(f"--pitch has {len(pitches)} values for {len(yaws)} yaws; give one or one per yaw")
    return pitches


# ---------------------------------------------------------------------------------------------- devices
def device_type(text: str) -> str:
    """argparse ``type`` of every ``--device``: ``auto`` (CUDA if present, else CPU), ``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``, checked against this machine; the parsed value is a usable torch device."""
    import argparse

    from ..registry import check_device

    try:
        return check_device(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_device_argument(p, default: str | None = "auto") -> None:
    """The one ``--device`` option (see :func:`device_type`); ``default=None`` lets a command tell an
    option left out (it then means auto)."""
    p.add_argument("--device", type=device_type, default=default,
                   help="cpu, cuda, cuda:N, mps or auto (default: CUDA if available, else CPU)")


# ---------------------------------------------------------------------------------------------- weights
RANDOM_WEIGHTS_HELP = ("use random-initialised weights (offline pipeline checks only; every image, table row "
                       "and result file is labelled 'random weights')")


def add_weights_arguments(p, what: str = "weight file/folder") -> None:
    """``--weights PATH``, ``--random-weights`` and ``--random-if-missing``: one way to choose weights."""
    p.add_argument("--weights", default=None, help=f"{what} overriding the cache")
    p.add_argument("--random-weights", action="store_true", help=RANDOM_WEIGHTS_HELP)
    p.add_argument("--random-if-missing", action="store_true",
                   help="like --random-weights, but only when the official weights are not available here")


def weights_choice(args) -> str | None:
    """What ``args`` asks for: a path, ``"random"``, ``"random-if-missing"`` or None (the cache)."""
    weights = getattr(args, "weights", None)
    rand, if_missing = getattr(args, "random_weights", False), getattr(args, "random_if_missing", False)
    if sum(bool(x) for x in (weights, rand, if_missing)) > 1:
        raise InputError("give only one of --weights PATH, --random-weights and --random-if-missing")
    if weights == "random" or rand:  # `--weights random` is the Python API's spelling; kept working
        return "random"
    return "random-if-missing" if if_missing else weights


def load_model(args, name: str | None = None, device: str | None = None):
    """The generator ``name`` (default ``args.model``) with the weights ``args`` ask for (see
    :func:`add_weights_arguments`); a generator the core already loaded (``args.generator``) is reused."""
    from ..compare import load_or_random
    from ..registry import list_models, load

    name = args.model if name is None else name
    device = getattr(args, "device", "cpu") if device is None else device
    choice = weights_choice(args)
    if choice == "random-if-missing" and name not in list_models():
        choice = None  # a checkpoint path: its weights are the file itself
    if choice == "random" and name not in list_models():
        raise InputError(f"--random-weights needs a registered model name (gan3d models), not {name!r}")
    given = getattr(args, "generator", None)
    if given is not None and name == getattr(args, "model", None):
        return given.to(device)
    if choice == "random-if-missing":
        return load_or_random(name, device)
    if choice == "random":
        G = load(name, device=device, weights="random")
        print(f"warning: {name} runs with RANDOM WEIGHTS: its images and numbers show the pipeline only",
              file=sys.stderr)
        return G
    return load(name, device=device, weights=choice)


# ---------------------------------------------------------------------------------------------- outputs
def default_out(command: str, model: str) -> Path:
    """``outputs/<command>/<model>``: a registered name with ``_`` for ``/``, a checkpoint by its stem."""
    from ..registry import list_models

    name = model.replace("/", "_") if model in list_models() else Path(model).stem or "model"
    return Path("outputs") / command / name


def output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create and check an output folder before any work (``InputError`` naming ``path`` otherwise)."""
    from ..io import ensure_writable_dir

    return ensure_writable_dir(path, flag)


def output_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Check that a file can be written at ``path`` before any work."""
    from ..io import ensure_writable_file

    return ensure_writable_file(path, flag)


# ---------------------------------------------------------------------------------------------- checks
def check_truncation(trunc: float, cutoff: int | None = None) -> None:
    """``--trunc`` in [-1, 2] and ``--trunc-cutoff`` >= 0, named by their flags."""
    if not (math.isfinite(trunc) and -1.0 <= trunc <= 2.0):
        raise InputError(f"--trunc must be a number in [-1, 2] (1 = no truncation), got {trunc}")
    if cutoff is not None and cutoff < 0:
        raise InputError(f"--trunc-cutoff must be a non-negative number of layers, got {cutoff}")


def check_fps(fps: float) -> None:
    """``--fps`` must be a positive finite number."""
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"--fps must be a positive number of frames per second, got {fps}")


def check_fov(fov: float | None) -> None:
    """``--fov`` (degrees), when given, must lie in (0, 180)."""
    if fov is not None and not (math.isfinite(fov) and 0 < fov < 180):
        raise InputError(f"--fov must be degrees in (0, 180), got {fov}")


def check_positive(value: float | int | None, flag: str, minimum: float = 1) -> None:
    """``flag`` must be at least ``minimum`` (and finite); None passes (an option left out)."""
    if value is not None and not (math.isfinite(value) and value >= minimum):
        raise InputError(f"{flag} must be at least {minimum:g}, got {value}")


def warn_pose_range(card, yaws: list[float], pitches: list[float]) -> None:
    """One warning when any (yaw, pitch) lies outside the card's trained pose range; angles are radians,
    and an angle beyond pi is probably meant in degrees, so the warning says so and gives its radians."""
    rng = card.pose_range
    outside = [(y, p) for y, p in zip(yaws, pitches) if not rng.contains(y, p)]
    if not outside:
        return
    y, p = outside[0]

    def span(lo: float, hi: float) -> str:
        return f"{lo:+.2f}..{hi:+.2f} rad ({math.degrees(lo):+.0f}..{math.degrees(hi):+.0f} degrees)"

    msg = (f"{card.name} was trained on yaw {span(*rng.yaw)} and pitch {span(*rng.pitch)}; {len(outside)} view(s) "
           f"lie outside, e.g. yaw {y:g}, pitch {p:g} (radians)")
    big = max(abs(v) for v in (y, p))
    if big > math.pi:
        msg += (f"; angles are radians: {big:g} rad is {math.degrees(big):.0f} degrees "
                f"(for {big:g} degrees give {math.radians(big):.4f})")
    print(f"warning: {msg}", file=sys.stderr)
