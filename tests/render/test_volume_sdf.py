"""The SDF / plain-compositing pieces of the shared volume renderer (used by CNeRF), on closed forms."""

import math

import torch

from gan3d.render.volume import alpha_weights, composite, offset_depths, sdf_to_density


def test_offset_depths_never_reach_far_and_jitter_is_one_offset_per_ray():
    o = torch.zeros(2, 3, 3)
    d = offset_depths(o, 0.88, 1.12, 4)
    assert d.shape == (2, 3, 4, 1)
    assert torch.allclose(d[0, 0, :, 0], torch.tensor([0.88, 0.94, 1.00, 1.06]), atol=1e-6)
    torch.manual_seed(0)
    j = offset_depths(o, 0.88, 1.12, 4, jitter=True)
    shift = j - d
    assert (shift >= 0).all() and (shift < 0.06 + 1e-6).all()
    assert torch.allclose(shift, shift[:, :, :1].expand_as(shift), atol=1e-6)  # same shift along a ray
    assert not torch.allclose(shift[0, 0], shift[0, 1])                         # differs between rays


def test_sdf_to_density_is_a_scaled_sigmoid_of_the_negative_distance():
    beta = 0.1
    sdf = torch.tensor([-1.0, 0.0, 1.0])
    sigma = sdf_to_density(sdf, beta)
    assert torch.allclose(sigma, torch.tensor([1 / (1 + math.exp(-10)), 0.5, 1 / (1 + math.exp(10))]) / beta)
    # a learned (tensor) beta keeps the gradient
    b = torch.tensor([0.08], requires_grad=True)
    sdf_to_density(torch.tensor([0.05]), b).sum().backward()
    assert b.grad is not None and torch.isfinite(b.grad).all()


def test_constant_density_weights_follow_beer_lambert_and_the_last_sample_takes_the_rest():
    k, n, step = 2.0, 10, 0.1
    depths = (torch.arange(n, dtype=torch.float32) * step).reshape(1, 1, n, 1)
    sigma = torch.full((1, 1, n, 1), k)
    w = alpha_weights(sigma, depths)
    expected = [math.exp(-k * step * i) * (1 - math.exp(-k * step)) for i in range(n - 1)]
    assert torch.allclose(w[0, 0, :-1, 0], torch.tensor(expected), rtol=1e-5)
    # the infinite last interval makes the ray opaque: weights sum to one
    assert abs(float(w.sum()) - 1.0) < 1e-5
    assert abs(float(w[0, 0, -1, 0]) - math.exp(-k * step * (n - 1))) < 1e-5


def test_ray_scale_stretches_every_interval():
    depths = torch.tensor([0.0, 0.1, 0.2]).reshape(1, 1, 3, 1)
    sigma = torch.full((1, 1, 3, 1), 1.5)
    scaled = alpha_weights(sigma, depths, ray_scale=torch.full((1, 1, 1), 2.0))
    doubled = alpha_weights(sigma, depths * 2)
    assert torch.allclose(scaled, doubled, atol=1e-6)


def test_composite_is_the_weighted_sum_along_the_ray():
    w = torch.tensor([0.2, 0.3, 0.5]).reshape(1, 1, 3, 1)
    values = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]).reshape(1, 1, 3, 2)
    assert torch.allclose(composite(w, values), torch.tensor([[[1.2, 1.3]]]))


def test_a_hard_sdf_sphere_puts_the_expected_point_on_its_surface():
    # rays along -z from z=2 towards a sphere of radius 0.5 at the origin: the surface is at depth 1.5
    n = 400
    depths = torch.linspace(1.0, 2.0, n).reshape(1, 1, n, 1)
    points = torch.tensor([0.0, 0.0, 2.0]) + depths * torch.tensor([0.0, 0.0, -1.0])
    sdf = points.norm(dim=-1, keepdim=True) - 0.5
    w = alpha_weights(sdf_to_density(sdf, 0.005), depths)
    z = composite(w, points)[0, 0, 2]
    assert abs(float(z) - 0.5) < 0.02
