"""Architecture and rendering settings of a CNeRF generator."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from gan3d.errors import CheckpointError

from .camera import DIST_RADIUS, HALF_FOV_DEGREES


@dataclass(frozen=True)
class CNeRFConfig:
    """Defaults are the released FFHQ model as ``inference_Full.py`` builds it."""

    size: int = 512                    # final image size (2D decoder output)
    style_dim: int = 256               # z / renderer w size; the decoder's w has 2 * style_dim
    channel_multiplier: int = 2
    num_classes: int = 9               # local generators = semantic classes
    width: int = 128                   # local generator width = rendered feature channels
    depth: int = 3                     # shape layers per local generator (plus 2 texture layers)
    render_resolution: int = 64        # volume-rendered image size
    num_samples: int = 64              # samples per ray (64 at inference, 24 in training)
    half_fov_degrees: float = HALF_FOV_DEGREES
    dist_radius: float = DIST_RADIUS   # rays run from 1 - r to 1 + r
    static_viewdirs: bool = True       # camera-frame view directions (inference) vs world frame (training)
    z_normalize: bool = True           # network input = x * 2 / (far - near)
    lr_mapping: float = 0.01
    feature_channels: int = 256        # feature_transfer output = decoder input channels
    full_pipeline: bool = True         # False: the low-resolution model (no decoder)
    decoder_channel_divisor: int = 1   # > 1: a narrower decoder than the official (small trained models)

    @property
    def near(self) -> float:
        return 1.0 - self.dist_radius

    @property
    def far(self) -> float:
        return 1.0 + self.dist_radius

    @property
    def num_slots(self) -> int:
        """Renderer latent slots: a shape and a texture code per class."""
        return 2 * self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CNeRFConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise CheckpointError(f"unknown CNeRF config entries {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_official_options(cls, opt: dict) -> "CNeRFConfig":
        """From the official ``{"model": ..., "rendering": ..., "camera": ...}`` option groups."""
        model, rendering, camera = opt.get("model", {}), opt.get("rendering", {}), opt.get("camera", {})
        if rendering.get("no_sdf"):
            raise CheckpointError("CNeRF models without SDF (--no_sdf) are not supported (the official code "
                                  "cannot render them either)")
        return cls(
            size=int(model.get("size", 512)), style_dim=int(model.get("style_dim", 256)),
            channel_multiplier=int(model.get("channel_multiplier", 2)),
            num_classes=int(rendering.get("n_render", model.get("n_wcode", 9))),
            width=int(rendering.get("width", 128)), depth=int(rendering.get("depth", 3)),
            render_resolution=int(model.get("renderer_spatial_output_dim", 64)),
            num_samples=int(rendering.get("N_samples", 64)),
            half_fov_degrees=float(camera.get("fov", HALF_FOV_DEGREES)),
            dist_radius=float(camera.get("dist_radius", DIST_RADIUS)),
            static_viewdirs=bool(rendering.get("static_viewdirs", True)),
            z_normalize=not rendering.get("no_z_normalize", False),
            lr_mapping=float(model.get("lr_mapping", 0.01)),
            feature_channels=int(model.get("feature_encoder_in_channels", 256)),
        )
