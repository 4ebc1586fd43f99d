"""EG3D's tri-plane generator as a :class:`gan3d.Generator`.

``EG3DGenerator`` mirrors NVlabs' ``TriPlaneGenerator``: the same sub-modules under the same names
(``backbone``, ``superresolution``, ``decoder``, and the ``dataset_label_std`` buffer that the
training loop adds), so an official G_ema ``state_dict`` loads with ``strict=True``. Volume rendering
is the core's :class:`gan3d.render.VolumeRenderer`, which implements EG3D's ImportanceRenderer.

Differences from the official module, all deliberate:

* the rendering camera is a :class:`gan3d.Camera` (or a 25-number label) and the conditioning camera
  defaults to the card's frontal view, as the official scripts (not ``forward``) do;
* ``neural_rendering_resolution`` passed to :meth:`synthesize` applies to that call only (the official
  code stores it permanently as a side effect);
* tri-planes are cached while ``w`` and the noise mode stay the same (only in a deterministic noise
  mode), and rays are rendered in chunks so memory stays bounded;
* ``deterministic=True`` gives zero stratified jitter, ``linspace`` importance samples and 'const'
  noise; otherwise the official stochastic behaviour (random jitter, random pdf draws, random noise);
* training passes ``draws`` (a :class:`gan3d.train.Draws`) to :meth:`synthesize` / :meth:`sample_mixed`:
  every random number then comes from it under a stable name (``noise/b64.conv0``,
  ``sr_noise/block0.conv1``, ``render/stratified_u``, ``render/importance_u``), the convolutions take
  the official training path (modulation on activations, never grouped) and nothing is cached.

``image_raw`` is returned exactly as the official code returns it, including the in-place aliasing
of the 2X/4X super-resolution (the rendered RGB plus the SR's first ToRGB); the untouched rendering is
``extras["image_raw_rendered"]``.
"""

from __future__ import annotations

import copy
import json
import warnings

import torch

import gan3d
from gan3d.unpickle import check_state_dict
from gan3d.camera import Camera
from gan3d.errors import InputError, check_shape
from gan3d.outputs import GeneratorOutput
from gan3d.render import VolumeRenderer

from .stylegan2 import Backbone
from .superres import build_superresolution
from .triplane import OSGDecoder, sample_triplanes

TRIPLANE_RES = 256   # hard-coded in the official generator (gan3d's init kwarg ``triplane_resolution``)
TRIPLANE_CH = 32     # channels per plane (3 planes -> 96 backbone channels)
LABEL_DIM = 25       # 16 of cam2world + 9 of normalised intrinsics

# init kwargs that only matter for training or fp16 on CUDA (we always run fp32, fused, eval)
_IGNORED_KWARGS = {"fused_modconv_default", "num_fp16_res"}


