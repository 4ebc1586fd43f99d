"""The viewer's render session: models, latents and caches behind the HTTP server.

The page asks for one picture at a time (one model, one latent, one camera, one display mode). The
session keeps what makes the next picture cheap: each model is loaded once (on first use), each latent
is mapped once per (truncation, region edit) and its ``w`` kept in a small LRU, and models run in their
deterministic form, in which EG3D reuses its tri-planes while ``w`` stays the same, so a camera move
costs only the volume rendering and the super-resolution.

Stale requests are dropped: the page numbers its requests per panel (``slot``, ``rid``); a request
that is overtaken by a newer one for its panel before its turn on the model is answered as
superseded instead of being rendered.
"""

from __future__ import annotations

import io
import math
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..camera import Camera
from ..cards import ModelCard
from ..compare import assign_latents, model_camera_kwargs
from ..errors import InputError
from ..generator import Generator
from ..images import colorize_labels, mark_weights, normalize_map, to_uint8
from ..latents import Latents
from ..registry import list_models, model_card
from .controls import MethodControls, method_controls

MODES = ("image", "raw", "depth", "semantic")
MAX_SLOTS = 3
MAX_SEED = 2 ** 32 - 1
MAX_FRAMES = 240


class Superseded(Exception):
    """A newer request for the same panel arrived before this one was rendered."""


@dataclass
class ViewRequest:
    """One picture: ``model`` seen from ``(yaw, pitch)`` radians at its card's radius and pivot.

    ``seed`` is a seed, or with a latents file the row of the file; ``fov`` (degrees) replaces the
    card's focal length when given; ``controls`` are the method's own knobs (already validated).
    """

    model: str
    seed: int
    truncation_psi: float
    yaw: float
    pitch: float
    fov: float | None
    mode: str
    controls: dict = field(default_factory=dict)
    slot: int | None = None
    rid: int = 0


def _one(query: Mapping[str, list[str]], name: str, default: str | None = None) -> str:
    vals = query.get(name)
    if not vals:
        if default is None:
            raise InputError(f"missing parameter {name!r}")
        return default
    if len(vals) > 1:
        raise InputError(f"parameter {name!r} given {len(vals)} times; give it once")
    return vals[0]


