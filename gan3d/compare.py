"""Side-by-side comparison of models on identical latents and identical cameras.

The rules that make a comparison fair:

* **Latents**: every model draws from the same seeds with :func:`gan3d.sample_latents`, so models with
  the same latent size receive exactly the same z. A model with another latent space gets its own draw
  from the same seeds, and the result says so. A latent file applies to the models whose spec it fits.
* **Cameras**: every model is seen from the same directions (yaw, pitch), each at its own card's
  distance, pivot and focal length, since models of different scene scales (a car at 1.7 units, a
  face at 2.7) would otherwise show nothing; ``absolute_cameras=True`` hands every model the very same
  :class:`gan3d.Camera` instead, and a camera whose rays miss a model's rendered depths is an error.
  A view outside a model's trained pose range is still rendered, and marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from .camera import Camera
from .generator import Generator
from .images import to_uint8
from .io import atomic_write
from .latents import Latents, sample_latents


@dataclass
class Entry:
    """One compared model: its label, the latents it received and how they relate to the others'."""

    label: str
    generator: Generator
    latents: Latents
    note: str = ""
    cameras: Camera | None = None                          # the views this model was rendered from
    camera_kwargs: dict = field(default_factory=dict)      # radius, focal/fov_degrees, look_at of them


@dataclass
class Comparison:
    """Rendered views ``images[m]`` as ``[S,V,H,W,3]`` uint8, with what produced them."""

    entries: list[Entry]
    cameras: Camera
    yaws: list[float]
    pitches: list[float]
    images: list[np.ndarray] = field(default_factory=list)
    outside: list[list[bool]] = field(default_factory=list)  # [model][view]: outside trained pose range
    lpips: list[list[float]] | None = None                    # [model-1][seed] against the first model
    camera_kwargs: dict = field(default_factory=dict)          # the first model's radius, focal, look_at
    absolute_cameras: bool = False                             # every model got the first model's cameras


def load_or_random(name: str, device: str = "cpu", log=print) -> Generator:
    """``gan3d.load(name)``; if its official weights cannot be had, say so loudly and use random weights.

    The generator's ``weights_note`` then reads "random weights", which every grid and table shows.
    """
    from .errors import WeightsNotFoundError
    from .registry import load

    try:
        return load(name, device=device)
    except WeightsNotFoundError as e:
        log("\n" + "!" * 78 + f"\n!! {name}: official weights not available here -> using RANDOM WEIGHTS.\n"
            f"!! Its images and numbers show the pipeline only. {str(e).splitlines()[0]}\n"
            f"!! Get the weights with: gan3d weights add FILE --model {name}\n" + "!" * 78)
        return load(name, device=device, weights="random")


def model_label(G: Generator, source: str) -> str:
    label = G.card.name if source == G.card.name else f"{G.card.name} ({Path(source).name})"
    note = G.weights_note
    return f"{label} [{note}]" if note else label


def assign_latents(generators: list[Generator], seeds: list[int] | None,
                   latents: Latents | list[Latents] | None) -> list[tuple[Latents, str]]:
    """The latents each model receives, with a note for those that could not share the common ones.

    ``latents`` is one batch or several (a comparison's ``latents.pt``: one per model); each model gets
    the first batch whose spec fits, and the others draw from the file's own seeds; ``seeds``, if also
    given, must be those seeds. Every model receives the same number of latents.
    """
    from .errors import InputError

    pool = [] if latents is None else [latents] if isinstance(latents, Latents) else list(latents)
    if pool:
        file_seeds = next((lat.seeds for lat in pool if lat.seeds is not None), None)
        if seeds is not None and file_seeds is not None and list(seeds) != list(file_seeds):
            raise InputError(f"--seeds {seeds} differ from the latent file's seeds {file_seeds}; drop --seeds "
                             f"to use the file's")
        seeds = file_seeds if file_seeds is not None else seeds
        if not any(G.card.latent == lat.spec for G in generators for lat in pool):
            takes = "; ".join(f"{G.card.name}: {G.card.latent.describe()}" for G in generators)
            held = ", ".join(lat.spec.describe() for lat in pool)
            raise InputError(f"the latent file holds {held} latents, which none of the models takes "
                             f"({takes}); give a file written for one of them, or --seeds instead of --latents")
    out: list[tuple[Latents, str]] = []
    first_with_spec: dict = {}
    for G in generators:
        spec = G.card.latent
        key = tuple(spec.parts.items())
        match = next((lat for lat in pool if lat.spec == spec), None)
        if match is not None:
            lat, note = match, "latents from file"
        else:
            if seeds is None:
                raise InputError(f"the latent file does not fit {G.card.name} ({spec.describe()}) and records no "
                                 f"seeds to draw from; pass --seeds")
            lat = sample_latents(spec, seeds)
            note = "" if not pool else f"own draw from the file's seeds (the file holds {pool[0].spec.describe()})"
        if key in first_with_spec and not note:
            note = f"same z as {first_with_spec[key]}"
        elif key not in first_with_spec and first_with_spec and not pool:
            note = f"own latent space ({spec.describe()}): own draw from the same seeds"
        first_with_spec.setdefault(key, G.card.name)
        out.append((lat, note))
    if len({len(lat) for lat, _ in out}) > 1:
        raise InputError("the models would receive different numbers of latents; give seeds that match the latent file")
    return out


