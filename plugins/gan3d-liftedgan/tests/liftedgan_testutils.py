"""Helpers shared by the LiftedGAN plugin's tests (a uniquely named module: ``conftest`` is taken by the core)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

FIXTURE = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "liftedgan"

# The official config/ffhq_256.py, as text (the loader must read it without running it).
OFFICIAL_CONFIG = """''' Config Proto '''

# The name of the project folder
name = 'default'
log_base_dir = './log_ffhq_256/'
generator_path = './pretrained/stylegan2-ffhq-cropped-300000.pt'
face_embedding_path = './pretrained/lresnet_casia.pth.tar'
image_size = 256
batch_size = 8
learning_rate = 1e-4
restore_model = None
truncation = 0.7
min_depth = 0.9
max_depth = 1.1
border_depth = 1.05
xyz_rotation_range = 60  # (-r,r) in degrees
xy_translation_range = 0.1
z_translation_range = 0.01
vgg_indices = [1,2,3]
use_flip = True
lam_albedo_rank = 1e-2
clip_render_grad = True
clamp_border = True
generator_texture = True

renderer_params = {
    'device': 'cuda',
    'image_size': 256,
    'rot_center_depth': 1.00,
    'fov': 10, # in degrees
    'min_depth': min_depth,
    'max_depth': max_depth,
    'min_phi': -90,
    'border_depth': border_depth,
}

blur_params = {
    'size': 10,
    'sigma': 4
}
"""


def fixture_config():
    from gan3d_liftedgan.model import LiftedGANConfig

    return LiftedGANConfig(style_dim=64, channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 16, 128: 8, 256: 4},
                           mlp_hidden=64, depth_z_dim=64, depth_nf=4, trans_z_dim=16, trans_nf=4)


def fixture_state_dict(weights: dict, w_mu: torch.Tensor) -> dict:
    sd = {f"generator.{k}": v for k, v in weights["g_ema"].items()}
    for n in ("netSD", "netSC", "netD", "netT"):
        sd.update({f"{n}.{k}": v for k, v in weights[n].items()})
    sd["w_mu"] = w_mu
    return sd


def write_official_folder(root: Path, weights: dict, config_text: str = OFFICIAL_CONFIG,
                          g_ema: dict | None = None) -> Path:
    """The authors' layout: <root>/pretrained/stylegan2-ffhq-cropped-300000.pt (a stylegan2-pytorch dict
    with an argparse ``args``) and <root>/log_ffhq_256/default/{checkpoint_010.pth, config.py}."""
    (root / "pretrained").mkdir(parents=True, exist_ok=True)
    torch.save({"g_ema": weights["g_ema"] if g_ema is None else g_ema, "args": argparse.Namespace(size=256, n_mlp=8),
                "ada_aug_p": 0.0}, root / "pretrained" / "stylegan2-ffhq-cropped-300000.pt")
    run = root / "log_ffhq_256" / "default"
    run.mkdir(parents=True, exist_ok=True)
    torch.save({**{n: weights[n] for n in ("netD", "netT", "netSD", "netSC")}, "optimizer": {"state": {}},
                "global_step": 50000, "epoch": 10}, run / "checkpoint_010.pth")
    (run / "config.py").write_text(config_text)
    return run
