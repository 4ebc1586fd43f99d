"""Image helpers: the one palette of mask classes and colour-coded label maps."""

import numpy as np
import torch

from gan3d.data.masks import CNERF_CLASSES
from gan3d.images import MASK_COLOURS, colorize_labels, label_palette


def test_mask_classes_have_one_colour_each_and_more_classes_get_more_colours():
    assert MASK_COLOURS.shape == (len(CNERF_CLASSES), 3) and MASK_COLOURS.dtype == np.uint8
    assert np.array_equal(label_palette(9), MASK_COLOURS) and np.array_equal(label_palette(2), MASK_COLOURS[:2])
    assert tuple(MASK_COLOURS[0]) == (0, 0, 0)  # background
    many = label_palette(14)
    assert np.array_equal(many[:9], MASK_COLOURS) and len({tuple(c) for c in many}) == 14


def test_colorize_labels_takes_the_argmax_class_colour():
    logits = torch.zeros(1, 9, 2, 2)
    for k, (i, j) in zip((0, 3, 7, 8), ((0, 0), (0, 1), (1, 0), (1, 1))):
        logits[0, k, i, j] = 1.0
    rgb = colorize_labels(logits)
    assert rgb.shape == (1, 2, 2, 3)
    assert np.array_equal(rgb[0].reshape(4, 3), MASK_COLOURS[[0, 3, 7, 8]])
    assert colorize_labels(logits, size=(4, 4)).shape == (1, 4, 4, 3)