def _plain(obj):
    """JSON-able copy: dict subclasses (EasyDict) -> dict, tuples -> lists, numpy scalars -> floats."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    return obj


def to_plane_layout(img: torch.Tensor) -> torch.Tensor:
    """Backbone output ``[B,3*C,H,W]`` -> ``[B*3,C,H,W]`` channels-last planes in one copy.

    A channels-last ``img`` (the NHWC convolution path) is memory ``[B,H,W,3*C]``; reshaping it to
    ``[B*3,C,H,W]`` first would transpose everything to NCHW and then back. Viewing it as
    ``[B,H,W,3,C]`` and moving the plane axis forward instead copies whole ``C``-float rows once.
    """
    B, PC, H, W = img.shape
    if not img.is_contiguous(memory_format=torch.channels_last) or img.is_contiguous():
        return img.reshape(B * 3, PC // 3, H, W).contiguous(memory_format=torch.channels_last)
    nhwc = img.permute(0, 2, 3, 1).reshape(B, H, W, 3, PC // 3).permute(0, 3, 1, 2, 4).contiguous()
    return nhwc.reshape(B * 3, H, W, PC // 3).permute(0, 3, 1, 2)


class EG3DGenerator(gan3d.Generator):
    """EG3D tri-plane generator (Chan et al., CVPR 2022).

    card: the model card; init_kwargs: the official constructor arguments (``z_dim``, ``c_dim``,
    ``w_dim``, ``img_resolution``, ``img_channels``, ``sr_num_fp16_res``, ``mapping_kwargs``,
    ``rendering_kwargs``, ``sr_kwargs``, ``channel_base``, ``channel_max``, ``conv_clamp``);
    rendering_kwargs: overrides ``init_kwargs['rendering_kwargs']`` (pickles carry the attribute);
    neural_rendering_resolution: the volume rendering size (the checkpoint's value, not always 64).
    """

    def __init__(self, card: gan3d.ModelCard, init_kwargs: dict, rendering_kwargs: dict | None = None,
                 neural_rendering_resolution: int = 64, dataset_label_std: bool = True,
                 sr_antialias: bool | None = None):
        super().__init__(card)
        kw = _plain(dict(init_kwargs))
        self.init_kwargs = copy.deepcopy(kw)
        self.rendering_kwargs = _plain(dict(rendering_kwargs if rendering_kwargs is not None
                                            else kw.get("rendering_kwargs", {})))
        rk = self.rendering_kwargs
        try:
            self.z_dim, self.c_dim, self.w_dim = int(kw["z_dim"]), int(kw["c_dim"]), int(kw["w_dim"])
            self.img_resolution, self.img_channels = int(kw["img_resolution"]), int(kw["img_channels"])
            sr_module = rk["superresolution_module"]
        except KeyError as e:
            raise gan3d.CheckpointError(f"EG3D config lacks {e.args[0]!r}; is this an EG3D checkpoint?") from None
        if card.latent.dim != self.z_dim:
            raise gan3d.CheckpointError(f"card {card.name} declares latents of size {card.latent.dim} but the "
                                        f"checkpoint has z_dim {self.z_dim}")
        unknown = set(kw) - {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "sr_num_fp16_res",
                             "mapping_kwargs", "rendering_kwargs", "sr_kwargs", "channel_base", "channel_max",
                             "conv_clamp", "triplane_resolution"} - _IGNORED_KWARGS
        if unknown:
            warnings.warn(f"EG3D init kwargs {sorted(unknown)} are not used by gan3d's implementation", stacklevel=2)
        self.neural_rendering_resolution = int(neural_rendering_resolution)
        self.sr_num_fp16_res = int(kw.get("sr_num_fp16_res", 0))

        if dataset_label_std:  # registered by the official training loop; unused at inference
            self.register_buffer("dataset_label_std", torch.ones(self.c_dim))
        # gan3d extension for small models (the synth64 preset): smaller planes; absent in official configs
        self.triplane_resolution = int(kw.get("triplane_resolution", TRIPLANE_RES))
        self.backbone = Backbone(self.z_dim, self.c_dim, self.w_dim, img_resolution=self.triplane_resolution,
                                 img_channels=3 * TRIPLANE_CH, mapping_kwargs=kw.get("mapping_kwargs") or {},
                                 channel_base=int(kw.get("channel_base", 32768)),
                                 channel_max=int(kw.get("channel_max", 512)), conv_clamp=kw.get("conv_clamp"))
        antialias = rk.get("sr_antialias", True) if sr_antialias is None else sr_antialias
        try:
            self.superresolution = build_superresolution(sr_module, TRIPLANE_CH, self.img_resolution,
                                                         self.sr_num_fp16_res, bool(antialias),
                                                         widths=(kw.get("sr_kwargs") or {}).get("channels"))
        except ValueError as e:
            raise gan3d.CheckpointError(str(e)) from None
        self.sr_antialias = bool(antialias)
        self.decoder = OSGDecoder(TRIPLANE_CH, decoder_lr_mul=float(rk.get("decoder_lr_mul", 1.0)),
                                  decoder_output_dim=TRIPLANE_CH)
        if rk.get("clamp_mode", "softplus") != "softplus":
            raise gan3d.CheckpointError(f"EG3D clamp_mode {rk.get('clamp_mode')!r} is not supported (only 'softplus')")
        if rk.get("disparity_space_sampling", False) or not isinstance(rk.get("ray_start"), (int, float)):
            raise gan3d.CheckpointError("EG3D checkpoints with disparity-space or 'auto' ray limits are not supported")
        # None: the official fused (grouped) modulated conv at batch 1, activation scaling (same maths,
        # rounding-level differences) for larger batches, which is faster on CPU; True/False force one
        self.fused_modconv: bool | None = None
        self.channels_last = True  # NHWC convolutions; a memory layout choice only
        self.chunk_points = 1 << 19  # points per field evaluation: bounds memory at any resolution
        self._plane_cache: tuple | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def num_ws(self) -> int:
        return self.backbone.num_ws

    def _label(self, camera, batch: int, what: str) -> torch.Tensor:
        """A :class:`Camera` or EG3D label(s) ``[B,25]``/``[25]`` -> labels ``[batch,25]`` on this device."""
        if isinstance(camera, Camera):
            if len(camera) not in (1, batch):
                raise InputError(f"{what}: {len(camera)} cameras for a batch of {batch}; give 1 or {batch}")
            return camera.expand(batch).to(self.device).to_eg3d_label()
        c = torch.as_tensor(camera, dtype=torch.float32)
        if c.ndim == 1:
            c = c[None]
        check_shape(what, c, (None, LABEL_DIM), "EG3D labels are 16 numbers of cam2world then 9 of "
                    "normalised intrinsics; or pass a gan3d.Camera")
        if c.shape[0] not in (1, batch):
            raise InputError(f"{what}: {c.shape[0]} labels for a batch of {batch}; give 1 or {batch}")
        if not torch.isfinite(c).all():
            raise InputError(f"{what} contains NaN or infinity")
        return c.expand(batch, LABEL_DIM).to(self.device)

    def _noise_mode(self, noise_mode: str | None) -> str:
        if noise_mode is None:
            return "const" if self.deterministic else "random"
        if noise_mode not in ("random", "const", "none"):
            raise InputError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        return noise_mode

    def check_ws(self, ws: torch.Tensor) -> torch.Tensor:
        ws = torch.as_tensor(ws)
        check_shape("w", ws, (None, self.num_ws, self.w_dim), "use G.mapping(z) to get w")
        return ws.to(self.device, torch.float32)

    # ------------------------------------------------------------------ mapping
    def mapping(self, z: torch.Tensor, camera: Camera | torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        """``z [B,512]`` and the conditioning camera (default: the card's frontal view) -> ``w [B,14,512]``.

        ``camera`` may also be EG3D labels ``[B,25]``. As the official mapping, the label is zeroed for
        models trained without pose conditioning (``c_gen_conditioning_zero``) and scaled by ``c_scale``.
        ``update_emas`` (training) moves ``backbone.mapping.w_avg`` towards this batch's mean w.
        """
        z = self.check_latents(z)
        self.check_truncation(truncation_psi, truncation_cutoff, self.num_ws)
        B = z.shape[0]
        c = self._label(self.default_camera() if camera is None else camera, B, "conditioning camera")
        rk = self.rendering_kwargs
        if rk.get("c_gen_conditioning_zero", False):
            c = torch.zeros_like(c)
        c = c * rk.get("c_scale", 0)  # the official default is 0 when the key is missing
        return self.backbone.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                                     update_emas=update_emas)

    # ------------------------------------------------------------------ tri-planes
    def _param_versions(self) -> tuple:
        return tuple(t._version for t in self.backbone.synthesis.state_dict(keep_vars=True).values())

    def planes(self, ws: torch.Tensor, noise_mode: str | None = None, cache: bool = True, draws=None) -> torch.Tensor:
        """Tri-planes ``[B,3,32,256,256]`` (channels-last in memory) for ``ws [B,14,512]``.

        With a deterministic noise mode the last result is reused while ``ws`` (by value), the noise
        mode and the weights stay unchanged, so re-rendering one w from new cameras skips the backbone.
        ``draws`` (training): 'random' noise comes from it, the training convolution path, no cache.
        """
        ws = self.check_ws(ws)
        noise_mode = self._noise_mode(noise_mode)
        noises = None
        if draws is not None and noise_mode == "random":
            noises = {k: draws.randn(f"noise/{k}", shape, ws.device)
                      for k, shape in self.backbone.synthesis.noise_shapes(ws.shape[0]).items()}
        cacheable = (cache and draws is None and noise_mode != "random"
                     and not (torch.is_grad_enabled() and ws.requires_grad))
        key = ((noise_mode, ws.shape, ws.device, self.fused_modconv, self.channels_last, self._param_versions())
               if cacheable else None)
        if key is not None and self._plane_cache is not None:
            ckey, cws, cplanes = self._plane_cache
            if ckey == key and torch.equal(cws, ws):
                return cplanes
        img = self.backbone.synthesis(ws, noise_mode=noise_mode, fused=self._fused(draws),
                                      channels_last=self.channels_last, noises=noises)  # [B,96,256,256]
        B, _, H, W = img.shape
        # channels-last planes make grid_sample's bilinear gathers contiguous (~1.7x faster on CPU)
        planes = to_plane_layout(img).reshape(B, 3, TRIPLANE_CH, H, W)
        self._plane_cache = (key, ws.detach().clone(), planes) if key is not None else None
        return planes

    def _fused(self, draws) -> bool | None:
        # training uses the official training path (fused_modconv_default 'inference_only' -> False)
        return False if draws is not None else self.fused_modconv

    def clear_cache(self) -> None:
        self._plane_cache = None

    def field(self, planes: torch.Tensor):
        """The radiance field of ``planes``: ``(points [B,N,3], dirs) -> (features [B,N,32], raw sigma [B,N,1])``."""
        box_warp = float(self.rendering_kwargs["box_warp"])

        def run(points: torch.Tensor, dirs: torch.Tensor):
            return self.decoder.decode_points(planes, points, box_warp)

        return run

    def renderer(self, sample_mult: float = 1.0) -> VolumeRenderer:
        """The volume renderer with this checkpoint's settings (``sample_mult`` scales both sample counts,
        like gen_videos.py's ``--sample_mult``)."""
        rk = self.rendering_kwargs
        return VolumeRenderer(ray_start=rk["ray_start"], ray_end=rk["ray_end"],
                              num_samples=int(rk["depth_resolution"] * sample_mult),
                              num_importance=int(rk["depth_resolution_importance"] * sample_mult),
                              white_back=bool(rk.get("white_back", False)), chunk=None,
                              max_points=self.chunk_points)

    # ------------------------------------------------------------------ synthesis
    def synthesize(self, w: torch.Tensor, camera: Camera | torch.Tensor, *, neural_rendering_resolution: int | None = None,
                   noise_mode: str | None = None, planes: torch.Tensor | None = None, sample_mult: float = 1.0,
                   draws=None, **kwargs) -> GeneratorOutput:
        """Render ``w [B,14,512]`` from ``camera`` (a :class:`Camera` or labels ``[B,25]``).

        Returns ``image [B,3,R,R]`` (after super-resolution), ``image_raw [B,3,h,w]`` (as the official
        code returns it), ``depth [B,1,h,w]`` (EG3D's ``image_depth``: distance along the ray),
        ``mask [B,1,h,w]`` (accumulated opacity) and extras ``features [B,32,h,w]`` (the composited
        feature image fed to the SR) and ``image_raw_rendered [B,3,h,w]`` (before the SR touched it).
        ``planes`` skips the backbone (from :meth:`planes`); ``noise_mode`` defaults to 'const' in
        deterministic mode and 'random' otherwise. ``draws`` (training, see the module docstring) also
        skips the pose-range check of the camera.
        """
        if kwargs:
            raise InputError(f"unknown EG3D synthesis option(s): {', '.join(sorted(kwargs))}")
        ws = self.check_ws(w)
        B = ws.shape[0]
        if not isinstance(camera, Camera):
            camera = Camera.from_eg3d_label(self._label(camera, B, "camera"))
        camera = self.check_camera(camera, B) if draws is None else camera.expand(B).to(self.device)
        nrr = int(neural_rendering_resolution or self.neural_rendering_resolution)
        if nrr < 1:
            raise InputError(f"neural_rendering_resolution must be positive, got {nrr}")
        if not sample_mult > 0:
            raise InputError(f"sample_mult must be positive, got {sample_mult}")
        noise_mode = self._noise_mode(noise_mode)
        if planes is None:
            planes = self.planes(ws, noise_mode, draws=draws)
        else:
            check_shape("planes", planes, (B, 3, TRIPLANE_CH, None, None), "use G.planes(w)")
        renderer = self.renderer(sample_mult)
        if draws is not None:
            renderer.max_points = None  # one pass, so every draw has the shape the official code draws
        r = renderer.render(self.field(planes), camera, nrr, deterministic=self.deterministic, draws=draws)
        feature_image, depth, opacity = r.features, r.depth, r.opacity
        rendered = feature_image[:, :3].clone()
        # A view, as in the official code (see the module docstring). With autograd the SR's in-place
        # skip addition must not write into the feature image it also reads, so it writes into a copy:
        # the same values (the rendering plus block0's ToRGB where the SR does not resize).
        rgb_image = feature_image[:, :3].clone() if torch.is_grad_enabled() else feature_image[:, :3]
        sr_noise = self.rendering_kwargs.get("superresolution_noise_mode", "none")
        if self.deterministic and sr_noise == "random":
            sr_noise = "const"
        sr_noises = None
        if draws is not None and sr_noise == "random":
            sr_noises = {k: draws.randn(f"sr_noise/{k}", shape, ws.device)
                         for k, shape in self.superresolution.noise_shapes(B).items()}
        image = self.superresolution(rgb_image, feature_image, ws, noise_mode=sr_noise, fused=self._fused(draws),
                                     channels_last=self.channels_last, noises=sr_noises).contiguous()
        return GeneratorOutput(image=image, image_raw=rgb_image, depth=depth, mask=opacity,
                               extras={"features": feature_image, "image_raw_rendered": rendered})

    # ------------------------------------------------------------------ point queries
    def sample_mixed(self, coordinates: torch.Tensor, directions: torch.Tensor, ws: torch.Tensor,
                     noise_mode: str | None = None, draws=None) -> dict[str, torch.Tensor]:
        """Field at world ``coordinates [B,M,3]`` for ``ws`` -> ``{'rgb': [B,M,32], 'sigma': [B,M,1]}`` (raw sigma).

        ``draws``: training's source of the backbone noise (see :meth:`planes`)."""
        ws = self.check_ws(ws)
        check_shape("coordinates", coordinates, (ws.shape[0], None, 3))
        planes = self.planes(ws, noise_mode, draws=draws)
        # the official path (features moved to [B,3,M,C], mean, MLP) for bit-faithful point queries
        box_warp = float(self.rendering_kwargs["box_warp"])
        rgb, sigma = self.decoder(sample_triplanes(planes, coordinates.to(self.device, torch.float32), box_warp))
        return {"rgb": rgb, "sigma": sigma}

    def sample(self, coordinates: torch.Tensor, directions: torch.Tensor, z: torch.Tensor,
               camera: Camera | torch.Tensor | None = None, truncation_psi: float = 1.0,
               truncation_cutoff: int | None = None, noise_mode: str | None = None) -> dict[str, torch.Tensor]:
        """Official ``G.sample``: mapping (conditioning ``camera``) then the field at ``coordinates [B,M,3]``."""
        ws = self.mapping(z, camera, truncation_psi, truncation_cutoff)
        return self.sample_mixed(coordinates, directions, ws, noise_mode)

    # ------------------------------------------------------------------ export
    def export_config(self) -> dict:
        """Everything (besides the state_dict) that rebuilds this generator; see :func:`from_config`."""
        return {
            "init_kwargs": _plain(self.init_kwargs),
            "rendering_kwargs": _plain(self.rendering_kwargs),
            "neural_rendering_resolution": self.neural_rendering_resolution,
            "dataset_label_std": "dataset_label_std" in dict(self.named_buffers()),
            "sr_antialias": self.sr_antialias,
        }

    @classmethod
    def from_config(cls, card: gan3d.ModelCard, config: dict) -> "EG3DGenerator":
        try:
            return cls(card, config["init_kwargs"], config.get("rendering_kwargs"),
                       int(config.get("neural_rendering_resolution", 64)),
                       dataset_label_std=bool(config.get("dataset_label_std", True)),
                       sr_antialias=config.get("sr_antialias"))
        except (KeyError, TypeError, ValueError) as e:
            raise gan3d.CheckpointError(f"bad EG3D config ({type(e).__name__}: {e})") from None

    def load_weights(self, state_dict: dict[str, torch.Tensor], source: str = "checkpoint") -> "EG3DGenerator":
        """Load an official-named state_dict strictly (float16 values are cast to float32)."""
        sd = {k: (v.float() if torch.is_floating_point(v) else v) for k, v in state_dict.items()}
        check_state_dict(sd, {k: tuple(v.shape) for k, v in self.state_dict().items()},
                         f"{source} (for the EG3D architecture it declares)")
        self.load_state_dict(sd, strict=True)
        self.clear_cache()
        return self

    def extra_repr(self) -> str:
        rk = self.rendering_kwargs
        return (f"card={self.card.name}, nrr={self.neural_rendering_resolution}, "
                f"sr={str(rk.get('superresolution_module')).rsplit('.', 1)[-1]}, "
                f"samples={rk.get('depth_resolution')}+{rk.get('depth_resolution_importance')}, "
                f"rendering_kwargs={json.dumps(_plain(rk))[:80]}...")