@torch.no_grad()
def render_views(G: Generator, lat: Latents, cameras: Camera, truncation_psi: float,
                 truncation_cutoff: int | None, batch_size: int = 4, progress: tqdm | None = None) -> np.ndarray:
    """``[S,V,H,W,3]`` uint8: every latent from every camera (conditioning frontal)."""
    rows = []
    for s in range(0, len(lat), batch_size):
        z = G.check_latents(lat.z[s:s + batch_size])
        w = G.mapping(z, None, truncation_psi, truncation_cutoff)
        views = [to_uint8(G.synthesize(w, cameras[v].to(G.device)).image) for v in range(len(cameras))]
        rows.append(np.stack(views, axis=1))
        if progress is not None:
            progress.update(z.shape[0])
    return np.concatenate(rows)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _tile(img: np.ndarray, size: int) -> Image.Image:
    im = Image.fromarray(img)
    return im if im.size == (size, size) else im.resize((size, size), Image.LANCZOS)


def grid_image(cmp: Comparison, tile: int = 128) -> np.ndarray:
    """Rows = models, columns = seeds x views; labelled with names, seeds and angles.

    Views outside a model's trained pose range get a red frame and a ``!`` in the header.
    """
    M, S, V = len(cmp.entries), cmp.images[0].shape[0], len(cmp.yaws)
    left, top, gap = max(170, tile + 40), 34, 6
    font, small = _font(12), _font(10)
    W = left + S * (V * tile + gap)
    H = top + M * (tile + 18)
    canvas = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(canvas)
    seeds = cmp.entries[0].latents.seeds or list(range(S))
    for s in range(S):
        x0 = left + s * (V * tile + gap)
        draw.text((x0 + 2, 2), f"seed {seeds[s]}", fill="black", font=font)
        for v in range(V):
            draw.text((x0 + v * tile + 2, 18), f"yaw {cmp.yaws[v]:+.2f} pitch {cmp.pitches[v]:+.2f}",
                      fill="black", font=small)
    for m, e in enumerate(cmp.entries):
        y0 = top + m * (tile + 18)
        _wrap(draw, e.label, (4, y0 + 2), left - 8, font, "black")
        if e.note:
            _wrap(draw, e.note, (4, y0 + 40), left - 8, small, "dimgray")
        if cmp.lpips is not None and m > 0:
            draw.text((4, y0 + tile - 12), f"LPIPS vs row 1: {np.mean(cmp.lpips[m - 1]):.3f}", fill="navy", font=small)
        for s in range(S):
            x0 = left + s * (V * tile + gap)
            for v in range(V):
                canvas.paste(_tile(cmp.images[m][s, v], tile), (x0 + v * tile, y0))
                if cmp.outside[m][v]:
                    draw.rectangle((x0 + v * tile, y0, x0 + (v + 1) * tile - 1, y0 + tile - 1), outline="red", width=3)
                    draw.text((x0 + v * tile + 4, y0 + tile + 2), "outside trained poses", fill="red", font=small)
    return np.asarray(canvas)


def _wrap(draw, text: str, xy, width: int, font, fill) -> None:
    words, lines, line = text.split(), [], ""
    for w in words:
        trial = f"{line} {w}".strip()
        if draw.textlength(trial, font=font) > width and line:
            lines.append(line)
            line = w
        else:
            line = trial
    lines.append(line)
    draw.multiline_text(xy, "\n".join(lines[:3]), fill=fill, font=font)


def model_camera_kwargs(card_camera, overrides: dict) -> dict:
    """:meth:`Camera.orbit` keyword arguments: a card's radius, look-at and focal, with ``overrides``
    (any of radius, look_at, focal, fov_degrees) on top."""
    kw = {"radius": card_camera.radius, "look_at": tuple(card_camera.look_at), "focal": card_camera.focal}
    if "fov_degrees" in overrides:
        kw.pop("focal")
    kw.update(overrides)
    return kw


