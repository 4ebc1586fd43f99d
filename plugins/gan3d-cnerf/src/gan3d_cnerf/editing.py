"""Region editing on CNeRF's per-class latent slots, and how local an edit stayed.

A CNeRF ``w`` (see :mod:`gan3d_cnerf.generator`) holds a shape code (slot ``2k``) and a texture code
(slot ``2k+1``) per class k. Editing a region replaces or moves those two rows and leaves every other
class, and the decoder's latent, alone. Caveats of the model itself: class 0 (background) also drives
the frozen init SDF (global geometry), and texture codes can move the surface (the SDF head sits after
the texture layers).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

import gan3d
from gan3d.errors import InputError

from .classes import region_index

PARTS = ("shape", "texture", "both")
MAX_STEP = 50.0    # the student interface's slider range; larger moves leave the latent distribution
MAX_STEPS = 64


def _slot_rows(k: int, part: str) -> list[int]:
    if part not in PARTS:
        raise InputError(f"unknown code part {part!r}; use one of {', '.join(PARTS)}")
    return {"shape": [2 * k], "texture": [2 * k + 1], "both": [2 * k, 2 * k + 1]}[part]


def swap_region(w: torch.Tensor, w_from: torch.Tensor, region: str | int, part: str = "both") -> torch.Tensor:
    """``w [B,R,S]`` with region's shape and/or texture codes taken from ``w_from`` (``[B,R,S]`` or ``[1,R,S]``)."""
    k = region_index(region)
    if w_from.shape[1:] != w.shape[1:]:
        raise InputError(f"latents of different layouts: {list(w.shape)} and {list(w_from.shape)}")
    out = w.clone()
    for r in _slot_rows(k, part):
        out[:, r] = w_from[:, r].to(out)
    return out


def parse_steps(text: str) -> list[float]:
    """``"-3:3:7"`` (start:stop:count, both ends) or ``"-2,0,2"`` -> step sizes; out-of-range is an error."""
    text = str(text).strip()
    try:
        if ":" in text:
            a, b, n = text.split(":")
            start, stop, count = float(a), float(b), int(n)
            if not 1 <= count <= MAX_STEPS:
                raise InputError(f"--steps {text!r}: the count must be 1 to {MAX_STEPS}, got {count}")
            steps = [start] if count == 1 else np.linspace(start, stop, count).tolist()
        else:
            steps = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"bad --steps {text!r}; give start:stop:count (-3:3:7) or a list (-2,0,2)") from None
    if not steps or len(steps) > MAX_STEPS:
        raise InputError(f"--steps {text!r} must give 1 to {MAX_STEPS} steps")
    bad = [s for s in steps if not math.isfinite(s) or abs(s) > MAX_STEP]
    if bad:
        raise InputError(f"step {bad[0]} is out of range; steps are finite numbers in [-{MAX_STEP:g}, {MAX_STEP:g}] "
                         f"(units of the unit direction)")
    return steps


