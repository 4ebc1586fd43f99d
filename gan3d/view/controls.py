"""Method controls of the viewer: the knobs a method offers beyond latent and camera.

Each control is described to the page as JSON and applied to one render. They wrap the methods' own
Python APIs (LiftedGAN's relighting, CNeRF's per-region synthesis and region swaps), imported only when
a model of that method is shown, so the core runs without those plugins installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..errors import InputError


@dataclass(frozen=True)
class Control:
    """One knob: ``kind`` is ``"range"`` (``lo..hi`` by ``step``, ``off`` = the model's own value) or
    ``"choice"`` (one of ``choices``, the first meaning "unchanged")."""

    name: str
    label: str
    kind: str
    lo: float = 0.0
    hi: float = 0.0
    step: float = 1.0
    choices: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "kind": self.kind, "lo": self.lo, "hi": self.hi,
                "step": self.step, "choices": list(self.choices)}

    def parse(self, text: str) -> float | str:
        """The page's value, validated (:class:`InputError` names the control and the allowed values)."""
        if self.kind == "choice":
            if text not in self.choices:
                raise InputError(f"{self.name} must be one of {', '.join(self.choices)}, got {text!r}")
            return text
        try:
            v = float(text)
        except ValueError:
            raise InputError(f"{self.name} must be a number in [{self.lo:g}, {self.hi:g}], got {text!r}") from None
        if not self.lo <= v <= self.hi:
            raise InputError(f"{self.name} must be a number in [{self.lo:g}, {self.hi:g}], got {text!r}")
        return v


@dataclass
class MethodControls:
    """The controls of one method and how they change a render.

    ``edit_w(G, w, values, w_for_seed)`` returns the latents to render (region swaps); ``synth_kwargs(G, values,
    batch)`` the extra keyword arguments of ``G.synthesize`` (light, regions). Methods whose work splits into
    a camera-independent part and a cheap per-camera part give ``prepare(G, w)`` (kept by the session per
    latent) and ``render(G, prepared, camera, values)``, which then replace ``G.synthesize``.
    """

    controls: list[Control]
    edit_w: Callable[..., torch.Tensor] | None = None
    synth_kwargs: Callable[..., dict] | None = None
    prepare: Callable[..., Any] | None = None
    render: Callable[..., Any] | None = None


def _liftedgan() -> MethodControls:
    from gan3d_liftedgan.model import camera_to_view, relight_vector

    light = Control("light", "light direction (deg, left-right; 'own' = estimated)", "range", -60.0, 60.0, 6.0)

    def kwargs(G, values: dict, batch: int) -> dict:
        a = values.get("light")
        return {} if a is None else {"light": relight_vector(float(a), batch).to(G.device)}

    def prepare(G, w: torch.Tensor):
        return G.estimate(w[:, 0])  # canonical depth, albedo, light: the same for every camera

    def render(G, est, camera, values: dict):
        # LiftedGAN.synthesize's camera path, on a kept estimate: only shading and rasterising per view
        camera = G.check_camera(camera, est.view.shape[0])
        view = camera_to_view(camera, G.config.xyz_rotation_range).to(est.view)
        return G.render(est, view=view, **kwargs(G, values, est.view.shape[0]))

    return MethodControls([light], synth_kwargs=kwargs, prepare=prepare, render=render)


def _cnerf() -> MethodControls:
    from gan3d_cnerf.classes import CLASS_NAMES
    from gan3d_cnerf.editing import swap_region

    names = tuple(CLASS_NAMES)
    region = Control("region", "show one region alone", "choice", choices=("all",) + names)
    swap = Control("swap_region", "region codes from another seed", "choice", choices=("none",) + names)
    swap_seed = Control("swap_seed", "seed the swapped region comes from", "range", 0.0, 2.0 ** 31 - 1, 1.0)

    def edit(G, w: torch.Tensor, values: dict, w_for_seed) -> torch.Tensor:
        k = values.get("swap_region", "none")
        if k in (None, "none"):
            return w
        seed = int(values.get("swap_seed") or 0)
        return swap_region(w, w_for_seed(seed), k, "both")

    def kwargs(G, values: dict, batch: int) -> dict:
        k = values.get("region", "all")
        return {} if k in (None, "all") else {"semantics": [names.index(k)]}

    return MethodControls([region, swap, swap_seed], edit_w=edit, synth_kwargs=kwargs)


_BY_METHOD: dict[str, Callable[[], MethodControls]] = {"liftedgan": _liftedgan, "cnerf": _cnerf}


def method_controls(method: str) -> MethodControls:
    """The controls of ``method`` (none for methods without extra knobs or whose plugin is absent)."""
    build = _BY_METHOD.get(method)
    if build is None:
        return MethodControls([])
    try:
        return build()
    except ImportError:
        return MethodControls([])
