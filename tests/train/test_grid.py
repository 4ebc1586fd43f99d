"""Snapshot grids: a row of colour-coded semantic masks under the images when the generator has them."""

from __future__ import annotations

import numpy as np
import torch

import gan3d
from gan3d.images import label_palette
from gan3d.train.grid import render_grid


class NoSemantic(gan3d.Generator):
    """The toy sphere's output with its semantic masks dropped (a method without masks)."""

    def __init__(self, inner: gan3d.Generator):
        super().__init__(inner.card)
        self.inner = inner

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        return self.inner.mapping(z, camera, truncation_psi, truncation_cutoff)

    def synthesize(self, w, camera, **kwargs) -> gan3d.GeneratorOutput:
        self.inner.set_deterministic(self.deterministic)  # the grid renders deterministically
        out = self.inner.synthesize(w, camera, **kwargs)
        out.semantic = None
        return out

    def export_config(self) -> dict:
        return {}


def toy(resolution: int = 16) -> gan3d.Generator:
    from gan3d_toy.plugin import CARD, ToySphere

    return ToySphere(CARD.model_copy(update={"resolution": resolution}))


def test_semantic_masks_get_a_colour_coded_row_under_the_images():
    G, R = toy(), 16
    seeds, yaws = [0, 1], [-0.3, 0.0, 0.3]
    with_masks = render_grid(G, seeds, yaws)
    # per seed: image, semantic mask, depth; one column per yaw
    assert with_masks.shape == (2 * 3 * R, 3 * R, 3)
    without = render_grid(NoSemantic(G), seeds, yaws)
    assert without.shape == (2 * 2 * R, 3 * R, 3)
    # the image and depth rows are the same in both grids; only the mask row was added
    assert np.array_equal(with_masks[:R], without[:R])
    assert np.array_equal(with_masks[2 * R:3 * R], without[R:2 * R])

    # the mask row is the toy's two classes (background where the sphere is not) in the core's palette
    palette = label_palette(2)
    mask_row = with_masks[R:2 * R]
    is_bg = (mask_row == palette[0]).all(-1)
    is_sphere = (mask_row == palette[1]).all(-1)
    assert (is_bg | is_sphere).all()
    assert is_sphere[R // 2, R // 2] and is_bg[0, 0]  # the sphere in the middle, empty corners
    G.set_deterministic(True)
    with torch.no_grad():
        lat = gan3d.sample_latents(G, seeds)
        out = G.synthesize(G.mapping(lat.z), G.default_camera(-0.3, 0.0))
    expected = (out.semantic[0].argmax(0) == 1).numpy()
    assert np.array_equal(is_sphere[:, :R], expected)
