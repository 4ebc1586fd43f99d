"""The shared rosinality-layout StyleGAN2 layers against direct references and their defining properties.

(Bit parity with the official code is checked by the plugins' fixture tests; these pin the maths.)
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan3d.nn.stylegan2 import (
    Blur, EqualConv2d, EqualLinear, ModulatedConv2d, NoiseInjection, PixelNorm, StyledConv, ToRGB, Upsample,
    fused_leaky_relu, make_kernel, upfirdn2d,
)


def upfirdn2d_loops(x: torch.Tensor, kernel: torch.Tensor, up: int, down: int, pad: tuple[int, int]) -> torch.Tensor:
    """Textbook reference: explicit zero insertion, padding/cropping, convolution sum, decimation."""
    B, C, H, W = x.shape
    z = torch.zeros(B, C, H * up, W * up, dtype=x.dtype)
    z[:, :, ::up, ::up] = x
    p0, p1 = pad
    n = H * up
    idx = torch.arange(-p0, n + p1)  # padded coordinate -> source coordinate (out of range = 0)
    zp = torch.zeros(B, C, len(idx), len(idx), dtype=x.dtype)
    ok = (idx >= 0) & (idx < n)
    zp[:, :, ok.nonzero()[:, 0][:, None], ok.nonzero()[:, 0][None, :]] = z[:, :, idx[ok][:, None], idx[ok][None, :]]
    kh, kw = kernel.shape
    oh, ow = len(idx) - kh + 1, len(idx) - kw + 1
    out = torch.zeros(B, C, oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):  # convolution: the kernel runs backwards over the window
                    out[:, :, i, j] += zp[:, :, i + a, j + b] * kernel[kh - 1 - a, kw - 1 - b]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (0, 0)), (2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (1, 2)),
                                         (2, 1, (-1, 0)), (3, 2, (1, -1))])
def test_upfirdn2d_matches_zero_insertion_convolution(up, down, pad):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
    kernel = torch.randn(3, 4, generator=g, dtype=torch.float64)  # asymmetric and non-square: flips show
    out = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    ref = upfirdn2d_loops(x, kernel, up, down, pad)
    assert out.shape == ref.shape
    n = 5 * up + pad[0] + pad[1]
    assert out.shape[-2:] == ((n - 3) // down + 1, (n - 4) // down + 1)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_make_kernel_is_normalised_outer_product():
    k = make_kernel([1, 3, 3, 1])
    assert k.shape == (4, 4) and k.dtype == torch.float32
    torch.testing.assert_close(k, torch.outer(torch.tensor([1., 3, 3, 1]), torch.tensor([1., 3, 3, 1])) / 64)
    torch.testing.assert_close(make_kernel([[1, 2], [3, 4]]), torch.tensor([[1., 2], [3, 4]]) / 10)


def test_upsample_doubles_size_and_keeps_a_constant_level():
    x = torch.full((1, 2, 6, 6), 3.0)
    out = Upsample([1, 3, 3, 1])(x)
    assert out.shape == (1, 2, 12, 12)
    # the factor**2 gain compensates the inserted zeros: away from the zero-padded border the level is kept
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.full((1, 2, 8, 8), 3.0))


def test_blur_keeps_size_with_the_modulated_conv_padding():
    blur = Blur([1, 3, 3, 1], pad=(2, 1), upsample_factor=2)
    assert blur.kernel.sum().item() == pytest.approx(4.0)
    assert blur(torch.randn(1, 1, 9, 9)).shape == (1, 1, 9, 9)


def test_fused_leaky_relu():
    x = torch.randn(2, 3, 4, 5)
    bias = torch.randn(3)
    ref = F.leaky_relu(x + bias[None, :, None, None], 0.2) * math.sqrt(2)
    torch.testing.assert_close(fused_leaky_relu(x, bias), ref)
    torch.testing.assert_close(fused_leaky_relu(x, None, scale=1.0), F.leaky_relu(x, 0.2))
    h = torch.randn(7, 3)  # 2-D input: the bias is on the feature dimension
    torch.testing.assert_close(fused_leaky_relu(h, bias), F.leaky_relu(h + bias, 0.2) * math.sqrt(2))


def test_pixel_norm_gives_unit_mean_square():
    out = PixelNorm()(torch.randn(4, 16) * 7)
    torch.testing.assert_close(out.pow(2).mean(1), torch.ones(4))


@pytest.mark.parametrize("lr_mul", [1.0, 0.01])
def test_equal_linear_lr_multiplier(lr_mul):
    torch.manual_seed(0)
    lin = EqualLinear(64, 8, bias_init=0.5, lr_mul=lr_mul)
    x = torch.randn(5, 64)
    # run-time scales: weight * lr_mul / sqrt(in), bias * lr_mul
    ref = x @ (lin.weight * lr_mul / 8).T + 0.5 * lr_mul
    torch.testing.assert_close(lin(x), ref)
    # the stored weight is randn / lr_mul, so the effective initial weight does not depend on lr_mul ...
    torch.manual_seed(0)
    base = EqualLinear(64, 8)
    torch.testing.assert_close(lin.weight * lin.scale, base.weight * base.scale)
    # ... while a gradient step on the stored weight moves the effective one lr_mul**2 times as far
    lin(x).sum().backward()
    base(x).sum().backward()
    torch.testing.assert_close(lin.weight.grad * lin.scale, base.weight.grad * base.scale * lr_mul ** 2)
    act = EqualLinear(64, 8, lr_mul=lr_mul, activation=True)
    torch.testing.assert_close(act(x), fused_leaky_relu(x @ (act.weight * act.scale).T, act.bias * lr_mul))


def test_equal_conv2d_scale():
    conv = EqualConv2d(4, 6, 3, padding=1, bias=False)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / 6.0, padding=1))
    assert conv.bias is None and "bias" not in conv.state_dict()


def _modconv_loop(m: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Per-sample reference: modulate, demodulate, ordinary (transposed) convolution, one sample at a time."""
    outs = []
    for b in range(x.shape[0]):
        s = m.modulation(style[b:b + 1])[0]  # [in]
        w = m.weight[0] * m.scale * s[None, :, None, None]  # [out,in,k,k]
        if m.demodulate:
            w = w / torch.sqrt(w.pow(2).sum((1, 2, 3), keepdim=True) + 1e-8)
        if m.upsample:
            outs.append(m.blur(F.conv_transpose2d(x[b:b + 1], w.transpose(0, 1), stride=2)))
        else:
            outs.append(F.conv2d(x[b:b + 1], w, padding=m.padding))
    return torch.cat(outs)


