"""The ADA augment pipe and its adaptive probability (gan3d.train.augment)."""

from __future__ import annotations

import math

import pytest
import torch

from gan3d.errors import InputError
from gan3d.train import Draws, Progress, ReplayDraws
from gan3d.train.augment import BGC, OPS, AdaptiveAugment, AugmentPipe

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def blob(size: int = 16, channels: int = 3, at=(4.0, 6.0), sigma: float = 2.0) -> torch.Tensor:
    """``[1,C,size,size]``: a smooth bump centred at ``at`` = (x, y) pixels, different per channel."""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    g = torch.exp(-((xx - at[0]) ** 2 + (yy - at[1]) ** 2) / (2 * sigma ** 2))
    return torch.stack([g * (1 + 0.1 * c) - 0.5 for c in range(channels)])[None]


def never(batch: int, prefix: str = "augment/", but: tuple[str, ...] = ()) -> dict:
    """Replayed gate draws that switch every operation off (u = 1 is never below p <= 1) except ``but``."""
    shapes = {"xint": (batch, 1), "xfrac": (batch, 1), "lumaflip": (batch, 1, 1), "saturation": (batch, 1, 1)}
    gates = [op for op in OPS if op != "rotate"] + ["rotate_pre", "rotate_post"]
    return {f"{prefix}{op}/gate": torch.ones(shapes.get(op, (batch,))) for op in gates if op not in but}


def test_p_zero_returns_the_input_exactly():
    x = torch.randn(3, 6, 16, 16)
    pipe = AugmentPipe(**BGC)
    assert float(pipe.p) == 0
    assert torch.equal(pipe(x, Draws(0)), x)
    assert torch.equal(pipe(x[:, :3], Draws(1)), x[:, :3])


