"""CNeRF stage-1 presets: the official preset keeps the official settings; the CPU preset's departures
(faster G, zeroed residual SDF biases, shorter sphere pre-fit) are what its comment says, and the
bias option zeroes exactly the local generators' SDF-head biases."""

from __future__ import annotations

import pytest
import torch

from gan3d.train import DataInfo
from gan3d_cnerf.train.options import STAGE1_PRESETS, Stage1Options
from gan3d_cnerf.train.stage1 import Stage1Trainer

TINY = dict(style_dim=16, width=8, resolution=16, num_samples=6, d_channel_divisor=16, sphere_init_resolution=4,
            export_samples=6)
INFO = DataInfo(resolution=32, num_images=8, has_labels=False, num_classes=9)


def options(preset: str, **extra) -> Stage1Options:
    return Stage1Options(**{k: v for k, v in STAGE1_PRESETS[preset].items() if k not in ("batch", "kimg")}, **extra)


def test_official_preset_keeps_the_official_settings():
    o = options("official")
    assert (o.g_lr, o.d_lr, o.sphere_init_iters, o.zero_sdf_bias) == (2e-5, 2e-4, 10000, False)


def test_synth64_preset_trains_g_faster_with_zeroed_sdf_biases_and_a_shorter_prefit():
    o = options("synth64")
    assert o.g_lr == pytest.approx(5e-4) and o.d_lr == pytest.approx(2e-4)
    assert o.zero_sdf_bias and o.sphere_init and o.sphere_init_iters == 2000
    assert STAGE1_PRESETS["synth64"]["kimg"] * 1000 / STAGE1_PRESETS["synth64"]["batch"] == 3000


@pytest.mark.parametrize("zero", [False, True])
def test_zero_sdf_bias_zeroes_only_the_local_generators_sdf_biases(zero):
    torch.manual_seed(0)
    G = Stage1Trainer(Stage1Options(**TINY, zero_sdf_bias=zero), INFO).networks["G"]
    biases = torch.stack([gen.sdf_linear.bias for gen in G.renderer.network])
    assert biases.abs().max() == 0 if zero else biases.abs().min() > 0
    # the init network (pre-fitted to the sphere) and the other heads keep the official random biases
    assert G.renderer.init_network.sdf_linear.bias.abs().max() > 0
    assert all(gen.mask_linears.bias.abs().max() > 0 and gen.rgb_linear.bias.abs().max() > 0
               for gen in G.renderer.network)
