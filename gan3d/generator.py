"""The generator interface every model plugin implements."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .camera import Camera
from .cards import ModelCard
from .errors import InputError, check_shape
from .outputs import GeneratorOutput


class Generator(nn.Module):
    """Base class of 3D-aware generators.

    Subclasses implement :meth:`mapping` and :meth:`synthesize`; :meth:`forward` chains them. The
    conditioning camera (what the mapping network sees, for camera-conditioned models like EG3D) is
    separate from the rendering camera and defaults to the card's frontal camera, as the authors'
    scripts do.

    ``deterministic`` switches rendering to its deterministic form (no stratified jitter, deterministic
    importance samples, constant noise) for comparisons and tests; ``False`` is the official stochastic
    behaviour. Models whose rendering never draws random numbers set the class attribute
    ``stochastic = False`` (the evaluation harness then need not seed or pad their batches).
    """

    card: ModelCard
    stochastic: bool = True

    def __init__(self, card: ModelCard):
        super().__init__()
        self.card = card
        self.deterministic = False
        self.weights_note = ""  # e.g. "random weights": shown wherever this generator's images or numbers go

    # ---------------------------------------------------------------- to implement
    def mapping(
        self,
        z: torch.Tensor,
        camera: Camera | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """``z [B, latent.dim]`` (+ conditioning camera) -> ``w [B, num_ws, w_dim]``."""
        raise NotImplementedError

    def synthesize(self, w: torch.Tensor, camera: Camera, **kwargs) -> GeneratorOutput:
        """``w`` rendered from ``camera`` (``B`` cameras, or one broadcast to the batch)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- provided
    def forward(
        self,
        z: torch.Tensor,
        camera: Camera | None = None,
        conditioning: Camera | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        **kwargs,
    ) -> GeneratorOutput:
        """Mapping then synthesis. ``camera`` defaults to frontal; ``conditioning`` to frontal too."""
        z = self.check_latents(z)
        w = self.mapping(z, conditioning, truncation_psi, truncation_cutoff)
        return self.synthesize(w, camera if camera is not None else self.default_camera(), **kwargs)

    def export_config(self) -> dict:
        """JSON-able architecture/rendering settings that rebuild this generator (with its state_dict)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be exported")

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the safe form (:mod:`gan3d.pretrained`): ``config.json`` (card, :meth:`export_config`, the
        weights' sha256) and ``weights.pt`` (state_dict).

        Both files load without executing code (JSON; ``torch.load(weights_only=True)``); the owning
        plugin's ``gan3d_load_checkpoint`` hook recognises the folder by ``config.json``'s ``method``.
        """
        from . import pretrained

        return pretrained.save(self, directory)

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def default_camera(self, yaw=0.0, pitch=0.0) -> Camera:
        """The card's camera at ``(yaw, pitch)`` radians, on this generator's device."""
        return self.card.camera.orbit(yaw, pitch).to(self.device)

    def set_deterministic(self, flag: bool = True) -> "Generator":
        self.deterministic = bool(flag)
        return self

    def check_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Validate ``z [B, dim]`` and move it to the generator's device as float32."""
        z = torch.as_tensor(z)
        check_shape("z", z, (None, self.card.latent.dim),
                    f"{self.card.name} takes latents ({self.card.latent.describe()}); use gan3d.sample_latents")
        if not torch.isfinite(z).all():
            raise InputError("z contains NaN or infinity")
        return z.to(self.device, torch.float32)

    def check_camera(self, camera: Camera, batch: int) -> Camera:
        """Broadcast ``camera`` to ``batch``, move it here and warn (once per generator) outside the
        trained pose range, and loudly when the scene's centre lies outside the rendered depth range
        (the image would be empty)."""
        if not isinstance(camera, Camera):
            raise InputError(f"camera must be a gan3d.Camera, got {type(camera).__name__}")
        camera = camera.expand(batch).to(self.device)
        warned = self.__dict__.setdefault("_camera_warnings", set())
        yaw, pitch = camera.yaw_pitch()
        rng = self.card.pose_range
        outside = [(float(y), float(p)) for y, p in zip(yaw, pitch) if not rng.contains(float(y), float(p))]
        if outside and "pose" not in warned:
            warned.add("pose")
            warnings.warn(
                f"{self.card.name} was trained on yaw {rng.yaw} and pitch {rng.pitch} (radians); "
                f"rendering camera(s) outside that range, e.g. yaw/pitch {outside[0]} (radians)",
                stacklevel=3,
            )
        miss = self.camera_misses(camera)
        if miss and "range" not in warned:
            warned.add("range")
            warnings.warn(f"EMPTY IMAGES: {miss}", RuntimeWarning, stacklevel=3)
        return camera

    def depth_range(self) -> tuple[float, float] | None:
        """``(near, far)``: the depths along each ray that rendering samples (world units), or None when
        the method has no such range (mesh rasterisers, unknown).

        The default reads EG3D-style ``rendering_kwargs`` (``ray_start``/``ray_end``) or a core
        :class:`~gan3d.render.VolumeRenderer` held as ``self.renderer``; plugins may override it.
        """
        rk = getattr(self, "rendering_kwargs", None)
        if isinstance(rk, dict) and all(isinstance(rk.get(k), (int, float)) for k in ("ray_start", "ray_end")):
            return float(rk["ray_start"]), float(rk["ray_end"])
        from .render.volume import VolumeRenderer

        r = getattr(self, "renderer", None)
        if isinstance(r, VolumeRenderer):
            return r.ray_start, r.ray_end
        return None

    def camera_misses(self, camera: Camera) -> str | None:
        """Why ``camera`` would render nothing, or None: the scene's centre (the world origin) must lie
        within :meth:`depth_range` along every camera's view axis."""
        rng = self.depth_range()
        if rng is None:
            return None
        c2w = camera.cam2world.detach().double().cpu()
        depth = -(c2w[:, :3, 3] * c2w[:, :3, 2]).sum(-1)  # the origin's depth along each camera's +z
        bad = [float(d) for d in depth if not rng[0] <= float(d) <= rng[1]]
        if not bad:
            return None
        return (f"{self.card.name} renders depths {rng[0]:g}..{rng[1]:g} along each ray, but the scene's centre lies "
                f"at depth {bad[0]:.3g} from the camera, so its rays miss the scene; use a camera distance in "
                f"that range (the card's radius is {self.card.camera.radius:g})")

    @staticmethod
    def check_truncation(psi: float, cutoff: int | None, num_ws: int) -> None:
        if not (isinstance(psi, (int, float)) and -1.0 <= float(psi) <= 2.0) or psi != psi:
            raise InputError(f"truncation_psi must be a number in [-1, 2] (1 = no truncation), got {psi!r}")
        if cutoff is not None and not (isinstance(cutoff, int) and 0 <= cutoff <= num_ws):
            raise InputError(f"truncation_cutoff must be an integer in [0, {num_ws}] or None, got {cutoff!r}")
