"""The image grid written at the start and at every snapshot: the same latents and cameras every time,
so the grids of one run show the model learning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..generator import Generator
from ..images import colorize_labels, grid, hstack, normalize_map, save_png, to_uint8
from ..latents import sample_latents


@torch.no_grad()
def render_grid(G: Generator, seeds: list[int], yaws: list[float], pitch: float = 0.0) -> np.ndarray:
    """``[rows*H, len(yaws)*W, 3]`` uint8: for each seed a row of views along the yaw sweep (the card's
    camera, conditioning frontal); when the generator returns semantic masks (``semantic [B,K,h,w]``), a
    row of their colour-coded arg-max classes (:func:`gan3d.images.colorize_labels`, at the image's size);
    when it returns depth, a row of its depth maps.

    Rendering is deterministic and leaves torch's random state as it was, so writing a grid never
    changes the training that follows.
    """
    was = G.deterministic
    devices = [G.device] if G.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        G.set_deterministic(True)
        try:
            lat = sample_latents(G, seeds)
            w = G.mapping(G.check_latents(lat.z), None)
            views, masks, depths = [], [], []
            for yaw in yaws:
                out = G.synthesize(w, G.default_camera(yaw, pitch))
                views.append(to_uint8(out.image))
                if out.semantic is not None:
                    masks.append(colorize_labels(out.semantic, tuple(out.image.shape[-2:])))
                if out.depth is not None:
                    d = out.depth
                    if out.mask is not None:  # empty space shown as far away
                        d = torch.where(out.mask > 0.5, d, d.amax(dim=(1, 2, 3), keepdim=True))
                    d = torch.nn.functional.interpolate(d, size=out.image.shape[-2:], mode="nearest")
                    depths.append(to_uint8(-normalize_map(d)).repeat(3, axis=-1))
        finally:
            G.set_deterministic(was)
    rows = []
    for i in range(len(seeds)):
        rows.append(hstack([v[i] for v in views]))
        if masks:
            rows.append(hstack([m[i] for m in masks]))
        if depths:
            rows.append(hstack([d[i] for d in depths]))
    return grid(rows)


def write_grid(G: Generator, path: Path, seeds: list[int], yaws: list[float]) -> Path:
    """:func:`render_grid` written atomically as PNG."""
    return save_png(render_grid(G, seeds, yaws), path)
