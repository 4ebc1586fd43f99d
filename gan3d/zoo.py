"""Shipped models: trained weights that a plugin carries as package data, registered like any model.

A plugin keeps each packed model (``gan3d weights pack``, :mod:`gan3d.pack`) as a safe-form folder under
its package, e.g. ``gan3d_eg3d/zoo/synth64/`` with ``config.json``, ``weights.pt`` and ``reference.png``,
and adds ``packaged_models("gan3d_eg3d")`` to what its ``gan3d_register_models`` hook returns. The
card inside ``config.json`` becomes the registered card; its weight file points into the package
(:attr:`gan3d.WeightFile.package`), so the cache resolves it in place and checks its sha256 on every
load. Building goes through the plugin's own ``gan3d_load_checkpoint`` hook: nothing method-specific here.

The same module renders a packed model's fixed reference views (:func:`reference_render`) and judges
whether they look like a trained 3D-aware model at all (:func:`sanity`): :mod:`gan3d.pack` records both
at packing time and the shipped-model test repeats them.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cards import ModelCard, ReferenceRender
from .images import to_uint8
from .pretrained import CONFIG, WEIGHTS
from .registry import ModelEntry

ZOO = "zoo"
REFERENCE_PNG = "reference.png"


def packaged_models(package: str, folder: str = ZOO) -> list[ModelEntry]:
    """One :class:`ModelEntry` per packed model under ``package``'s ``folder`` (none: an empty list).

    A folder whose ``config.json`` cannot be read as a packed model is skipped with a warning, so one
    bad file does not take the plugin's other models down.
    """
    try:
        root = importlib.resources.files(package).joinpath(folder)
    except ModuleNotFoundError:
        return []
    if not root.is_dir():
        return []
    entries = []
    for sub in sorted(root.iterdir(), key=lambda p: p.name):
        if not sub.is_dir() or not sub.joinpath(CONFIG).is_file():
            continue
        try:
            card = packaged_card(json.loads(sub.joinpath(CONFIG).read_text()), f"{package}:{folder}/{sub.name}")
        except (ValueError, KeyError, TypeError) as e:
            warnings.warn(f"packed model {package}:{folder}/{sub.name} is skipped: its {CONFIG} is not a packed "
                          f"model ({type(e).__name__}: {str(e).splitlines()[0]}); pack it again with "
                          f"`gan3d weights pack`", RuntimeWarning, stacklevel=2)
            continue
        entries.append(ModelEntry(card, build_packaged))
    return entries


def packaged_card(meta: dict, location: str) -> ModelCard:
    """The card of a packed model's ``config.json`` with its weight file pointed at ``location``."""
    card = ModelCard.model_validate(meta["card"])
    weights = [wf for wf in card.weights if wf.filename == WEIGHTS]
    if card.packed is None or len(weights) != 1 or weights[0].sha256 is None:
        raise ValueError(f"the card pins no sha256 of {WEIGHTS} or has no packing record")
    return card.model_copy(update={"weights": (weights[0].model_copy(update={"package": location}),)})


def build_packaged(card: ModelCard, files: dict[str, Path] | None, device: str = "cpu"):
    """Registry factory of packed models: the folder of the resolved ``weights.pt``, loaded by its plugin."""
    from .errors import InputError
    from .registry import load_checkpoint

    if files is None:
        raise InputError(f"{card.name} ships with its trained weights; random weights are only for models whose "
                         f"weights are missing (drop --random-weights)")
    gen = load_checkpoint(Path(files[WEIGHTS]).parent, device)
    gen.card = card
    return gen


def shipped_models() -> list[str]:
    """Registered models whose weights ship inside an installed package, sorted."""
    from .registry import list_models, model_card

    return [n for n in list_models() if is_shipped(model_card(n))]


def is_shipped(card: ModelCard) -> bool:
    return bool(card.weights) and all(wf.package is not None for wf in card.weights)