def load_direction(path: str | Path, dim: int | None) -> torch.Tensor:
    """A direction ``[dim]`` from ``.pt`` (tensor, weights-only), ``.npy`` or ``.npz`` (first array);
    ``dim=None`` checks the file alone (before the model is loaded)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"direction file {str(path)!r} does not exist")
    try:
        if path.suffix == ".pt":
            d = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(d, dict):
                d = next(iter(d.values()))
        elif path.suffix == ".npy":
            d = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                d = f[f.files[0]]
        else:
            raise InputError(f"direction files end in .pt, .npy or .npz, got {path.name!r}")
        d = torch.as_tensor(np.asarray(d) if not torch.is_tensor(d) else d, dtype=torch.float32).reshape(-1)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
        raise InputError(f"{str(path)!r} is not a readable direction file (corrupt, or not a .pt tensor / .npy / "
                         f".npz array: {type(e).__name__}); save one with torch.save(tensor, path) or "
                         f"numpy.save") from None
    if (dim is not None and d.numel() != dim) or not torch.isfinite(d).all() or float(d.norm()) == 0:
        size = "" if dim is None else f"{dim} "
        raise InputError(f"{str(path)!r} must hold {size}finite numbers, not all zero (got {d.numel()})")
    return d


def move_region(w: torch.Tensor, region: str | int, steps: list[float], direction: torch.Tensor | str = "self",
                part: str = "shape") -> torch.Tensor:
    """One edited copy of ``w [1,R,S]`` per step: the region's code(s) moved by ``step * unit direction``.

    ``direction="self"`` moves each code along its own normalised value (``w + step * w / |w|``, the
    student interface's sliders); a tensor ``[S]`` is normalised to unit length first, so steps have
    the same scale for every direction. Returns ``[len(steps),R,S]``.
    """
    if w.shape[0] != 1:
        raise InputError("move_region edits one latent at a time")
    k = region_index(region)
    if isinstance(direction, str) and direction != "self":
        raise InputError(f"direction must be 'self' or a tensor, got {direction!r}")
    out = w.repeat(len(steps), 1, 1)
    s = torch.tensor(steps, dtype=w.dtype, device=w.device)[:, None]
    for r in _slot_rows(k, part):
        code = w[0, r]
        d = code if isinstance(direction, str) else direction.to(w)
        out[:, r] = code + s * d / d.norm().clamp_min(1e-12)
    return out


def locality(before: torch.Tensor, after: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """How local an edit was: mean absolute change inside/outside the region ``mask [B,1,H,W]``.

    images ``[B,3,H,W]`` in [-1,1]. ``score = inside / (inside + outside)`` per sample: 1 when only the
    region changed, 0.5 when the change is spread evenly, 0 when only the rest changed (NaN: no change).
    """
    if before.shape != after.shape:
        raise InputError(f"images of different shapes {list(before.shape)} and {list(after.shape)}")
    if mask.shape[-2:] != before.shape[-2:]:
        mask = torch.nn.functional.interpolate(mask, size=before.shape[-2:], mode="nearest")
    diff = (after - before).abs().mean(1, keepdim=True)  # [B,1,H,W]
    inside_px = mask.sum((1, 2, 3))
    outside_px = (1 - mask).sum((1, 2, 3))
    inside = (diff * mask).sum((1, 2, 3)) / inside_px.clamp_min(1)
    outside = (diff * (1 - mask)).sum((1, 2, 3)) / outside_px.clamp_min(1)
    total = inside + outside
    score = torch.where(total > 0, inside / total.clamp_min(1e-12), torch.full_like(total, float("nan")))
    return {"inside": inside, "outside": outside, "score": score}


def final_semantic(out: gan3d.GeneratorOutput) -> torch.Tensor:
    """The mask logits of the output image: the decoder's ``semantic_high [B,K,H,W]`` of a full model, else
    the volume-rendered ``semantic [B,K,h,w]`` (stage 1)."""
    return out.extras.get("semantic_high", out.semantic)


def edit_locality(before: gan3d.GeneratorOutput, after: gan3d.GeneratorOutput,
                  regions: int | str | list[int | str]) -> dict[str, torch.Tensor]:
    """How local each of E edits was: :func:`locality` on the pixels of its region before or after the edit
    (a swapped mouth may be larger than the original).

    ``before``: the unedited output (1 sample, or E); ``after``: E edited samples; ``regions``: the edited
    region, one for all or one per edit. Returns ``inside``, ``outside``, ``score`` (NaN where the region
    is empty) and ``empty`` (bool: the region shows in neither image, so locality means nothing), each
    ``[E]``, and ``mask [E,1,H,W]``.
    """
    E = after.image.shape[0]
    sem_b, sem_a = final_semantic(before), final_semantic(after)
    K = sem_a.shape[1]
    names = regions if isinstance(regions, list) else [regions] * E
    if len(names) != E:
        raise InputError(f"{len(names)} regions for {E} edits; give one region, or one per edit")
    ks = torch.tensor([region_index(r, K) for r in names], device=sem_a.device)[:, None, None, None]
    mask = ((sem_b.argmax(1, keepdim=True).expand(E, -1, -1, -1) == ks)
            | (sem_a.argmax(1, keepdim=True) == ks)).float()
    loc = locality(before.image.expand_as(after.image), after.image, mask)
    empty = mask.sum((1, 2, 3)) == 0
    loc["score"] = torch.where(empty, torch.full_like(loc["score"], float("nan")), loc["score"])
    return {**loc, "empty": empty, "mask": mask}
