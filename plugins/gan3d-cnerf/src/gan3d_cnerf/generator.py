"""The CNeRF generator (Ma et al., AAAI 2023) as a :class:`gan3d.Generator`.

Latent layout. ``mapping`` returns ``w [B, 2K+2, S]`` (K classes, S = style_dim):

* rows ``2k`` / ``2k+1``: class k's **shape** / **texture** code for the renderer (already truncated),
* rows ``2K`` and ``2K+1``: the decoder's latent (``2S`` numbers, already mapped by the decoder's own
  mapping network and truncated), split into two halves of S so that everything fits one tensor.

:meth:`CNeRFGenerator.synthesize` is therefore a pure function of ``w`` and the camera; region editing
replaces renderer rows (see :mod:`gan3d_cnerf.editing`).
"""

from __future__ import annotations

import torch
from torch import nn

import gan3d
from gan3d.unpickle import check_state_dict
from gan3d.errors import CheckpointError, InputError, check_shape

from .camera import to_cnerf_camera
from .config import CNeRFConfig
from .decoder import Decoder
from .layers import ConvLayer, MappingLinear
from .mesh import grid_mesh
from .renderer import CompositionalRenderer

# buffers gan3d adds to the official modules (not in the authors' checkpoints)
EXTRA_KEYS = ("mean_latent_renderer", "mean_latent_decoder", "mean_latent_count")
MEAN_LATENT_SAMPLES = 10_000  # as the official --truncation_mean
MEAN_LATENT_SEED = 0