def test_xflip_at_p_one_mirrors_the_images_it_picks():
    pipe = AugmentPipe(xflip=1, p=1.0)
    x = torch.cat([blob(), blob(at=(10.0, 3.0))])
    # first image: value 0.7 -> flip; second: value 0.2 -> no flip; both gates pass
    draws = ReplayDraws({"augment/xflip/value": torch.tensor([0.7, 0.2]), "augment/xflip/gate": torch.zeros(2)})
    y = pipe(x, draws)
    assert (y[0] - x[0].flip(-1)).abs().max() < 0.04  # the Symlet filter's slight asymmetry, not a blur
    assert (y[0] - x[0]).abs().max() > 0.5
    assert (y[1] - x[1]).abs().max() < 1e-5  # resampled through the identity: the wavelet pair is exact
    peak = int(y[0, 0].flatten().argmax())
    assert (peak // 16, peak % 16) == (6, 15 - 4)


def test_integer_translation_moves_pixels_exactly():
    pipe = AugmentPipe(xint=1, p=1.0)
    x = torch.randn(1, 3, 32, 32)
    # t = (u * 2 - 1) * 0.125 of the size: u 0.875 -> +3 px in x, u 0.25 -> -2 px in y
    draws = ReplayDraws({"augment/xint/value": torch.tensor([[0.875, 0.25]]), "augment/xint/gate": torch.zeros(1, 1)})
    y = pipe(x, draws)
    assert (y[..., :30, 3:] - x[..., 2:, :29]).abs().max() < 1e-5
    # the uncovered border is the image's reflection, not zeros
    assert (y[..., :30, :3] - x[..., 2:, 1:4].flip(-1)).abs().max() < 1e-5


def test_rotate90_turns_the_pattern_a_quarter():
    pipe = AugmentPipe(rotate90=1, p=1.0)
    x = blob()
    draws = ReplayDraws({"augment/rotate90/value": torch.tensor([0.3]), "augment/rotate90/gate": torch.zeros(1)})
    y = pipe(x, draws)  # floor(0.3 * 4) = one quarter turn
    expected = torch.rot90(x, 1, dims=(2, 3))
    assert (y - expected).abs().max() < 0.04 and (y - x).abs().max() > 0.5
    assert int(y[0, 0].flatten().argmax()) == int(expected[0, 0].flatten().argmax())


def test_colour_ops_treat_both_rgb_triples_of_six_channels_alike():
    pipe = AugmentPipe(**{op: 1.0 for op in COLOUR}, p=1.0)
    x = torch.rand(4, 6, 8, 8) * 2 - 1
    y = pipe(x, Draws(5))
    assert not torch.allclose(y, x)
    # the same draws on each triple alone give each half of the joint result
    assert torch.allclose(y[:, :3], pipe(x[:, :3], Draws(5)), atol=1e-6)
    assert torch.allclose(y[:, 3:], pipe(x[:, 3:], Draws(5)), atol=1e-6)
    same = torch.cat([x[:, :3], x[:, :3]], dim=1)
    z = pipe(same, Draws(5))
    assert torch.equal(z[:, :3], z[:, 3:])


def test_colour_matrix_ops_keep_grey_on_the_grey_axis_and_only_hue_and_saturation_need_colour():
    pipe = AugmentPipe(hue=1, saturation=1, p=1.0)
    grey = torch.full((2, 3, 4, 4), 0.3)
    assert torch.allclose(pipe(grey, Draws(0)), grey, atol=1e-6)  # hue and saturation leave grey alone
    luma = torch.rand(2, 1, 4, 4)
    assert torch.equal(pipe(luma, Draws(0)), luma)  # skipped for one channel, as officially


def test_geometric_and_colour_ops_at_p_one_change_the_images_and_pass_gradients():
    pipe = AugmentPipe(**BGC, p=1.0)
    x = (torch.rand(2, 6, 16, 16) * 2 - 1).requires_grad_(True)
    y = pipe(x, Draws(3))
    assert y.shape == x.shape and not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_draws_are_named_per_op_and_seeded():
    pipe = AugmentPipe(**BGC, p=0.5)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(pipe(x, Draws(7)), pipe(x, Draws(7)))
    # every gate off by replay (values drawn from the fallback): the input comes back untouched
    assert torch.equal(pipe(x, ReplayDraws(never(2), fallback=Draws(0))), x)
    with pytest.raises(InputError, match="xflip/value"):
        pipe(x, ReplayDraws({}))


def test_bad_inputs_are_refused_clearly():
    pipe = AugmentPipe(**BGC)
    with pytest.raises(InputError, match="multiple of 3"):
        pipe(torch.zeros(1, 4, 8, 8), Draws(0))
    with pytest.raises(InputError, match="xflip"):
        AugmentPipe(xflip=-1)
    with pytest.raises(InputError, match="target"):
        AdaptiveAugment(pipe, target=1.5)


def test_adaptive_p_follows_the_ada_rule():
    pipe = AugmentPipe(**BGC)
    ada = AdaptiveAugment(pipe, target=0.6, kimg=0.16)  # step: batch 4 * interval 4 / 160 = 0.1
    means = [1.0] * 4 + [0.5] * 4 + [1.0] * 8 + [-1.0] * 4
    expected, p, seen = [], 0.0, []
    for i, m in enumerate(means, start=1):
        n_pos = int(round((m + 1) / 2 * 4))
        logits = torch.tensor([1.0] * n_pos + [-1.0] * (4 - n_pos))[:, None] * 3
        ada.observe(logits)
        seen.append(m)
        updated = ada.update(Progress(cur_nimg=4 * i, batch_idx=i, batch_size=4))
        assert updated == (i % 4 == 0)
        if updated:
            r = sum(seen) / len(seen)
            seen = []
            p = max(p + math.copysign(0.1, r - 0.6), 0.0)
            assert ada.sign_mean == pytest.approx(r)
        expected.append(p)
        assert float(pipe.p) == pytest.approx(p, abs=1e-6), i
    assert expected[3] == pytest.approx(0.1) and expected[7] == 0.0 and expected[15] == pytest.approx(0.2)
    assert expected[19] == pytest.approx(0.1)


def test_adaptive_state_resumes_mid_interval():
    def run(split: int | None) -> tuple[float, float]:
        pipe = AugmentPipe(**BGC)
        ada = AdaptiveAugment(pipe, target=0.0, kimg=0.16)
        gen = torch.Generator().manual_seed(0)
        for i in range(1, 11):
            if i == split:  # "kill" here: a new pipe and controller from the saved state
                state = ada.state_dict()
                pipe = AugmentPipe(**BGC)
                ada = AdaptiveAugment(pipe, target=0.0, kimg=0.16)
                ada.load_state_dict(state)
            ada.observe(torch.randn(4, 1, generator=gen) + 0.3)
            ada.update(Progress(4 * i, i, 4))
        return float(pipe.p), ada.sign_mean

    straight = run(None)
    assert straight[0] > 0
    assert run(7) == straight and run(5) == straight
