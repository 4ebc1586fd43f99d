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


# a StyleGAN2 of a few kilobytes: G widths 16 -> 2, style width 16, two mapping layers
TINY_TEACHER = {"style_dim": 16, "n_mlp": 2, "channel_divisor": 64}


def teacher_config(out: Path, resolution: int = 16, name: str = "stylegan2-synth64") -> dict:
    """A training config of two iterations of the core's StyleGAN2 trainer on four flat images of
    ``resolution`` px (written beside ``out``), its run called ``name``."""
    import numpy as np
    from PIL import Image

    data = out.parent / f"teacher-images-{resolution}"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        Image.fromarray(np.full((resolution, resolution, 3), 50 * i + 20, np.uint8)).save(data / f"{i}.png")
    return {"method": "stylegan2", "data": str(data), "batch": 2, "kimg": 0.004, "tick_kimg": 0.004, "seed": 0,
            "out": str(out), "name": name, "num_workers": 0, "device": "cpu", "grid_seeds": [0], "grid_yaws": [0.0],
            "options": dict(TINY_TEACHER)}


def make_teacher_run(out: Path, resolution: int = 16, name: str = "stylegan2-synth64") -> Path:
    """The run folder ``out/NNNNN-name`` of :func:`teacher_config` (trained by ``gan3d train``'s loop)."""
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    return train(resolve_config(teacher_config(out, resolution, name)), progress=False)


def latest_generator(run: Path) -> Path:
    return run / "snapshots" / (run / "latest").read_text().strip() / "generator"
