"""The shared volume renderer on fields whose images are known in closed form."""

import math

import torch

import gan3d
from gan3d.render import VolumeRenderer, mip_ray_march, ray_grid, sample_pdf, stratified_depths


def test_centre_ray_points_at_look_at_and_pixels_are_row_major():
    cam = gan3d.Camera.orbit(0.0, 0.0, radius=2.0, focal=2.0)
    o, d = ray_grid(cam, 4)
    assert o.shape == (1, 16, 3) and torch.allclose(d.norm(dim=-1), torch.ones(1, 16))
    # pixel (row 0, col 3) is top-right: world +x (right), world +y (up, since camera y is down)
    assert d[0, 3, 0] > 0 and d[0, 3, 1] > 0
    # pixel (row 3, col 0) is bottom-left
    assert d[0, 12, 0] < 0 and d[0, 12, 1] < 0
    # the lift: x = (u - cx)/fx at z=1 with u = (j+0.5)/res
    expected = torch.nn.functional.normalize(torch.tensor([(3.5 / 4 - 0.5) / 2, (0.5 / 4 - 0.5) / 2, 1.0]), dim=0)
    assert torch.allclose(d[0, 3], expected * torch.tensor([1.0, -1.0, -1.0]), atol=1e-6)


def test_stratified_depths_and_deterministic_pdf():
    o = torch.zeros(2, 5, 3)
    det = stratified_depths(o, 1.0, 2.0, 11, deterministic=True)
    assert torch.allclose(det[0, 0, :, 0], torch.linspace(1, 2, 11))
    jit = stratified_depths(o, 1.0, 2.0, 11)
    assert (jit >= det).all() and (jit < det + 0.1).all() and not torch.equal(jit, det)
    bins = torch.linspace(0, 1, 5).expand(3, 5)
    w = torch.tensor([[0.0, 0.0, 1.0, 0.0]]).expand(3, 4)  # all mass in [0.5, 0.75]
    s = sample_pdf(bins, w, 8, deterministic=True)
    # u = linspace(0, 1): the end points land on the outer bins' edges, as in EG3D; the rest in the mass
    inner = s[:, 1:-1]
    assert ((inner >= 0.5) & (inner <= 0.75)).all()
    assert torch.allclose(inner[0], torch.linspace(0.5, 0.75, 8)[1:-1], atol=1e-3)


def test_constant_medium_composites_to_beer_lambert():
    # softplus(sigma - 1) = k everywhere over depth L: opacity = 1 - exp(-k L)
    k, L = 0.7, 2.0
    raw = math.log(math.expm1(k)) + 1
    depths = torch.linspace(1, 1 + L, 65).reshape(1, 1, 65, 1)
    colors = torch.full((1, 1, 65, 3), 0.25)
    sigma = torch.full((1, 1, 65, 1), raw)
    rgb, depth, weights = mip_ray_march(colors, sigma, depths)
    opacity = 1 - math.exp(-k * L)
    assert abs(float(weights.sum()) - opacity) < 1e-5
    assert torch.allclose(rgb, torch.full((1, 1, 3), 0.25 * opacity * 2 - 1), atol=1e-5)
    rgb_w, _, _ = mip_ray_march(colors, sigma, depths, white_back=True)
    assert torch.allclose(rgb_w, torch.full((1, 1, 3), (0.25 * opacity + 1 - opacity) * 2 - 1), atol=1e-5)


def _sphere(points, dirs):
    r = points.norm(dim=-1, keepdim=True)
    return torch.cat([points.abs(), r], -1), 5000 * (0.4 - r) + 1


def test_sphere_depth_matches_ray_intersection_and_chunks_agree():
    cam = gan3d.Camera.orbit([0.0, 0.5], 0.0, radius=2.0, focal=1.5)
    full = VolumeRenderer(1.0, 3.0, 64, 64, chunk=None).render(_sphere, cam, 16, deterministic=True)
    chunked = VolumeRenderer(1.0, 3.0, 64, 64, chunk=37).render(_sphere, cam, 16, deterministic=True)
    assert full.features.shape == (2, 4, 16, 16)
    assert torch.allclose(full.features, chunked.features, atol=1e-5)
    assert torch.allclose(full.depth, chunked.depth, atol=1e-5)
    # centre-ish pixel hits the sphere: depth along the ray about 2 - 0.4
    centre = full.depth[:, 0, 7:9, 7:9]
    assert torch.allclose(centre, torch.full_like(centre, 1.6), atol=0.03)
    assert full.opacity[:, 0, 7:9, 7:9].min() > 0.99 and full.opacity[:, 0, 0, 0].max() < 0.01