def _number(query, name: str, lo: float, hi: float, default: str | None = None) -> float:
    text = _one(query, name, default)
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{name} must be a number in [{lo:g}, {hi:g}], got {text!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise InputError(f"{name} must be a number in [{lo:g}, {hi:g}], got {text!r}")
    return v


def _integer(query, name: str, lo: int, hi: int, default: str | None = None) -> int:
    text = _one(query, name, default)
    if not text.lstrip("-").isdigit() or not lo <= int(text) <= hi:
        raise InputError(f"{name} must be an integer in [{lo}, {hi}], got {text!r}")
    return int(text)


class ViewSession:
    """The models a ``gan3d view`` offers (``names``, loaded by ``loader`` on first use) and their latents.

    ``latents``: a latent file's batches (:meth:`Latents.load_all`); the page's seed is then a row of
    the file, and each model gets the batch that fits it (else its own draw from the file's seeds), as
    ``gan3d compare`` assigns them. Without a file every model draws from the seed, so models with one
    latent size get the very same z.
    """

    def __init__(self, names: list[str], loader: Callable[[str], Generator],
                 latents: list[Latents] | None = None, cache_size: int = 64):
        if not names:
            raise InputError("give at least one model to view")
        self.names = list(dict.fromkeys(names))
        self.latents = latents
        self._loader = loader
        self._models: dict[str, Generator] = {}
        self._controls: dict[str, MethodControls] = {}
        self._locks = {n: threading.Lock() for n in self.names}       # one render at a time per model
        self._load_locks = {n: threading.Lock() for n in self.names}  # one load per model
        self._state = threading.Lock()
        self._latest: dict[int, int] = {}
        self._w_cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self.progress: dict[int, tuple[int, int]] = {}
        self.mappings = 0  # mapping network runs (tests check that camera moves do not repeat them)

    # ------------------------------------------------------------------ models
    def _check_offered(self, name: str) -> None:
        if name not in self._locks:
            raise InputError(f"model {name!r} is not offered by this viewer; choose one of {', '.join(self.names)}")

    def generator(self, name: str) -> Generator:
        """``name``'s generator, loaded on first use (deterministic form)."""
        self._check_offered(name)
        with self._load_locks[name]:
            if name not in self._models:
                G = self._loader(name)
                G.set_deterministic(True)  # one latent and camera, one picture (and EG3D keeps its tri-planes)
                self._models[name] = G
                self._controls[name] = method_controls(G.card.method)
            return self._models[name]

    @property
    def num_latents(self) -> int | None:
        """Rows of the latents file (None without one)."""
        return None if self.latents is None else len(self.latents[0])

    def card(self, name: str) -> ModelCard:
        """``name``'s card: from the registry without loading, or from the loaded checkpoint."""
        if name in self._models:
            return self._models[name].card
        if name in list_models():
            return model_card(name)
        return self.generator(name).card

    def describe(self) -> dict:
        """What the page needs: each model's card camera, pose range, modes and controls (registered
        models are not loaded for this: a model whose weights fail shows its error in its own panel)."""
        models = []
        for name in self.names:
            card = self.card(name)
            G = self._models.get(name)
            ctl = self._controls[name] if name in self._controls else method_controls(card.method)
            models.append({
                "name": name, "card": card.name, "method": card.method, "resolution": card.resolution,
                "weights_note": "" if G is None else G.weights_note, "fov": card.camera.fov_degrees,
                "radius": card.camera.radius,
                "pose_range": {"yaw": list(card.pose_range.yaw), "pitch": list(card.pose_range.pitch)},
                "controls": [c.describe() for c in ctl.controls]})
        return {"models": models, "max_slots": MAX_SLOTS, "modes": list(MODES), "latents_rows": self.num_latents}

    # ------------------------------------------------------------------ requests
    def parse(self, query: Mapping[str, list[str]]) -> ViewRequest:
        """A render request from URL query parameters; every problem is an :class:`InputError`."""
        model = _one(query, "model")
        self._check_offered(model)
        # validated before the model loads: a bad request costs nothing
        controls = (self._controls[model] if model in self._controls else method_controls(self.card(model).method)).controls
        if self.latents is not None:
            seed = _integer(query, "seed", 0, self.num_latents - 1, "0")
        else:
            seed = _integer(query, "seed", 0, MAX_SEED, "0")
        mode = _one(query, "mode", "image")
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        fov_text = _one(query, "fov", "")
        fov = None if fov_text == "" else _number(query, "fov", 1.0, 120.0)
        slot_text = _one(query, "slot", "")
        slot = None if slot_text == "" else _integer(query, "slot", 0, MAX_SLOTS - 1)
        values = {}
        for c in controls:
            text = _one(query, c.name, "")
            if text != "":
                values[c.name] = c.parse(text)
        known = {"model", "seed", "mode", "fov", "slot", "rid", "trunc", "yaw", "pitch"}
        unknown = sorted(set(query) - known - {c.name for c in controls})
        if unknown:
            raise InputError(f"unknown parameter(s) for {model}: {', '.join(unknown)}")
        return ViewRequest(model=model, seed=seed,
                           truncation_psi=_number(query, "trunc", -1.0, 2.0, "0.7"),
                           yaw=_number(query, "yaw", -math.pi, math.pi, "0"),
                           pitch=_number(query, "pitch", -math.pi / 2, math.pi / 2, "0"),
                           fov=fov, mode=mode, controls=values, slot=slot,
                           rid=_integer(query, "rid", 0, 2 ** 53, "0"))

    def announce(self, req: ViewRequest) -> None:
        """Record ``req`` as its panel's newest request (older ones waiting for their model are dropped)."""
        if req.slot is not None:
            with self._state:
                self._latest[req.slot] = max(self._latest.get(req.slot, -1), req.rid)

    def _check_current(self, req: ViewRequest) -> None:
        if req.slot is not None and req.rid < self._latest.get(req.slot, -1):
            raise Superseded(f"request {req.rid} for panel {req.slot} was superseded by {self._latest[req.slot]}")

    # ------------------------------------------------------------------ rendering
    def _latent(self, G: Generator, index: int) -> torch.Tensor:
        """``z [1,D]`` of seed (or file row) ``index`` for ``G``, assigned as ``gan3d compare`` does."""
        if self.latents is None:
            (lat, _), = assign_latents([G], [index], None)
            return lat.z[:1]
        (lat, _), = assign_latents([G], None, self.latents)
        return lat.z[index:index + 1]

    def _w(self, G: Generator, name: str, seed: int, psi: float) -> torch.Tensor:
        key = (name, seed, psi)
        with self._state:
            if key in self._w_cache:
                self._w_cache.move_to_end(key)
                return self._w_cache[key]
        w = G.mapping(self._latent(G, seed).to(G.device), None, psi, None)
        self.mappings += 1
        with self._state:
            self._w_cache[key] = w
            while len(self._w_cache) > self._cache_size:
                self._w_cache.popitem(last=False)
        return w

    def _prepared(self, G: Generator, req: ViewRequest, w: torch.Tensor, ctl: MethodControls):
        """The method's camera-independent work for ``w`` (kept next to ``w`` in the LRU)."""
        key = ("prepared", req.model, req.seed, req.truncation_psi)
        with self._state:
            hit = self._w_cache.get(key)
        if hit is not None and hit[0] is w:
            return hit[1]
        prepared = ctl.prepare(G, w)
        with self._state:
            self._w_cache[key] = (w, prepared)
            while len(self._w_cache) > self._cache_size:
                self._w_cache.popitem(last=False)
        return prepared

    def camera(self, G: Generator, yaw: float, pitch: float, fov: float | None) -> Camera:
        """The card's camera at ``(yaw, pitch)``: its own radius and pivot, ``fov`` degrees if given."""
        kw = model_camera_kwargs(G.card.camera, {} if fov is None else {"fov_degrees": fov})
        cam = Camera.orbit(yaw, pitch, **kw)
        miss = G.camera_misses(cam)
        if miss:
            raise InputError(miss)
        return cam

    @torch.no_grad()
    def _render(self, G: Generator, req: ViewRequest, yaw: float) -> np.ndarray:
        ctl = self._controls[req.model]
        w = self._w(G, req.model, req.seed, req.truncation_psi)
        if ctl.edit_w is not None:
            w = ctl.edit_w(G, w, req.controls, lambda s: self._w(G, req.model, s, req.truncation_psi))
        camera = self.camera(G, yaw, req.pitch, req.fov).to(G.device)
        if ctl.prepare is not None and ctl.render is not None:
            out = ctl.render(G, self._prepared(G, req, w, ctl), camera, req.controls)
        else:
            extra = {} if ctl.synth_kwargs is None else ctl.synth_kwargs(G, req.controls, 1)
            out = G.synthesize(w, camera, **extra)
        if req.mode == "image":
            img = to_uint8(out.image)[0]
        elif req.mode == "raw":
            if out.image_raw is None:
                raise InputError(f"{G.card.name} has no raw neural rendering; use mode=image")
            img = to_uint8(out.image_raw[:, :3])[0]
        elif req.mode == "depth":
            if out.depth is None:
                raise InputError(f"{G.card.name} returns no depth")
            img = to_uint8(-normalize_map(out.depth).expand(-1, 3, -1, -1))[0]  # near = bright
        else:
            if out.semantic is None:
                raise InputError(f"{G.card.name} has no semantic masks; use mode=image, raw or depth")
            img = colorize_labels(out.semantic)[0]
        return mark_weights(np.ascontiguousarray(img), G)

    def render(self, req: ViewRequest) -> tuple[np.ndarray, dict]:
        """``[H,W,3]`` uint8 and facts about it (outside the trained poses, milliseconds)."""
        G = self.generator(req.model)
        self._check_current(req)
        with self._locks[req.model]:
            self._check_current(req)  # overtaken while waiting for the model
            t0 = time.perf_counter()
            img = self._render(G, req, req.yaw)
        return img, {"outside": not G.card.pose_range.contains(req.yaw, req.pitch),
                     "ms": round(1000 * (time.perf_counter() - t0), 1)}

    def render_png(self, req: ViewRequest) -> tuple[bytes, dict]:
        img, facts = self.render(req)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        return buf.getvalue(), facts

    def orbit_mp4(self, reqs: list[ViewRequest], frames: int, amplitude: float, job: int | None = None) -> bytes:
        """An MP4 of the models side by side while the yaw swings ``amplitude`` radians about each
        request's yaw (pitch fixed); ``job`` records progress for :attr:`progress`."""
        from ..video import write_video

        if not 2 <= frames <= MAX_FRAMES:
            raise InputError(f"frames must be an integer in [2, {MAX_FRAMES}], got {frames}")
        gens = [self.generator(r.model) for r in reqs]
        height = max(G.card.resolution for G in gens)

        def tile(img: np.ndarray) -> np.ndarray:
            h, w = img.shape[:2]
            if h == height:
                return img
            return np.asarray(Image.fromarray(img).resize((round(w * height / h), height), Image.LANCZOS))

        def gen():
            for t in range(frames):
                yaw_off = amplitude * math.sin(2 * math.pi * t / frames)
                row = []
                for G, r in zip(gens, reqs):
                    with self._locks[r.model]:
                        row.append(tile(self._render(G, r, max(-math.pi, min(math.pi, r.yaw + yaw_off)))))
                top = max(x.shape[0] for x in row)
                row = [np.pad(x, ((0, top - x.shape[0]), (0, 0), (0, 0)), constant_values=255) for x in row]
                if job is not None:
                    self.progress[job] = (t + 1, frames)
                yield np.concatenate(row, axis=1)

        if job is not None:
            self.progress[job] = (0, frames)
        with tempfile.TemporaryDirectory(prefix="gan3d-view-") as d:
            path = write_video(gen(), Path(d) / "orbit.mp4", fps=24)
            return path.read_bytes()
