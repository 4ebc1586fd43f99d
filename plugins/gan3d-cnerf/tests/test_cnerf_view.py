"""`gan3d view`'s CNeRF controls (one region alone; a region's codes from another seed) on the fixture's
reduced model, through the viewer's own request parsing and rendering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gan3d


@pytest.fixture(scope="module")
def session(fixture_model_dir):
    from gan3d.view import ViewSession

    path = str(fixture_model_dir)
    return ViewSession([path], lambda name: gan3d.load(name)), path


def _render(session, **query):
    s, path = session
    req = s.parse({"model": [path], **{k: [str(v)] for k, v in query.items()}})
    return s.render(req)[0]


def test_region_alone_is_the_generators_own_region_rendering(session):
    from gan3d_cnerf.classes import CLASS_NAMES

    s, path = session
    G = s.generator(path)
    hair = CLASS_NAMES.index("hair")
    alone = _render(session, seed=0, region="hair")
    everything = _render(session, seed=0)
    assert not np.array_equal(alone, everything)
    w = G.mapping(gan3d.sample_latents(G, [0]).z, None, 0.7, None)
    with torch.no_grad():
        want = G.synthesize(w, s.camera(G, 0.0, 0.0, None), semantics=[hair])
    from gan3d.images import to_uint8

    assert np.array_equal(alone, to_uint8(want.image)[0])


def test_region_swap_changes_the_picture_and_bad_values_are_refused(session):
    plain = _render(session, seed=0)
    swapped = _render(session, seed=0, swap_region="hair", swap_seed=5)
    assert not np.array_equal(plain, swapped)
    assert np.array_equal(_render(session, seed=0, swap_region="none", swap_seed=5), plain)
    s, path = session
    with pytest.raises(gan3d.InputError):
        s.parse({"model": [path], "region": ["nostril"]})