def compare(generators: list[Generator], labels: list[str], yaws: list[float], pitches: list[float],
            camera_kwargs: dict | None = None, seeds: list[int] | None = None,
            latents: Latents | list[Latents] | None = None, truncation_psi: float = 0.7,
            truncation_cutoff: int | None = None, batch_size: int = 4, absolute_cameras: bool = False) -> Comparison:
    """Render every model on its assigned latents from the same viewing directions.

    Each model's cameras are :meth:`Camera.orbit` at ``(yaw, pitch)`` with its own card's radius,
    look-at and focal, overridden by ``camera_kwargs`` (radius, look_at, focal or fov_degrees) where
    given. ``absolute_cameras=True`` builds them from the first model's card for every model. A camera
    whose rays miss a model's rendered depths (an empty image) raises :class:`InputError`.
    """
    from .errors import InputError

    overrides = dict(camera_kwargs or {})
    assigned = assign_latents(generators, seeds, latents)
    shared = model_camera_kwargs(generators[0].card.camera, overrides)
    entries = []
    for G, lbl, (lat, note) in zip(generators, labels, assigned):
        kw = shared if absolute_cameras else model_camera_kwargs(G.card.camera, overrides)
        cams = Camera.orbit(yaws, pitches, **kw)
        miss = G.camera_misses(cams)
        if miss:
            fix = ("; drop --absolute-cameras (absolute_cameras=False) to view each model from its own distance"
                   if absolute_cameras and G is not generators[0] else "")
            raise InputError(miss + fix)
        entries.append(Entry(lbl, G, lat, note, cams, dict(kw)))
    cmp = Comparison(entries, entries[0].cameras, yaws, pitches, camera_kwargs=dict(entries[0].camera_kwargs),
                     absolute_cameras=absolute_cameras)
    total = sum(len(e.latents) for e in entries)
    with tqdm(total=total, desc="compare", unit="latent") as bar:
        for e in entries:
            bar.set_postfix_str(e.generator.card.name)
            cmp.images.append(render_views(e.generator, e.latents, e.cameras, truncation_psi, truncation_cutoff,
                                           batch_size, bar))
            rng = e.generator.card.pose_range
            cmp.outside.append([not rng.contains(y, p) for y, p in zip(yaws, pitches)])
    return cmp


def save_latents(cmp: Comparison, path: str | Path) -> Path:
    """``latents.pt``: exactly what each model received (loadable with ``weights_only=True``); the
    top-level ``cam2world``/``intrinsics`` are the first model's cameras, each model's are in its record.
    ``gan3d generate --latents`` and ``gan3d compare --latents`` read it back (:meth:`Latents.load_all`)."""
    payload = {"models": [{"label": e.label, "model": e.generator.card.name, "z": e.latents.z.cpu(),
                           "spec": dict(e.latents.spec.parts), "seeds": e.latents.seeds, "note": e.note,
                           "cam2world": e.cameras.cam2world.cpu(), "intrinsics": e.cameras.intrinsics.cpu()}
                          for e in cmp.entries],
               "absolute_cameras": cmp.absolute_cameras,
               "yaw": cmp.yaws, "pitch": cmp.pitches, "cam2world": cmp.cameras.cam2world.cpu(),
               "intrinsics": cmp.cameras.intrinsics.cpu()}
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


@torch.no_grad()
def orbit_frames(cmp: Comparison, num_frames: int, truncation_psi: float, truncation_cutoff: int | None,
                 max_seeds: int = 4, tile: int = 128):
    """Frames of an orbit (yaw swinging between the compared extremes): rows = models, columns = seeds."""
    lo, hi = min(cmp.yaws), max(cmp.yaws)
    amp, mid = (hi - lo) / 2 or 0.35, (hi + lo) / 2
    pitch = float(np.mean(cmp.pitches))
    ws = []
    for e in cmp.entries:
        z = e.latents.z[:max_seeds].to(e.generator.device)
        ws.append(e.generator.mapping(z, None, truncation_psi, truncation_cutoff))
    for t in tqdm(range(num_frames), desc="orbit video", unit="frame"):
        yaw = mid + amp * math.sin(2 * math.pi * t / num_frames)
        rows = []
        for e, w in zip(cmp.entries, ws):
            cam = Camera.orbit(yaw, pitch, **(e.camera_kwargs or cmp.camera_kwargs)).to(e.generator.device)
            imgs = to_uint8(e.generator.synthesize(w, cam).image)
            rows.append(np.concatenate([np.asarray(_tile(i, tile)) for i in imgs], axis=1))
        yield np.concatenate(rows, axis=0)


def lpips_against_first(cmp: Comparison, net) -> list[list[float]]:
    """Per-seed LPIPS (mean over views) of each model against the first: ``[M-1][S]``.

    ``net`` is a :class:`gan3d.eval.lpips.LpipsNet`; images of other sizes are resized to the smaller.
    """
    def as_tensor(a: np.ndarray, size: int) -> torch.Tensor:
        t = torch.from_numpy(a).float().permute(0, 3, 1, 2) / 127.5 - 1  # [N,3,H,W] in [-1,1]
        if t.shape[-1] != size:
            t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                                                align_corners=False)
        return t

    ref = cmp.images[0]
    out = []
    for imgs in cmp.images[1:]:
        S, V = ref.shape[:2]
        size = min(ref.shape[2], imgs.shape[2])
        d = net(as_tensor(ref.reshape(S * V, *ref.shape[2:]), size), as_tensor(imgs.reshape(S * V, *imgs.shape[2:]), size))
        out.append(d.reshape(S, V).mean(1).tolist())
    return out
