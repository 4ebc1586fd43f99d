"""EG3D's training hyper-parameters (NVlabs ``train.py`` options) and the released presets.

Field names follow ``train.py``'s options; values that ``train.py`` derives from the batch size keep
that rule: ``blur_fade_kimg`` and ``ema_kimg`` are given for a batch of 32 and scaled by ``batch/32``
(``ema_kimg=None`` means the official 10 kimg at batch 32).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gan3d.train import DataInfo

from ..superres import SR_MODULES

# train.py's --cfg: rendering settings per domain (ray range, samples, box, camera, background)
RENDERING = {
    "ffhq": dict(depth_resolution=48, depth_resolution_importance=48, ray_start=2.25, ray_end=3.3, box_warp=1.0,
                 avg_camera_radius=2.7, avg_camera_pivot=(0.0, 0.0, 0.2), white_back=False),
    "afhq": dict(depth_resolution=48, depth_resolution_importance=48, ray_start=2.25, ray_end=3.3, box_warp=1.0,
                 avg_camera_radius=2.7, avg_camera_pivot=(0.0, 0.0, -0.06), white_back=False),
    "shapenet": dict(depth_resolution=64, depth_resolution_importance=64, ray_start=0.1, ray_end=2.6, box_warp=1.6,
                     avg_camera_radius=1.7, avg_camera_pivot=(0.0, 0.0, 0.0), white_back=True),
}

# train.py: the super-resolution module is chosen by the data set's resolution
SR_BY_RESOLUTION = {512: "SuperresolutionHybrid8XDC", 256: "SuperresolutionHybrid4X",
                    128: "SuperresolutionHybrid2X", 64: "SuperresolutionHybrid2XSmall"}


class EG3DOptions(BaseModel):
    """Every hyper-parameter of EG3D's ``train.py`` and ``StyleGAN2Loss`` (defaults: train.py's)."""

    model_config = ConfigDict(extra="forbid")

    # ---- networks
    resolution: int | None = Field(None, description="image size the model makes; None: the data set's")
    z_dim: int = Field(512, gt=0)
    w_dim: int = Field(512, gt=0)
    cbase: int = Field(32768, gt=0, description="channel multiplier of G's backbone and of D")
    cmax: int = Field(512, gt=0, description="maximum channels of G's backbone and of D")
    map_depth: int = Field(2, ge=1, description="layers of G's mapping network")
    d_mapping_layers: int = Field(8, ge=1, description="layers of D's camera mapping network")
    d_mapping_lr_multiplier: float = Field(0.01, gt=0)
    mbstd_group: int = Field(4, ge=1, description="minibatch-stddev group size (batch per process must be a multiple)")
    freezed: int = Field(0, ge=0, description="Freeze-D: the first N layers of D are not trained")
    g_num_fp16_res: int = Field(0, ge=0, description="official fp16 setting; > 0 turns G's clamps (256) on")
    d_num_fp16_res: int = Field(4, ge=0, description="official fp16 setting; > 0 turns D's clamps (256) on")
    sr_num_fp16_res: int = Field(4, ge=0, description="official fp16 setting; > 0 turns the SR's clamps (256) on")
    sr_module: str | None = Field(None, description="super-resolution class; None: by resolution, as train.py")
    sr_channels: tuple[int, int] | None = Field(
        None, description="widths of the two SR blocks (only for the small 64 px SR; the official ones hard-code them)")
    triplane_resolution: int = Field(256, ge=8, description="tri-plane size (official: 256)")
    # ---- rendering
    cfg: Literal["ffhq", "afhq", "shapenet"] = Field("ffhq", description="train.py's --cfg: rendering settings")
    depth_resolution: int | None = Field(None, ge=2, description="coarse samples per ray; None: the cfg's")
    depth_resolution_importance: int | None = Field(None, ge=0, description="fine samples per ray; None: the cfg's")
    ray_start: float | None = None
    ray_end: float | None = None
    box_warp: float | None = Field(None, gt=0)
    white_back: bool | None = None
    neural_rendering_resolution_initial: int = Field(64, ge=8)
    neural_rendering_resolution_final: int | None = Field(None, ge=8)
    neural_rendering_resolution_fade_kimg: float = Field(1000, ge=0)
    sr_noise_mode: Literal["none", "random"] = "none"
    decoder_lr_mul: float = Field(1.0, gt=0)
    # ---- loss
    r1_gamma: float = Field(1.0, ge=0, description="R1 weight (train.py --gamma)")
    style_mixing_prob: float = Field(0.0, ge=0, le=1)
    density_reg: float = Field(0.25, ge=0)
    density_reg_every: int = Field(4, ge=1)
    density_reg_p_dist: float = Field(0.004, ge=0)
    reg_type: Literal["l1"] = "l1"
    gen_pose_cond: bool = Field(True, description="generator pose conditioning (False: conditioning zeros)")
    gpc_reg_prob: float = Field(0.5, ge=0, le=1, description="final probability of conditioning on another camera")
    gpc_reg_fade_kimg: float = Field(1000, ge=0)
    c_scale: float = Field(1.0, ge=0)
    disc_c_noise: float = Field(0.0, ge=0)
    blur_init_sigma: float = Field(10.0, ge=0)
    blur_fade_kimg: float = Field(200, ge=0, description="at batch 32; train.py scales it by batch/32")
    d_reg_interval: int = Field(16, ge=1)
    # ---- optimisation
    glr: float = Field(0.0025, gt=0)
    dlr: float = Field(0.002, gt=0)
    ema_kimg: float | None = Field(None, gt=0, description="EMA half-life in kimg; None: batch * 10 / 32")
    ema_rampup: float | None = Field(0.05, ge=0)
    # ---- augmentation
    aug: Literal["noaug", "ada", "fixed"] = Field(
        "noaug", description="train.py --aug: D's inputs through the 'bgc' augment pipe with an adaptive (ada) or "
                            "fixed probability, or not at all (noaug)")
    augment_p: float = Field(0.2, ge=0, le=1, description="train.py --p: the probability with aug='fixed'")
    ada_target: float = Field(0.6, ge=0, le=1, description="train.py --target: ADA's target mean sign of D on reals")
    ada_kimg: float = Field(500, gt=0, description="ADA's speed: kimg for p to move by 1 (train.py uses 100 when "
                                                   "fine-tuning with --resume)")

    @model_validator(mode="after")
    def _check(self) -> "EG3DOptions":
        problems = []
        if self.resolution is not None and self.resolution not in SR_BY_RESOLUTION and self.sr_module is None:
            problems.append(f"resolution {self.resolution} has no super-resolution module (one of "
                            f"{sorted(SR_BY_RESOLUTION)}), or name sr_module")
        if self.sr_module is not None and self.sr_module.rsplit(".", 1)[-1] not in SR_MODULES:
            problems.append(f"sr_module {self.sr_module!r} is not one of {', '.join(SR_MODULES)}")
        if self.w_dim != 512:  # the official super-resolution blocks hard-code w_dim 512 (as gan3d's copy does)
            problems.append(f"w_dim must be 512 (EG3D's super-resolution blocks are built for 512), got {self.w_dim}")
        if self.triplane_resolution & (self.triplane_resolution - 1):
            problems.append(f"triplane_resolution must be a power of two, got {self.triplane_resolution}")
        if self.neural_rendering_resolution_final is not None and self.neural_rendering_resolution_fade_kimg <= 0:
            problems.append("neural_rendering_resolution_final needs neural_rendering_resolution_fade_kimg > 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rendering(self) -> dict:
        """The cfg's rendering settings with this run's overrides."""
        out = dict(RENDERING[self.cfg])
        for key in ("depth_resolution", "depth_resolution_importance", "ray_start", "ray_end", "box_warp",
                    "white_back"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _released(cfg: str, resolution: int, **kw) -> dict:
    return {"cfg": cfg, "resolution": resolution, "batch": 32, "kimg": 25000, **kw}


# The released training commands (NVlabs/eg3d docs/models.md). Stages that resume from another
# model (ffhq512-128, rebalanced, afhq) are listed with their final settings: start them from a
# trained snapshot. afhq512 uses ADA at train.py's fine-tuning speed (ada_kimg 100, as with --resume).
PRESETS: dict[str, dict] = {
    "ffhq512": _released("ffhq", 512, r1_gamma=1.0, gen_pose_cond=True, gpc_reg_prob=0.5),
    "afhq512": _released("afhq", 512, r1_gamma=5.0, gen_pose_cond=True, gpc_reg_prob=0.8, aug="ada",
                         ada_target=0.6, ada_kimg=100, neural_rendering_resolution_final=128),
    "shapenet128": _released("shapenet", 128, r1_gamma=0.3, gen_pose_cond=False),
    # The synthetic head world on two CPU cores in about two hours (measured ~116-163 CPU s/kimg at
    # neural rendering 16-32 px, one thread; see benchmarks/eg3d_train_speed.py): 64 px images, neural rendering
    # fading from 16 to 32 px (volume rendering is most of the cost: ~60% of an iteration at 32 px),
    # 8 + 8 samples per ray, 64 px tri-planes, narrow networks; ffhq cameras (the world uses them).
    # Fades are shortened to the run's length; blur fades over 200 * 8/32 = 50 kimg as train.py scales it.
    "synth64": {
        "cfg": "ffhq", "batch": 8, "kimg": 80, "resolution": 64,
        "r1_gamma": 1.0, "gen_pose_cond": True, "gpc_reg_prob": 0.5, "gpc_reg_fade_kimg": 100,
        "cbase": 2048, "cmax": 64, "triplane_resolution": 64, "sr_channels": (32, 16),
        "neural_rendering_resolution_initial": 16, "neural_rendering_resolution_final": 32,
        "neural_rendering_resolution_fade_kimg": 80,
        "depth_resolution": 8, "depth_resolution_importance": 8,
    },
}


def check_data(options: EG3DOptions, data: DataInfo) -> list[str]:
    """Problems that make ``data`` unusable for EG3D with ``options`` (empty: fine)."""
    problems = []
    if not data.has_labels or data.labels is None:
        problems.append("EG3D needs camera labels (dataset.json with 25 numbers per image: cam2world 4x4 then "
                        "normalised intrinsics 3x3); this data set has none. Make them with the dataset tools "
                        "(gan3d data) or use synth:...")
    elif data.labels.ndim != 2 or data.labels.shape[1] != 25:
        problems.append(f"EG3D camera labels have 25 numbers per image; this data set has shape "
                        f"{tuple(data.labels.shape)}")
    if options.resolution is not None and data.resolution != options.resolution:
        problems.append(f"the data set is {data.resolution} px but the options ask for {options.resolution} px: "
                        f"use a {options.resolution} px data set, set resolution = {data.resolution}, or choose "
                        f"another preset")
    elif options.resolution is None and options.sr_module is None and data.resolution not in SR_BY_RESOLUTION:
        problems.append(f"EG3D has no super-resolution module for {data.resolution} px images "
                        f"(supported: {sorted(SR_BY_RESOLUTION)})")
    if data.num_images < 1:
        problems.append("the data set is empty")
    return problems
