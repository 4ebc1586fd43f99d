"""The viewer's method controls on a real method: LiftedGAN's light, with its estimate kept across cameras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gan3d
from gan3d.images import mark_weights, to_uint8
from gan3d.view import ViewSession

pytest.importorskip("gan3d_liftedgan", reason="the LiftedGAN plugin is not installed")


def test_liftedgan_light_and_camera_moves_match_synthesize():
    from gan3d_liftedgan.model import relight_vector

    name = "liftedgan/ffhq256"
    session = ViewSession([name], lambda n: gan3d.load(n, weights="random"))
    G = session.generator(name)
    calls = []
    estimate = G.estimate
    G.estimate = lambda w: calls.append(1) or estimate(w)
    views = {}
    for yaw in ("0.3", "-0.2"):
        views[yaw] = session.render(session.parse({"model": [name], "seed": ["1"], "yaw": [yaw], "light": ["30"]}))[0]
    assert len(calls) == 1  # the camera-independent estimate is made once per latent
    with pytest.raises(gan3d.errors.InputError, match="light"):
        session.parse({"model": [name], "light": ["75"]})

    w = G.mapping(gan3d.sample_latents(G, [1]).z, None, 0.7)
    cam = G.card.camera.orbit(-0.2, 0.0)
    with torch.no_grad():
        ref = mark_weights(to_uint8(G.synthesize(w, cam, light=relight_vector(30, 1)).image)[0], G)
    assert np.array_equal(ref, views["-0.2"])
    assert np.abs(views["0.3"].astype(int) - views["-0.2"]).mean() > 1  # the camera moved


def test_eg3d_camera_moves_reuse_the_tri_planes():
    pytest.importorskip("gan3d_eg3d", reason="the EG3D plugin is not installed")
    name = "eg3d/shapenetcars128-64"
    session = ViewSession([name], lambda n: gan3d.load(n, weights="random"))
    G = session.generator(name)
    backbone_runs = []
    G.backbone.synthesis.register_forward_pre_hook(lambda module, args: backbone_runs.append(1))
    a = session.render(session.parse({"model": [name], "seed": ["2"], "yaw": ["0.4"], "mode": ["raw"]}))[0]
    b = session.render(session.parse({"model": [name], "seed": ["2"], "yaw": ["-0.4"], "mode": ["raw"]}))[0]
    assert backbone_runs == [1] and session.mappings == 1  # one latent: one mapping, one set of tri-planes
    assert np.abs(a.astype(int) - b).mean() > 0.5
    session.render(session.parse({"model": [name], "seed": ["3"], "mode": ["raw"]}))
    assert len(backbone_runs) == 2 and session.mappings == 2
