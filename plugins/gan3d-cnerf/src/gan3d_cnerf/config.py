"""Architecture and rendering settings of a CNeRF generator."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from gan3d.errors import CheckpointError, validated

from .camera import DIST_RADIUS, HALF_FOV_DEGREES

# the StyleGAN2 decoder has a channel table from 4 to 1024 px (decoder.decoder_channels)
DECODER_MIN_SIZE, DECODER_MAX_SIZE = 4, 1024

# CNeRFConfig fields -> the official option groups that hold them (opt.model / opt.rendering / opt.camera)
OFFICIAL_NAMES = {
    "size": "model['size']", "style_dim": "model['style_dim']",
    "channel_multiplier": "model['channel_multiplier']", "num_classes": "rendering['n_render']",
    "width": "rendering['width']", "depth": "rendering['depth']",
    "render_resolution": "model['renderer_spatial_output_dim']", "num_samples": "rendering['N_samples']",
    "half_fov_degrees": "camera['fov']", "dist_radius": "camera['dist_radius']",
    "static_viewdirs": "rendering['static_viewdirs']", "z_normalize": "rendering['no_z_normalize'] (negated)",
    "lr_mapping": "model['lr_mapping']", "feature_channels": "model['feature_encoder_in_channels']",
}
SAFE_FORM_FIX = ("The file was edited or written by another gan3d version: correct these entries (remove the ones "
                 "CNeRFConfig does not know), or write the model again with Generator.save_pretrained.")
OFFICIAL_FIX = ("Correct these entries of the official options (the released FFHQ model has model['size'] = 512, "
                "model['renderer_spatial_output_dim'] = 64, rendering['N_samples'] = 64, rendering['width'] = 128, "
                "camera['fov'] = 6, camera['dist_radius'] = 0.12).")


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class CNeRFConfig(BaseModel):
    """Defaults are the released FFHQ model as ``inference_Full.py`` builds it.

    Frozen: change a copy with :meth:`replace` (which validates, unlike ``model_copy``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(512, ge=1, description="final image size (2D decoder output)")
    style_dim: int = Field(256, ge=1, description="z / renderer w size; the decoder's w has 2 * style_dim")
    channel_multiplier: int = Field(2, ge=1)
    num_classes: int = Field(9, ge=1, description="local generators = semantic classes")
    width: int = Field(128, ge=1, description="local generator width = rendered feature channels")
    depth: int = Field(3, ge=1, description="shape layers per local generator (plus 2 texture layers)")
    render_resolution: int = Field(64, ge=1, description="volume-rendered image size")
    # the renderer needs a depth interval between samples
    num_samples: int = Field(64, ge=2, description="samples per ray (64 at inference, 24 in training)")
    half_fov_degrees: float = Field(HALF_FOV_DEGREES, gt=0, lt=90)
    # rays run from 1 - r to 1 + r, and must start in front of the camera (on the unit sphere)
    dist_radius: float = Field(DIST_RADIUS, gt=0, lt=1)
    static_viewdirs: bool = Field(True, description="camera-frame view directions (inference) vs world frame "
                                                    "(training)")
    z_normalize: bool = Field(True, description="network input = x * 2 / (far - near)")
    lr_mapping: float = Field(0.01, gt=0)
    feature_channels: int = Field(256, ge=1, description="feature_transfer output = decoder input channels")
    full_pipeline: bool = Field(True, description="False: the low-resolution model (no decoder)")
    decoder_channel_divisor: int = Field(1, ge=1, description="> 1: a narrower decoder than the official "
                                                              "(small trained models)")

    @model_validator(mode="after")
    def _check_sizes(self) -> "CNeRFConfig":
        # raised as a ValidationError with a field location, so that gan3d.errors.validated names the entry
        # (by its official spelling too) like any other bad field
        problems = []

        def bad(field: str, msg: str):
            problems.append(InitErrorDetails(type=PydanticCustomError("cnerf_size", msg), loc=(field,),
                                             input=getattr(self, field)))

        rr, size = self.render_resolution, self.size
        if self.full_pipeline:  # the decoder up-samples by 2 per block, from its channel table's sizes
            if not _power_of_two(rr) or not DECODER_MIN_SIZE <= rr < DECODER_MAX_SIZE:
                bad("render_resolution", f"the decoder's input must be a power of two from {DECODER_MIN_SIZE} "
                                         f"to {DECODER_MAX_SIZE // 2} (64 officially)")
            if not _power_of_two(size) or not rr < size <= DECODER_MAX_SIZE:
                bad("size", f"the decoder's output must be a power of two above render_resolution ({rr}) and at "
                            f"most {DECODER_MAX_SIZE} (512 officially)")
        elif size < rr:
            bad("size", f"must be at least render_resolution ({rr}); the low-resolution model's image is its "
                        f"rendering")
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

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

    def replace(self, **changes) -> "CNeRFConfig":
        """A validated copy with ``changes`` (pydantic's ``model_copy(update=...)`` would skip the checks)."""
        return type(self)(**{**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        """JSON-ready, what ``config.json`` of the safe form holds."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict, source: str = "the CNeRF config") -> "CNeRFConfig":
        """From a safe-form ``config`` object; :class:`CheckpointError` naming ``source`` (the file) and every
        bad or unknown entry."""
        return validated(cls, data, source=source, fix=SAFE_FORM_FIX)

    @classmethod
    def from_official_options(cls, opt: dict, source: str = "the official CNeRF options") -> "CNeRFConfig":
        """From the official ``{"model": ..., "rendering": ..., "camera": ...}`` option groups (``source``: the
        file they were read from, for errors)."""
        if not isinstance(opt, dict):
            raise CheckpointError(f"{source}: expected the official option groups (a mapping with 'model', "
                                  f"'rendering' and 'camera'), got {type(opt).__name__}")
        groups = {key: opt.get(key, {}) for key in ("model", "rendering", "camera")}
        for key, group in groups.items():
            if not isinstance(group, dict):
                raise CheckpointError(f"{source}: {key!r} must be a mapping of options (as the official "
                                      f"options.py groups them), got {type(group).__name__} {group!r}")
        model, rendering, camera = groups["model"], groups["rendering"], groups["camera"]
        if rendering.get("no_sdf"):
            raise CheckpointError(f"{source}: CNeRF models without SDF (rendering['no_sdf']) are not supported "
                                  f"(the official code cannot render them either)")
        names = dict(OFFICIAL_NAMES)
        if "n_render" not in rendering:
            names["num_classes"] = "model['n_wcode']"
        size, render_resolution = model.get("size", 512), model.get("renderer_spatial_output_dim", 64)
        # raw values (no int()/float()): the model checks types and ranges and names each bad one
        data = dict(
            size=size, style_dim=model.get("style_dim", 256),
            channel_multiplier=model.get("channel_multiplier", 2),
            num_classes=rendering.get("n_render", model.get("n_wcode", 9)),
            width=rendering.get("width", 128), depth=rendering.get("depth", 3),
            render_resolution=render_resolution, num_samples=rendering.get("N_samples", 64),
            half_fov_degrees=camera.get("fov", HALF_FOV_DEGREES),
            dist_radius=camera.get("dist_radius", DIST_RADIUS),
            static_viewdirs=rendering.get("static_viewdirs", True),
            z_normalize=not rendering.get("no_z_normalize", False),
            lr_mapping=model.get("lr_mapping", 0.01),
            feature_channels=model.get("feature_encoder_in_channels", 256),
            # the official stage 1 (train_CNeRF.py) runs with --size equal to the render size: no decoder
            full_pipeline=size != render_resolution,
        )
        return validated(cls, data, source=source, names=names, fix=OFFICIAL_FIX)
