"""The official architectures of the released checkpoints, as data (what train.py builds for each).

Used to build a registered model with random weights (``gan3d.load(name, weights="random")``), e.g. to
run the pipeline offline; loading a real checkpoint always takes the architecture from the file.
"""

from __future__ import annotations

import copy

_SR = "training.superresolution.SuperresolutionHybrid"

_COMMON_RENDERING = {
    "disparity_space_sampling": False, "clamp_mode": "softplus", "c_scale": 1.0,
    "superresolution_noise_mode": "none", "density_reg": 0.25, "density_reg_p_dist": 0.004, "reg_type": "l1",
    "decoder_lr_mul": 1.0, "sr_antialias": True,
}

_FACES = dict(_COMMON_RENDERING, image_resolution=512, superresolution_module=_SR + "8XDC",
              c_gen_conditioning_zero=False, depth_resolution=48, depth_resolution_importance=48,
              ray_start=2.25, ray_end=3.3, box_warp=1, avg_camera_radius=2.7, avg_camera_pivot=[0, 0, 0.2])

_CARS = dict(_COMMON_RENDERING, image_resolution=128, superresolution_module=_SR + "2X",
             c_gen_conditioning_zero=True, depth_resolution=64, depth_resolution_importance=64,
             ray_start=0.1, ray_end=2.6, box_warp=1.6, white_back=True, avg_camera_radius=1.7,
             avg_camera_pivot=[0, 0, 0])

# variant -> (rendering kwargs, image resolution, neural rendering resolution)
_VARIANTS = {
    "ffhq512-64": (dict(_FACES, gpc_reg_prob=0.5), 512, 64),
    "ffhq512-128": (dict(_FACES, gpc_reg_prob=0.5), 512, 128),
    "ffhqrebalanced512-64": (dict(_FACES, gpc_reg_prob=0.8), 512, 64),
    "ffhqrebalanced512-128": (dict(_FACES, gpc_reg_prob=0.8), 512, 128),
    # 8X per mmagic's conversion config (unverified against the file); train.py's pivot for AFHQ
    "afhqcats512-128": (dict(_FACES, gpc_reg_prob=0.8, superresolution_module=_SR + "8X",
                             avg_camera_pivot=[0, 0, -0.06]), 512, 128),
    "shapenetcars128-64": (dict(_CARS, gpc_reg_prob=None), 128, 64),
}


def official_architecture(variant: str) -> tuple[dict, int]:
    """``(init_kwargs, neural_rendering_resolution)`` of an official checkpoint, as train.py builds it."""
    rendering, res, nrr = _VARIANTS[variant]
    init_kwargs = {
        "z_dim": 512, "w_dim": 512, "mapping_kwargs": {"num_layers": 2}, "channel_base": 32768, "channel_max": 512,
        "fused_modconv_default": "inference_only", "rendering_kwargs": copy.deepcopy(rendering), "num_fp16_res": 0,
        "sr_num_fp16_res": 4, "sr_kwargs": {"channel_base": 32768, "channel_max": 512,
                                            "fused_modconv_default": "inference_only"},
        "conv_clamp": None, "c_dim": 25, "img_resolution": res, "img_channels": 3,
    }
    return init_kwargs, nrr
