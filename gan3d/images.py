"""Turning image tensors into pictures on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .io import atomic_write


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B,C,H,W]`` in ``[-1,1]`` -> ``[B,H,W,C]`` uint8, rounding as EG3D's scripts (``x*127.5+128``)."""
    x = (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


SHARED_RESIZE = "bilinear-antialias"  # how resize_images brings images to a shared size (recorded in protocols)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """``[B,C,H,W]`` (any range) -> ``[B,C,size,size]`` by antialiased bilinear resampling (identity at
    that size already): one rule for every model, so that methods of different native resolution are
    scored on equal footing."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    out = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                                          align_corners=False)
    return out.to(images.dtype)


def normalize_map(maps: torch.Tensor) -> torch.Tensor:
    """Per-image min-max normalise ``[B,1,H,W]`` (e.g. depth) to ``[-1,1]`` for display."""
    flat = maps.flatten(1)
    lo, hi = flat.min(1).values[:, None, None, None], flat.max(1).values[:, None, None, None]
    return (maps - lo) / (hi - lo).clamp_min(1e-8) * 2 - 1


def hstack(images: list[np.ndarray]) -> np.ndarray:
    """Side by side ``[H,W,C]`` arrays of one height."""
    return np.concatenate(images, axis=1)


def grid(rows: list[np.ndarray]) -> np.ndarray:
    """Stack equally wide rows vertically."""
    return np.concatenate(rows, axis=0)


def save_png(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``[H,W,3]`` or ``[H,W]`` uint8 atomically as PNG."""
    path = Path(path)
    img = Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)
    with atomic_write(path) as tmp:
        img.save(tmp, format="PNG")
    return path


# The colours of the nine mask classes, in the data contract's (CNeRF's) order, gan3d.data.masks.CNERF_CLASSES:
# background, face, eyes, mouth, brows, nose, ears, hair, neck+cloth. Background is black so the face stands
# out. gan3d's one palette: training grids, `gan3d generate`, the viewer and the CNeRF plugin's figures.
MASK_COLOURS = np.asarray([
    [0, 0, 0], [230, 190, 150], [40, 90, 220], [200, 30, 60], [120, 70, 20],
    [250, 140, 0], [150, 60, 200], [60, 40, 30], [30, 160, 120],
], dtype=np.uint8)


def label_palette(k: int) -> np.ndarray:
    """``[k,3]`` uint8 colours of class ids ``0..k-1``: :data:`MASK_COLOURS` (so a mask class has one colour
    everywhere), then colours well apart in hue for models with more classes."""
    import colorsys

    extra = [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.61803) % 1.0, 0.75, 0.95))
             for i in range(len(MASK_COLOURS), k)]
    return np.concatenate([MASK_COLOURS[:k], np.asarray(extra, dtype=np.uint8).reshape(-1, 3)])


def colorize_labels(semantic: torch.Tensor, size: tuple[int, int] | None = None) -> np.ndarray:
    """Per-class masks or logits ``[B,K,h,w]`` -> argmax label colours ``[B,H,W,3]`` uint8.

    ``size`` resizes (nearest) to ``(H, W)``, e.g. the final image's size.
    """
    labels = semantic.detach().float().argmax(1, keepdim=True).float()
    if size is not None and tuple(labels.shape[-2:]) != tuple(size):
        labels = torch.nn.functional.interpolate(labels, size=size, mode="nearest")
    return label_palette(semantic.shape[1])[labels[:, 0].long().cpu().numpy()]


def caption(image: np.ndarray, text: str, colour: tuple[int, int, int] = (200, 0, 0)) -> np.ndarray:
    """``[H,W,3]`` uint8 with a white strip under it holding ``text`` (e.g. "random weights")."""
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    strip = Image.new("RGB", (image.shape[1], 14), "white")
    ImageDraw.Draw(strip).text((2, 1), text, fill=colour, font=font)
    return np.concatenate([image[..., :3], np.asarray(strip)], axis=0)


def mark_weights(image: np.ndarray, generator) -> np.ndarray:
    """``image`` with a caption naming the generator's weights note (e.g. "random weights"), if any."""
    note = getattr(generator, "weights_note", "")
    return caption(image, f"{generator.card.name} [{note}]") if note else image
