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
    # the pre-fit leaves the mapping alone there (officially it trains it too)
    assert not o.sphere_init_mapping and options("official").sphere_init_mapping


def test_a_prefit_without_the_mapping_keeps_the_latents_apart():
    """With the mapping in the pre-fit (official) at the synth64 learning rate, every z is pulled towards
    the one sphere and the mapping's output spread across z shrinks; fitting the init network alone
    leaves the mapping as it was."""
    from gan3d.train import Draws

    def spread_after(mapping: bool) -> tuple[float, float]:
        torch.manual_seed(0)
        tr = Stage1Trainer(Stage1Options(**{**TINY, "g_lr": 5e-4, "sphere_init_iters": 600,
                                                  "sphere_init_mapping": mapping}), INFO)
        G = tr.networks["G"]
        z = torch.randn(32, TINY["style_dim"], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            before = float(G.style(z).std(0).mean())
        tr.sphere_prefit(Draws(0), 2)
        with torch.no_grad():
            return before, float(G.style(z).std(0).mean())

    before, kept = spread_after(False)
    assert kept == before
    before, official = spread_after(True)
    assert official < 0.8 * before, (before, official)  # 0.67 -> 0.49 after 600 steps


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
