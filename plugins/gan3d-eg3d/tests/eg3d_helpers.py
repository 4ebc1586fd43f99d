"""Helpers of the EG3D plugin tests: where the parity fixtures live, generator builders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gan3d_eg3d.cards import CARDS_BY_NAME, card_for_checkpoint
from gan3d_eg3d.generator import EG3DGenerator

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO.parent / "shared" / "fixtures" / "eg3d"

# A tiny architecture for tests that need no fixture: real tri-plane size, narrow backbone, 2X SR.
TINY_INIT_KWARGS = {
    "z_dim": 512, "w_dim": 512, "mapping_kwargs": {"num_layers": 2}, "channel_base": 512, "channel_max": 16,
    "fused_modconv_default": "inference_only",
    "rendering_kwargs": {
        "image_resolution": 128, "disparity_space_sampling": False, "clamp_mode": "softplus",
        "superresolution_module": "training.superresolution.SuperresolutionHybrid2X", "c_gen_conditioning_zero": False,
        "gpc_reg_prob": 0.5, "c_scale": 1.0, "superresolution_noise_mode": "none", "density_reg": 0.25,
        "density_reg_p_dist": 0.004, "reg_type": "l1", "decoder_lr_mul": 1.0, "sr_antialias": True,
        "depth_resolution": 12, "depth_resolution_importance": 12, "ray_start": 2.25, "ray_end": 3.3,
        "box_warp": 1, "avg_camera_radius": 2.7, "avg_camera_pivot": [0, 0, 0.2],
    },
    "num_fp16_res": 0, "sr_num_fp16_res": 4,
    "sr_kwargs": {"channel_base": 512, "channel_max": 16, "fused_modconv_default": "inference_only"},
    "conv_clamp": None, "c_dim": 25, "img_resolution": 128, "img_channels": 3,
}


def fixture_dir(name: str) -> Path:
    """``<repo>/../shared/fixtures/eg3d/<name>``, or skip: a fresh clone has no ../shared."""
    path = FIXTURES / name
    if not (path / "weights.pt").is_file():
        pytest.skip(f"EG3D parity fixture {path} is absent (it lives beside the repository in ../shared, made by "
                    f"running NVIDIA's official code; a fresh clone has none)")
    return path


def train_fixture_dir() -> Path:
    """``<repo>/../shared/fixtures/eg3d-train`` (the one-iteration training fixture), or skip."""
    path = FIXTURES.parent / "eg3d-train"
    if not (path / "io.pt").is_file():
        pytest.skip(f"EG3D training fixture {path} is absent (it lives beside the repository in ../shared, made by "
                    f"running NVIDIA's official training code; a fresh clone has none)")
    return path


def load_fixture(name: str):
    """(generator with the fixture's weights, io dict, config) for a fixture directory name."""
    d = fixture_dir(name)
    cfg = json.loads((d / "config.json").read_text())
    card = CARDS_BY_NAME[f"eg3d/{name}"]
    G = EG3DGenerator(card, cfg["init_kwargs"], neural_rendering_resolution=cfg["neural_rendering_resolution"])
    G.load_weights(torch.load(d / "weights.pt", weights_only=True))
    G.eval().requires_grad_(False)
    io = torch.load(d / "io.pt", weights_only=True)
    return G, io, cfg


def tiny_generator(seed: int = 0, nrr: int = 16) -> EG3DGenerator:
    """Random weights, tiny backbone, full-size 2X SR; non-zero noise strengths so noise modes matter."""
    torch.manual_seed(seed)
    rk = TINY_INIT_KWARGS["rendering_kwargs"]
    G = EG3DGenerator(card_for_checkpoint("tiny", TINY_INIT_KWARGS, rk), TINY_INIT_KWARGS, neural_rendering_resolution=nrr)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
        G.decoder.net[2].bias[0] += 3  # some opacity
    return G.eval().requires_grad_(False)