# ------------------------------------------------------------------------------------------- checks
def reference_render(G, spec: ReferenceRender) -> tuple[np.ndarray, "object"]:
    """``spec``'s seeds (rows) x yaws (columns), rendered deterministically.

    Returns the uint8 images ``[S,V,H,W,3]`` and the :class:`gan3d.GeneratorOutput` (batch ``S*V``,
    seed-major) for the checks of :func:`sanity`.
    """
    from .latents import sample_latents

    G.set_deterministic(True)
    S, V = len(spec.seeds), len(spec.yaws)
    z = sample_latents(G, list(spec.seeds)).z.repeat_interleave(V, 0)
    cams = G.card.camera.orbit(list(spec.yaws) * S, [spec.pitch] * (S * V))
    with torch.no_grad():
        out = G(z, cams, truncation_psi=spec.truncation_psi)
    images = to_uint8(out.image)
    return images.reshape(S, V, *images.shape[1:]), out


def render_sha256(images: np.ndarray) -> str:
    """sha256 of uint8 images (their shape included)."""
    arr = np.ascontiguousarray(images, dtype=np.uint8)
    return hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """PSNR in dB of two images in ``[-1,1]`` (peak-to-peak 2); None when they are identical."""
    mse = float((a.double() - b.double()).square().mean())
    return None if mse == 0 else float(10 * np.log10(4.0 / mse))


@dataclass(frozen=True)
class Sanity:
    """Whether renders look like a trained model: one head of plausible size with depth in front."""

    mask_share: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def head_mask(G, out, backdrop: float = 0.05) -> torch.Tensor:
    """``[B,h,w]`` bool: opaque pixels (mask > 0.5) nearer than the scene's back half, and nearer than the
    backdrop where the model paints one close behind the head.

    Models that paint the background into their volume (EG3D) are opaque everywhere; their background
    usually lies far behind the look-at point, so pixels deeper than halfway from it to the far plane are
    not head. A plain backdrop (the synthetic world's) looks the same at any depth, so a model may put it
    just behind the head instead: when most of a view's border is still counted as head, the head is what
    lies in front of the border's median depth by ``backdrop`` of the depth range.
    """
    fg = out.mask[:, 0] > 0.5
    rng = G.depth_range()
    if rng is None or out.depth is None:
        return fg
    depth = out.depth[:, 0]
    split = G.card.camera.radius + 0.5 * (rng[1] - G.card.camera.radius)
    fg = fg & (depth < split)
    painted = _border(fg).float().mean(1) > 0.5                                           # [B]
    if painted.any():
        behind = _border(depth).median(1).values - backdrop * (rng[1] - rng[0])          # [B]
        fg = torch.where(painted[:, None, None], fg & (depth < behind[:, None, None]), fg)
    return fg


def _border(t: torch.Tensor) -> torch.Tensor:
    """``[B,h,w]`` -> ``[B,2h+2w-4]``: the values on each map's outer frame."""
    return torch.cat([t[:, 0], t[:, -1], t[:, 1:-1, 0], t[:, 1:-1, -1]], 1)


def surface_sanity(depth: torch.Tensor, one_piece: float = 0.9, relief: float = 0.4) -> Sanity:
    """Checks for a mesh that fills the whole frame (LiftedGAN lifts the entire image, background
    included): it has no silhouette to measure, so its face must stand out instead. In every view of
    ``depth [B,h,w]`` the centre (a disc a sixth of the frame across) lies in front of the frame's border
    by at least ``relief`` of the view's depth spread (1st..99th percentile), and what lies in front of
    the midway depth is one piece. The share reported is that front region's.

    The 0.4: the shipped liftedgan/synth64's views stand out by at least 0.56 of their spread; six
    randomly initialised LiftedGANs of its size by at most 0.26 (measured 2026-12-03)."""
    B, H, W = depth.shape
    yy, xx = torch.meshgrid(torch.arange(H, device=depth.device), torch.arange(W, device=depth.device),
                            indexing="ij")
    centre = ((yy - (H - 1) / 2) ** 2 + (xx - (W - 1) / 2) ** 2).sqrt() <= min(H, W) / 6
    flat = depth.flatten(1)
    c, b = flat[:, centre.flatten()].median(1).values, _border(depth).median(1).values      # [B], [B]
    spread = torch.quantile(flat, 0.99, dim=1) - torch.quantile(flat, 0.01, dim=1)
    problems = []
    short = (b - c) < relief * spread.clamp_min(1e-12)
    if short.any():
        i = int(short.nonzero()[0])
        problems.append(f"view {i}: the centre (median depth {float(c[i]):.3g}) is not in front of the frame's "
                        f"border ({float(b[i]):.3g}) by {relief:.0%} of the depth spread ({float(spread[i]):.3g}): "
                        f"no lifted face")
    front = depth < ((c + b) / 2)[:, None, None]
    pieces = [largest_component_share(m) for m in front.cpu().numpy()]
    if min(pieces) < one_piece:
        problems.append(f"the lifted face is scattered (its largest piece holds {min(pieces):.0%} of it in view "
                        f"{int(np.argmin(pieces))}): noise, not a surface")
    return Sanity(float(front.float().mean()), tuple(problems))


