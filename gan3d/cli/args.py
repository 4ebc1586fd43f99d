"""Parsing of the number lists the commands take."""

from __future__ import annotations

import math

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
