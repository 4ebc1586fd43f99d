"""The synth64 preset's departures from the official training (issue #13): netD's up-sampling, netSC's pre-fit.

At 64 px the official netD (stride-2 transposed convs, then a nearest doubling) starts with a 4-px
checkerboard in its depth, which distillation amplifies into vertical stripes that hide any face shape;
the synth64 preset builds netD with resize-convs instead. The default and the official presets keep the
official layout (and key names), and a model saved with the option loads back with it. netSC from its
default init maps every w to nearly one style, which a short run never leaves; only synth64 pre-fits it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gan3d
from gan3d_liftedgan.cards import FFHQ
from gan3d_liftedgan.checkpoints import load_safe
from gan3d_liftedgan.model import LiftedGAN, LiftedGANConfig
from gan3d_liftedgan.networks import DepthNet
from gan3d_liftedgan.train import PRESETS, LiftedGANTrainOptions


def stripe_share(depth: torch.Tensor) -> float:
    """Share of the variance of ``depth [B,H,W]`` (per-sample mean removed) on the spectral lines of a 4-px
    period (|fx| = 1/4 or |fy| = 1/4 cycles per pixel)."""
    c = depth - depth.mean((1, 2), keepdim=True)
    power = torch.fft.fft2(c).abs().pow(2).mean(0)
    H, W = power.shape
    lines = torch.zeros_like(power, dtype=torch.bool)
    lines[:, W // 4] = lines[:, -(W // 4)] = True
    lines[H // 4, :] = lines[-(H // 4), :] = True
    return float(power[lines].sum() / power.sum())


def synth64_depth_net(upsample: str) -> DepthNet:
    """netD at the synth64 preset's widths (z 128, nf 8) for 64-px maps."""
    return DepthNet(in_dim=32, z_dim=PRESETS["synth64"]["depth_z_dim"], nf=PRESETS["synth64"]["depth_nf"],
                    inject_dim=8, size=64, upsample=upsample)


def test_synth64_preset_turns_on_resize_convs_and_keeps_the_loss_weights():
    preset = PRESETS["synth64"]
    assert preset["depth_upsample"] == "resize"
    options = LiftedGANTrainOptions(**{k: v for k, v in preset.items() if k not in ("batch", "kimg")})
    assert options.architecture()["depth_upsample"] == "resize"
    # the loss weights stay the paper's, so each ablation recipe (wo_rega, ...) still differs from the full one
    assert options.weights() == LiftedGANTrainOptions().weights()
    assert LiftedGANTrainOptions().depth_upsample == "transposed"
    for name in ("ffhq256", "afhqcat256"):
        assert "depth_upsample" not in PRESETS[name]


def test_synth64_preset_prefits_the_style_net_and_the_official_ones_do_not():
    assert PRESETS["synth64"]["style_init_iters"] > 0
    assert LiftedGANTrainOptions().style_init_iters == 0
    for name in ("ffhq256", "afhqcat256"):
        assert "style_init_iters" not in PRESETS[name]


def test_official_depth_net_layout_is_unchanged():
    official = DepthNet(in_dim=8, z_dim=8, nf=4, inject_dim=4, size=256)
    doublings = [m for m in official.network if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2)]
    assert len(doublings) == 5 and isinstance(official.network[-1], nn.Upsample)
    assert official.network[-1].mode == "nearest"
    assert tuple(official.state_dict()["network.4.weight"].shape) == (128, 64, 4, 4)  # official key, 4x4 kernel
    resized = DepthNet(in_dim=8, z_dim=8, nf=4, inject_dim=4, size=256, upsample="resize")
    assert not any(isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2) for m in resized.modules())
    assert tuple(resized.state_dict()["network.4.1.weight"].shape) == (64, 128, 3, 3)
    assert resized.network[-1].mode == "bilinear"
    with pytest.raises(ValueError, match="upsample"):
        DepthNet(size=64, upsample="pixelshuffle")


@pytest.mark.parametrize("seed", [0, 1])
def test_resize_convs_remove_the_four_pixel_pattern_at_init(seed):
    """The measured cause of the stripes: a freshly initialised official netD puts a large share of its 64-px
    output on the 4-px period; the resize-conv netD puts almost none."""
    share = {}
    for upsample in ("transposed", "resize"):
        torch.manual_seed(seed)
        net = synth64_depth_net(upsample)
        with torch.no_grad():
            raw = net(torch.randn(8, 32), torch.zeros(8, 8, 64, 64))
        share[upsample] = stripe_share(raw[:, 0, 2:-2, 2:-2])
    assert share["transposed"] > 0.05 and share["resize"] < share["transposed"] / 5


def test_a_resize_model_saves_and_loads_with_its_depth_net(tmp_path):
    cfg = LiftedGANConfig(image_size=64, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8, 64: 8},
                          mlp_hidden=16, depth_z_dim=16, depth_nf=4, trans_z_dim=4, trans_nf=4, blur_size=2,
                          depth_upsample="resize")
    card = FFHQ.model_copy(update={"latent": gan3d.LatentSpec(parts={"z": 16}), "resolution": 64})
    torch.manual_seed(0)
    G = LiftedGAN(card, cfg).eval()
    G.compute_w_mu(64)
    folder = G.save_pretrained(tmp_path / "resize")
    G2 = load_safe(folder).eval()
    assert G2.config.depth_upsample == "resize"
    w = G.mapping(torch.randn(2, 16))[:, 0]
    with torch.no_grad():
        assert torch.equal(G.estimate(w).canon_depth, G2.estimate(w).canon_depth)