@pytest.mark.parametrize("upsample,demodulate,k", [(False, True, 3), (True, True, 3), (False, False, 1)])
def test_modulated_conv_grouped_equals_per_sample(upsample, demodulate, k):
    torch.manual_seed(1)
    m = ModulatedConv2d(5, 7, k, style_dim=6, demodulate=demodulate, upsample=upsample).double()
    x, style = torch.randn(3, 5, 8, 8, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    out = m(x, style)
    assert out.shape == (3, 7, 16 if upsample else 8, 16 if upsample else 8)
    torch.testing.assert_close(out, _modconv_loop(m, x, style))


def test_demodulation_makes_output_independent_of_style_scale():
    torch.manual_seed(2)
    m = ModulatedConv2d(16, 8, 3, style_dim=4).double()
    plain = ModulatedConv2d(16, 8, 3, style_dim=4, demodulate=False).double()
    plain.load_state_dict(m.state_dict())
    with torch.no_grad():  # without the +1 bias the in-channel scales are linear in the style
        m.modulation.bias.zero_()
        plain.modulation.bias.zero_()
    x = torch.randn(2, 16, 64, 64, dtype=torch.float64)
    style = torch.randn(2, 4, dtype=torch.float64)
    ref = m(x, style)
    stds = []
    for c in (0.1, 1.0, 10.0):  # rtol: the 1e-8 in the demodulation's rsqrt is not scale-free
        torch.testing.assert_close(m(x, c * style), ref, rtol=1e-5, atol=1e-6)
        stds.append(plain(x, c * style)[..., 1:-1, 1:-1].std().item())
        assert plain(x, c * style).abs().max() > 0
    # unit-norm filters on unit-Gaussian input: unit output variance (interior, away from zero padding)
    assert ref[..., 1:-1, 1:-1].std().item() == pytest.approx(1.0, rel=0.05)
    # without demodulation the output scale follows the style scale
    assert stds[1] / stds[0] == pytest.approx(10.0, rel=1e-9)
    assert stds[2] / stds[1] == pytest.approx(10.0, rel=1e-9)


def test_noise_injection():
    inj = NoiseInjection()
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(inj(x), x)  # weight starts at 0
    with torch.no_grad():
        inj.weight.fill_(0.5)
    noise = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(inj(x, noise), x + 0.5 * noise)
    d = inj(x) - x  # fresh noise: one map per sample, shared by the channels
    torch.testing.assert_close(d[:, :1].expand_as(d), d)
    assert not torch.equal(d[0], d[1])


def test_state_dict_keys_are_rosinality_names():
    assert sorted(StyledConv(4, 4, 3, 8, upsample=True).state_dict()) == [
        "activate.bias", "conv.blur.kernel", "conv.modulation.bias", "conv.modulation.weight", "conv.weight",
        "noise.weight"]
    assert "bias" in StyledConv(4, 4, 3, 8, unused_bias=True).state_dict()
    assert sorted(ToRGB(4, 8).state_dict()) == [
        "bias", "conv.modulation.bias", "conv.modulation.weight", "conv.weight", "upsample.kernel"]
    assert "upsample.kernel" not in ToRGB(4, 8, upsample=False).state_dict()
    assert ToRGB(4, 8, out_ch=5).bias.shape == (1, 5, 1, 1)


def test_unused_bias_is_unused():
    torch.manual_seed(3)
    a = StyledConv(4, 6, 3, 8, unused_bias=True)
    b = StyledConv(4, 6, 3, 8)
    b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "bias"})
    with torch.no_grad():
        a.bias.fill_(10.0)
    x, w, noise = torch.randn(2, 4, 5, 5), torch.randn(2, 8), torch.randn(1, 1, 5, 5)
    torch.testing.assert_close(a(x, w, noise), b(x, w, noise))


def test_to_rgb_skip():
    torch.manual_seed(4)
    rgb = ToRGB(6, 8)
    x, w, skip = torch.randn(2, 6, 8, 8), torch.randn(2, 8), torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(rgb(x, w, skip), rgb(x, w) + rgb.upsample(skip))
    flat = ToRGB(6, 8, upsample=False, out_ch=2)  # a same-resolution skip is added as is
    skip2 = torch.randn(2, 2, 8, 8)
    torch.testing.assert_close(flat(x, w, skip2), flat(x, w) + skip2)