def largest_component_share(mask: np.ndarray) -> float:
    """Share of the ``True`` pixels of ``[h,w]`` ``mask`` in its largest 4-connected region (1 if empty)."""
    seen = np.zeros_like(mask, dtype=bool)
    total, best = int(mask.sum()), 0
    h, w = mask.shape
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        stack, size = [start], 0
        while stack:
            y, x = stack.pop()
            size += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        best = max(best, size)
    return best / total if total else 1.0


def sanity(G, out, share: tuple[float, float] = (0.05, 0.9), one_piece: float = 0.9) -> Sanity:
    """Checks on a :class:`gan3d.GeneratorOutput` of ``G`` (not noise): in every view the head
    (:func:`head_mask`) covers a share of the image within ``share`` and is one piece (its largest
    connected region holds at least ``one_piece`` of it); depth is finite, and the head lies in front of
    the background where there is background.

    A 2D model (``G.is_3d`` False, e.g. a shipped StyleGAN2 teacher) has no mask or depth: only its images
    are checked (finite, not flat), and the head share is NaN. A mesh model whose surface covers the whole
    frame (no depth range, opaque everywhere: LiftedGAN) gets :func:`surface_sanity` instead."""
    if not getattr(G, "is_3d", True):
        img = out.image
        if not torch.isfinite(img).all():
            return Sanity(float("nan"), ("the images have NaN or infinite values",))
        flat = img.flatten(1).std(1) < 0.02
        return Sanity(float("nan"), (f"{int(flat.sum())} of {len(flat)} images are flat (one colour)",)
                      if flat.any() else ())
    if out.mask is None or out.depth is None:
        return Sanity(float("nan"), ("the model renders no mask or no depth",))
    problems = []
    depth = out.depth[:, 0]
    if not torch.isfinite(depth).all():
        return Sanity(float("nan"), ("the depth map has NaN or infinite values",))
    if G.depth_range() is None and float((out.mask[:, 0] > 0.5).float().mean()) > 0.99:
        return surface_sanity(depth, one_piece)
    fg = head_mask(G, out)
    shares = fg.float().mean((1, 2))
    if not ((shares >= share[0]) & (shares <= share[1])).all():
        problems.append(f"the head covers {float(shares.min()):.1%}..{float(shares.max()):.1%} of the views, "
                        f"outside the plausible {share[0]:.0%}..{share[1]:.0%}")
    masks = fg.cpu().numpy()
    pieces = [largest_component_share(m) for m in masks]
    if min(pieces) < one_piece:
        problems.append(f"the head is scattered (its largest piece holds {min(pieces):.0%} of it in view "
                        f"{int(np.argmin(pieces))}): noise, not a surface")
    for i in range(depth.shape[0]):
        front, back = depth[i][fg[i]], depth[i][~fg[i]]
        if front.numel() and back.numel() >= 0.05 * depth[i].numel() and front.median() >= back.median():
            problems.append(f"view {i}: the head (median depth {float(front.median()):.3g}) is not in front of "
                            f"the background ({float(back.median()):.3g})")
            break
    return Sanity(float(shares.mean()), tuple(problems))