class CNeRFGenerator(gan3d.Generator):
    """Mapping network, K local generators + init SDF network, fusion, volume rendering, 2D decoder.

    Submodule and parameter names follow the official ``Generator`` (``style``, ``renderer``,
    ``feature_transfer``, ``decoder``) so ``checkpoint["g_ema"]`` loads strictly with
    :meth:`load_official_state_dict`.
    """

    stochastic = False  # the official inference neither jitters rays nor draws decoder noise

    def __init__(self, card: gan3d.ModelCard, config: CNeRFConfig = CNeRFConfig()):
        super().__init__(card)
        self.config = config
        S = config.style_dim
        self.style = nn.Sequential(*[MappingLinear(S, S) for _ in range(3)])
        self.renderer = CompositionalRenderer(config.num_classes, config.width, S, config.depth)
        if config.full_pipeline:
            self.feature_transfer = ConvLayer(config.width, config.feature_channels, 3)
            self.decoder = Decoder(config.size, S, config.num_classes, config.channel_multiplier,
                                   in_size=config.render_resolution, in_channels=config.feature_channels,
                                   lr_mapping=config.lr_mapping, channel_divisor=config.decoder_channel_divisor)
        self.register_buffer("mean_latent_renderer", torch.zeros(1, S))
        self.register_buffer("mean_latent_decoder", torch.zeros(1, 2 * S))
        self.register_buffer("mean_latent_count", torch.zeros((), dtype=torch.long))
        # sample points x classes per pass of the local generators (all K are evaluated together):
        # bounds memory at any batch size
        self.points_per_pass = 2 ** 19

    # ------------------------------------------------------------------ latents
    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def num_ws(self) -> int:
        """Rows of ``w``: 2 per class + 2 halves of the decoder latent."""
        return self.config.num_slots + 2

    def pack_w(self, slots: torch.Tensor, decoder_w: torch.Tensor | None) -> torch.Tensor:
        """``slots [B,2K,S]`` + decoder latent ``[B,2S]`` (None: zeros) -> ``w [B,2K+2,S]``."""
        B, S = slots.shape[0], self.config.style_dim
        check_shape("renderer slots", slots, (None, self.config.num_slots, S))
        if decoder_w is None:
            decoder_w = slots.new_zeros(B, 2 * S)
        check_shape("decoder latent", decoder_w, (B, 2 * S))
        return torch.cat([slots, decoder_w.reshape(B, 2, S)], 1)

    def split_w(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``w [B,2K+2,S]`` -> ``(slots [B,2K,S], decoder latent [B,2S])``."""
        check_shape("w", w, (None, self.num_ws, self.config.style_dim),
                    f"CNeRF's w holds {self.config.num_slots} renderer slots and the decoder latent in 2 rows; "
                    f"make it with G.mapping or G.ws_from_slots")
        return w[:, :self.config.num_slots], w[:, self.config.num_slots:].reshape(w.shape[0], -1)

    def expand_slots(self, slots: torch.Tensor) -> torch.Tensor:
        """Per-layer renderer codes ``[B,K*(depth+2),S]``: per class, its shape code for each of the
        ``depth`` shape layers, then its texture code for the 2 texture layers."""
        reps = []
        for k in range(self.num_classes):
            reps.append(slots[:, 2 * k:2 * k + 1].expand(-1, self.config.depth, -1))
            reps.append(slots[:, 2 * k + 1:2 * k + 2].expand(-1, 2, -1))
        return torch.cat(reps, 1)

    @torch.no_grad()
    def compute_mean_latents(self, n: int = MEAN_LATENT_SAMPLES, seed: int = MEAN_LATENT_SEED,
                             z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean renderer w ``[1,S]`` and mean decoder w ``[1,2S]`` over ``n`` z drawn with ``seed``
        (or over the given ``z [n,S]``); stored in the generator (and in its safe-form weights)."""
        if z is None:
            gen = torch.Generator().manual_seed(int(seed))
            z = torch.randn(int(n), self.config.style_dim, generator=gen)
        z = z.to(self.device, torch.float32)
        w = torch.cat([self.style(c) for c in z.split(4096)])
        self.mean_latent_renderer.copy_(w.mean(0, keepdim=True))
        if self.config.full_pipeline:
            d = torch.cat([self.decoder.style(c) for c in w.split(4096)])
            self.mean_latent_decoder.copy_(d.mean(0, keepdim=True))
        self.mean_latent_count.fill_(z.shape[0])
        return self.mean_latent_renderer.clone(), self.mean_latent_decoder.clone()

    def set_mean_latents(self, renderer: torch.Tensor, decoder: torch.Tensor | None = None) -> None:
        """Use given mean latents (``[1,S]``, ``[1,2S]``), e.g. the ones of an official run."""
        self.mean_latent_renderer.copy_(torch.as_tensor(renderer).reshape(1, -1))
        if decoder is not None:
            self.mean_latent_decoder.copy_(torch.as_tensor(decoder).reshape(1, -1))
        self.mean_latent_count.fill_(-1)  # -1: given, not computed here

    def _ensure_means(self) -> None:
        if int(self.mean_latent_count) == 0:
            self.compute_mean_latents()

    def decoder_latent(self, w_global: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        """The decoder's latent ``[B,2S]`` from a renderer w ``[B,S]``: its own mapping, then truncation
        towards the mean decoder latent (the official decoder does both)."""
        if not self.config.full_pipeline:
            return w_global.new_zeros(w_global.shape[0], 2 * self.config.style_dim)
        if truncation_psi != 1:
            self._ensure_means()
        return self.decoder.map(w_global, self.mean_latent_decoder, truncation_psi)

    def mapping(self, z: torch.Tensor, camera: gan3d.Camera | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, double_truncation: bool = True) -> torch.Tensor:
        """``z [B,S]`` -> ``w [B,2K+2,S]`` as the official inference (``inference_Full.py``) forms it.

        With ``psi < 1``: ``w_t = psi w + (1-psi) mean``; the renderer slots get ``w_t`` truncated once more
        (``double_truncation``, effective psi squared, as the official script does) and the decoder maps
        ``w_t`` and truncates its own latent with psi. ``truncation_cutoff`` limits the renderer
        truncation to the first slots (the decoder latent is always truncated). ``camera`` is unused:
        CNeRF's mapping is not camera-conditioned.
        """
        self.check_truncation(truncation_psi, truncation_cutoff, self.config.num_slots)
        z = self.check_latents(z)
        w = self.style(z)
        psi = float(truncation_psi)
        if psi != 1:
            self._ensure_means()
            mean = self.mean_latent_renderer
            w_t = psi * w + (1 - psi) * mean
            w_r = mean + psi * (w_t - mean) if double_truncation else w_t
        else:
            w_t = w_r = w
        slots = w_r.unsqueeze(1).repeat(1, self.config.num_slots, 1)
        if truncation_cutoff is not None:
            slots[:, truncation_cutoff:] = w.unsqueeze(1)
        return self.pack_w(slots, self.decoder_latent(w_t, psi))

    def ws_from_slots(self, slots: torch.Tensor, decoder_input: torch.Tensor | None = None,
                      truncation_psi: float = 1.0) -> torch.Tensor:
        """Per-slot latents (the official per-class editing input) -> ``w [B,2K+2,S]``.

        slots ``[B,2K,S]``: renderer w per slot (slot 2k = class k's shape, 2k+1 its texture), truncated
        once towards the mean with ``truncation_psi``; decoder_input ``[B,S]`` (default: slot 0), mapped
        and truncated by the decoder.
        """
        slots = torch.as_tensor(slots).to(self.device, torch.float32)
        check_shape("slots", slots, (None, self.config.num_slots, self.config.style_dim),
                    "one renderer w per slot: 2 per class (shape, texture)")
        psi = float(truncation_psi)
        self.check_truncation(psi, None, self.config.num_slots)
        if psi != 1:
            self._ensure_means()
            slots = self.mean_latent_renderer + psi * (slots - self.mean_latent_renderer)
        dec_in = slots[:, 0] if decoder_input is None else torch.as_tensor(decoder_input).to(self.device)
        return self.pack_w(slots, self.decoder_latent(dec_in, psi))

    # ------------------------------------------------------------------ synthesis
    def synthesize(self, w: torch.Tensor, camera: gan3d.Camera, semantics: list[int] | None = None,
                   resolution: int | None = None, num_samples: int | None = None, perturb: bool = False,
                   randomize_noise: bool = False, return_sdf: bool = False, return_mesh: bool = False,
                   return_regions: bool = False, return_features: bool = False, decode: bool | None = None,
                   **kwargs) -> gan3d.GeneratorOutput:
        """Render ``w [B,2K+2,S]`` from ``camera`` (B cameras, or one for the batch).

        semantics: class indices whose features reach the decoder (the official per-region synthesis;
        colour, SDF and masks still use every class). perturb / randomize_noise: the training-time
        ray jitter and fresh decoder noise (the official inference uses neither, so ``deterministic``
        changes nothing here). resolution / num_samples: of the volume rendering (the decoder needs the
        trained resolution). decode=False skips the 2D stage (``image`` is then the low-res image).

        Output: ``image [B,3,H,W]`` (decoder), ``image_raw [B,3,h,w]`` (volume-rendered), ``semantic
        [B,K,h,w]`` (raw composited mask logits), ``depth [B,1,h,w]`` (camera z of the expected surface
        point), ``mask [B,1,h,w]`` (opacity before the ray's last, infinitely long sample) and extras:
        ``semantic_high [B,K,H,W]``, ``xyz [B,3,h,w]`` (expected world point per pixel),
        ``last_weight [B,1,h,w]`` (official ``mask``), optionally ``features [B,W,h,w]``, ``sdf
        [B,h,w,N,1]``, ``regions [B,K,3,h,w]`` (each class's own colour ``m_k rgb_k`` composited with the
        full weights), ``mesh_vertices [B,h*w,3]`` / ``mesh_faces [B,F,3]``.
        """
        if kwargs:
            raise InputError(f"unknown CNeRF synthesis options {sorted(kwargs)}")
        slots, dec_w = self.split_w(torch.as_tensor(w).to(self.device, torch.float32))
        B = slots.shape[0]
        camera = to_cnerf_camera(self.check_camera(camera, B), self.config.half_fov_degrees)
        if semantics is not None:
            semantics = [int(k) for k in semantics]
            bad = [k for k in semantics if not 0 <= k < self.num_classes]
            if bad:
                raise InputError(f"semantic classes {bad} out of range 0-{self.num_classes - 1}")
        res = int(resolution or self.config.render_resolution)
        full = self.config.full_pipeline if decode is None else bool(decode) and self.config.full_pipeline
        if full and res != self.config.render_resolution:
            raise InputError(f"the decoder takes {self.config.render_resolution}x{self.config.render_resolution} "
                             f"features; render other sizes with G.render_low_res")
        n = int(num_samples or self.config.num_samples)
        if n < 2 or res < 1:
            raise InputError(f"need at least 2 samples per ray and 1 pixel, got {n} samples at {res}x{res}")
        maps = self.renderer.render(
            self.expand_slots(slots), camera, res, n,
            self.config.near, self.config.far, semantics=semantics, static_viewdirs=self.config.static_viewdirs,
            z_normalize=self.config.z_normalize, perturb=perturb,
            chunk=max(1, int(self.points_per_pass) // (B * n * self.num_classes)),
            with_features=full or return_features,
            with_regions=return_regions, return_sdf=return_sdf)
        extras = {}
        if return_features:
            extras["features"] = maps["features"]
        if return_sdf:
            extras["sdf"] = maps["sdf"]
        if return_regions:
            extras["regions"] = maps["regions"]
        if return_mesh:
            verts, faces = grid_mesh(maps["xyz"])
            extras["mesh_vertices"], extras["mesh_faces"] = verts, faces
        return self._output(maps, camera, dec_w if full else None, randomize_noise, extras)

    def _output(self, maps: dict, camera: gan3d.Camera, dec_w: torch.Tensor | None, randomize_noise: bool,
                extras: dict) -> gan3d.GeneratorOutput:
        """Rendered maps (+ the decoder when ``dec_w`` is given) -> GeneratorOutput."""
        extras = {"xyz": maps["xyz"], "last_weight": maps["last_weight"], **extras}
        if dec_w is not None and self.config.full_pipeline:
            image, extras["semantic_high"] = self.decode(maps["features"], dec_w, maps["seg"], randomize_noise)
        else:
            image = maps["rgb"]
        forward = camera.cam2world[:, :3, 2]
        depth = ((maps["xyz"] - camera.origin[:, :, None, None]) * forward[:, :, None, None]).sum(1, keepdim=True)
        return gan3d.GeneratorOutput(image=image, image_raw=maps["rgb"], depth=depth, mask=maps["opacity"],
                                     semantic=maps["seg"], extras=extras)

    def decode(self, features: torch.Tensor, decoder_w: torch.Tensor, seg: torch.Tensor,
               randomize_noise: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The 2D stage alone: rendered ``features [B,W,64,64]``, decoder latent ``[B,2S]``, low-res mask
        ``seg [B,K,64,64]`` -> ``(image [B,3,H,W], semantic_high [B,K,H,W])``."""
        return self.decoder(self.feature_transfer(features), decoder_w, seg_in=seg, randomize_noise=randomize_noise)

    @torch.no_grad()
    def render_regions(self, w: torch.Tensor, camera: gan3d.Camera,
                       regions: list[int] | None = None) -> tuple[gan3d.GeneratorOutput, torch.Tensor]:
        """The full output and each region rendered alone, from one volume rendering.

        A region's image is the official per-region synthesis (``semantics=[k]``: only class k's
        features reach the decoder); since the composited features are a sum over classes, every region
        reuses one rendering. Returns ``(output, images [B,R,3,H,W])`` for ``regions`` (default: all).
        """
        regions = list(range(self.num_classes)) if regions is None else [int(k) for k in regions]
        slots, dec_w = self.split_w(torch.as_tensor(w).to(self.device, torch.float32))
        B = slots.shape[0]
        camera = to_cnerf_camera(self.check_camera(camera, B), self.config.half_fov_degrees)
        n, res = self.config.num_samples, self.config.render_resolution
        maps = self.renderer.render(
            self.expand_slots(slots), camera, res, n, self.config.near, self.config.far,
            static_viewdirs=self.config.static_viewdirs, z_normalize=self.config.z_normalize,
            chunk=max(1, int(self.points_per_pass) // (B * n * self.num_classes)), with_regions=True,
            with_region_features=True)
        out = self._output(maps, camera, dec_w, False, {"regions": maps["regions"]})
        if not self.config.full_pipeline:
            return out, maps["regions"][:, regions]
        images = [self.decode(maps["region_features"][:, k], dec_w, maps["seg"])[0] for k in regions]
        return out, torch.stack(images, 1)

    def render_low_res(self, w: torch.Tensor, camera: gan3d.Camera, resolution: int = 128,
                       num_samples: int = 128, **kw) -> gan3d.GeneratorOutput:
        """Volume rendering only, at any resolution (the official surface extraction: 128 rays, 128 samples)."""
        return self.synthesize(w, camera, resolution=resolution, num_samples=num_samples, decode=False, **kw)

    # ------------------------------------------------------------------ checkpoints
    def official_keys(self) -> dict[str, tuple[int, ...]]:
        """Key -> shape of the authors' state_dict for this configuration."""
        return {k: tuple(v.shape) for k, v in self.state_dict().items() if k not in EXTRA_KEYS}

    def load_official_state_dict(self, state: dict[str, torch.Tensor], compute_means: bool = True) -> None:
        """Load ``checkpoint["g_ema"]`` strictly (every key, every shape) and compute the mean latents."""
        check_official_state_dict(state, self.official_keys(), self.num_classes)
        missing, unexpected = self.load_state_dict(state, strict=False)
        assert not unexpected and set(missing) <= set(EXTRA_KEYS), (missing, unexpected)
        self.mean_latent_count.zero_()
        if compute_means:
            self.compute_mean_latents()

    def export_config(self) -> dict:
        return self.config.to_dict()


def count_classes(state: dict[str, torch.Tensor]) -> int:
    """Number of local generators in a CNeRF state_dict (``renderer.network.<k>.``)."""
    ks = {int(k.split(".")[2]) for k in state if k.startswith("renderer.network.") and k.split(".")[2].isdigit()}
    return max(ks) + 1 if ks else 0


def check_official_state_dict(state: dict, expected: dict[str, tuple[int, ...]], num_classes: int) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly the ``expected`` keys and shapes."""
    if not isinstance(state, dict):
        raise CheckpointError("a CNeRF generator state_dict maps names to tensors; this one does not")
    found = count_classes(state)
    if found and found != num_classes:
        raise CheckpointError(
            f"this checkpoint has {found} semantic classes (local generators) but the CNeRF model has "
            f"{num_classes}; the 12-class low-resolution models of the student re-implementation "
            f"(HemaDevaSagar35/CNeRF) are a different architecture and are not supported")
    check_state_dict(state, expected, "the state_dict (for this CNeRF configuration)")
