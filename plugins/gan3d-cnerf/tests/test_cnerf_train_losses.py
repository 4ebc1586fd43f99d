"""CNeRF training pieces against their formulas, computed independently on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from gan3d_cnerf.train import losses


def test_non_saturating_terms_match_log_one_plus_exp():
    real, fake = torch.tensor([[0.5], [-2.0]]), torch.tensor([[1.5], [0.0]])
    sp = lambda x: math.log(1 + math.exp(x))  # noqa: E731
    assert losses.d_logistic(real, fake).item() == pytest.approx((sp(-0.5) + sp(2.0)) / 2 + (sp(1.5) + sp(0.0)) / 2,
                                                                 rel=1e-6)
    assert losses.g_nonsaturating(fake).item() == pytest.approx((sp(-1.5) + sp(0.0)) / 2, rel=1e-6)


def test_viewpoint_is_smooth_l1_with_beta_one():
    pred = torch.tensor([[0.1, 0.0], [2.0, -0.5]])
    target = torch.tensor([[0.5, 0.0], [0.0, 0.0]])
    # |d| < 1: d^2/2; else |d| - 1/2; mean over the 4 entries
    expected = (0.4 ** 2 / 2 + 0 + (2.0 - 0.5) + 0.5 ** 2 / 2) / 4
    assert losses.viewpoint(pred, target).item() == pytest.approx(expected, rel=1e-6)


def test_classify_is_the_mean_negative_log_softmax_of_the_label():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    labels = torch.tensor([1, 0])

    def nll(row, k):
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    expected = (nll([1.0, 2.0, 0.0], 1) + nll([0.0, 0.0, 3.0], 0)) / 2
    assert losses.classify(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_r1_penalties_of_a_linear_discriminator():
    # D(x, m) = sum(a * x) + sum(b * m) per sample: the gradients are a and b for every sample
    a, b = torch.randn(3, 4, 4).requires_grad_(True), torch.randn(2, 4, 4)  # a: a trained weight
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    m = torch.randn(5, 2, 4, 4, requires_grad=True)
    logit = (x * a).sum((1, 2, 3)) + (m * b).sum((1, 2, 3))
    pen_x, pen_m = losses.r1_penalties(logit[:, None], [x, m])
    assert pen_x.item() == pytest.approx(float((a.detach() ** 2).sum()), rel=1e-5)
    assert pen_m.item() == pytest.approx(float((b ** 2).sum()), rel=1e-5)
    assert pen_x.requires_grad  # in the graph (create_graph): R1 trains the discriminator's weights


def test_eikonal_minimal_surface_and_sphere_terms():
    grad = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # norms 5, 1, 0
    assert losses.eikonal(grad).item() == pytest.approx((16 + 0 + 1) / 3)
    sdf = torch.tensor([0.0, 0.01, -0.02])
    assert losses.minimal_surface(sdf, 100.0).item() == pytest.approx((1 + math.exp(-1) + math.exp(-2)) / 3, rel=1e-6)
    pts = torch.tensor([[0.3, 0.4, 0.0], [0.0, 0.0, 0.1]])  # |p| = 0.5, 0.1
    pred = torch.tensor([[0.5], [0.0]])
    assert losses.sphere_sdf_l1(pred, pts, 0.06).item() == pytest.approx((abs(0.5 - 0.44) + abs(0.0 - 0.04)) / 2)


def test_path_length_of_a_linear_generator():
    from gan3d.train.stylegan2 import path_length_penalty

    # image = (latents [P,L,D] summed over L) @ A -> J = A y for every layer; length = sqrt(mean_L |A y|^2) = |A y|
    P, L, D, H = 3, 2, 4, 2
    A = torch.randn(D, 3 * H * H)
    lat = torch.randn(P, L, D, requires_grad=True)
    img = (lat.sum(1) @ A).reshape(P, 3, H, H)
    noise = torch.randn(P, 3, H, H)
    penalty, mean, lengths = path_length_penalty(img, lat, noise, torch.tensor(0.5), decay=0.01)
    y = (noise / math.sqrt(H * H)).reshape(P, -1)
    expect = (y @ A.t()).norm(dim=1)
    assert torch.allclose(lengths, expect, rtol=1e-5)
    new_mean = 0.5 + 0.01 * (expect.mean() - 0.5)
    assert mean.item() == pytest.approx(float(new_mean), rel=1e-6)
    assert penalty.item() == pytest.approx(float(((expect - new_mean) ** 2).mean()), rel=1e-5)


def test_mask_dilation_follows_the_official_kernels():
    from gan3d_cnerf.train.data import one_hot_masks

    labels = torch.ones(1, 9, 9, dtype=torch.long)  # face everywhere
    labels[0, 4, 4] = 4                              # one brow pixel
    labels[0, 1, 1] = 5                              # one nose pixel
    m = one_hot_masks(labels, 9)
    brow = m[0, 4].nonzero().tolist()
    # 4x4 element, anchor (2,2): one pixel up/left, two down/right
    assert sorted(brow) == sorted([r, c] for r in range(3, 7) for c in range(3, 7))
    assert sorted(m[0, 5].nonzero().tolist()) == sorted([r, c] for r in range(0, 3) for c in range(0, 3))
    assert m[0, 1].sum() == 81 - 2  # the face channel is not dilated nor renormalised: multi-hot overlaps
    assert m[0, 1, 3, 3] == 1 and m[0, 4, 3, 3] == 1
    assert torch.equal(one_hot_masks(labels, 9, dilate=False).sum(1), torch.ones(1, 9, 9))


def test_batched_local_generators_equal_one_by_one():
    from gan3d_cnerf.renderer import CompositionalRenderer

    torch.manual_seed(0)
    R = CompositionalRenderer(num_classes=3, width=8, style_dim=6)
    pts, vd = torch.randn(2, 5, 3), torch.nn.functional.normalize(torch.randn(2, 5, 3), dim=-1)
    codes = torch.randn(2, 15, 6)
    f = R.query(pts, vd, codes, with_regions=True)
    sdf = R.init_sdf(pts, vd, codes)
    rgb = 0
    ms = []
    for k, net in enumerate(R.network):
        r, s, _, m = net(pts, vd, R.class_codes(codes, k))
        sdf, rgb = sdf + s, rgb + m * r
        ms.append(m)
    assert torch.allclose(f.sdf, sdf, atol=1e-5) and torch.allclose(f.rgb, rgb, atol=1e-5)
    assert torch.allclose(f.masks, torch.cat(ms, -1), atol=1e-6)
    # gradients reach each generator's own weights
    f.rgb.sum().backward()
    assert all(net.shape_linears[0].weight.grad is not None for net in R.network)


def test_mixing_gives_each_class_its_shape_and_texture_source():
    from gan3d_cnerf.cards import card_for_config
    from gan3d_cnerf.config import CNeRFConfig
    from gan3d_cnerf.generator import CNeRFGenerator
    from gan3d_cnerf.train.sampling import mixed_slots

    cfg = CNeRFConfig(style_dim=4, width=4, num_classes=3, full_pipeline=False, size=16, render_resolution=16)
    G = CNeRFGenerator(card_for_config(cfg), cfg)
    z = torch.randn(2, 2, 4)
    inject = torch.tensor([[0, 1], [1, 2], [2, 0]])  # [K,B]
    slots = mixed_slots(G, z, inject)
    w = G.style(z.reshape(-1, 4)).reshape(2, 2, 4)
    for k in range(3):
        for b in range(2):
            i = int(inject[k, b])
            shape_src, tex_src = (0, 0) if i == 0 else (0, 1) if i == 1 else (1, 1)
            assert torch.equal(slots[b, 2 * k], w[shape_src, b]) and torch.equal(slots[b, 2 * k + 1], w[tex_src, b])


def test_discriminators_have_the_official_shapes():
    from gan3d_cnerf.train.discriminators import ComponentDiscriminator, DualDiscriminator, VolumeDiscriminator

    gd = VolumeDiscriminator(16, 9, True, 16)
    logit, view = gd(torch.randn(4, 3, 16, 16), torch.randn(4, 9, 16, 16))
    assert logit.shape == (4, 1) and view.shape == (4, 2)
    assert "convs_seg.1.conv1.conv.conv.weight" in gd.state_dict() and "final_conv.conv.bias" in gd.state_dict()
    assert gd.final_conv.conv.out_channels == 3  # [logit, azimuth, elevation]
    assert VolumeDiscriminator(16, 9, False, 16).final_conv.conv.out_channels == 1  # no pose head
    sd = ComponentDiscriminator(16, 9, 16)
    logit, cls = sd(torch.randn(2, 3, 16, 16), torch.rand(2, 1, 16, 16))
    assert logit.shape == (2, 1) and cls.shape == (2, 9)
    assert "convs_seg.0.conv.bias" in sd.state_dict() and "convs_seg.0.activation.bias" not in sd.state_dict()
    d = DualDiscriminator(32, 9, 1, 32)
    assert d(torch.randn(3, 3, 32, 32), torch.randn(3, 9, 32, 32)).shape == (3, 1)  # B=3: groups of 3
    assert "convs_img.1.conv2.0.kernel" in d.state_dict()
