"""Semantic class maps: CNeRF's nine classes, CelebAMask-HQ's nineteen, and CNeRF's dilated training targets.

Data sets store one class id per pixel (a partition) in CNeRF's order. CNeRF's loader turns such a map
into nine *multi-hot* channels after dilating the small parts (eyes, mouth, nose by 3x3, brows by 4x4,
ears by 5x5), so that a pixel may be both face and eye; :func:`cnerf_channels` builds those targets.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

# The order CNeRF's data loader builds its targets in (the order the released network was trained with).
CNERF_CLASSES = ("background", "face", "eyes", "mouth", "brows", "nose", "ears", "hair", "neck_cloth")

# CelebAMask-HQ's ids (0 = background; 1.. in the order of its annotation tool's label list).
CELEBAMASK_CLASSES = ("background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
                      "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth")

# CelebAMask-HQ id -> CNeRF class (eyeglasses count as eyes, earrings as ears, hats as hair).
CELEBAMASK_TO_CNERF = np.array([0, 1, 5, 2, 2, 2, 4, 4, 6, 6, 3, 3, 3, 7, 7, 6, 8, 8, 8], dtype=np.uint8)

# Square dilation kernel per source id in CNeRF's loader (ids absent are not dilated).
_CELEBAMASK_KERNELS = {2: 3, 4: 3, 5: 3, 10: 3, 11: 3, 12: 3, 6: 4, 7: 4, 8: 5, 9: 5}
# The same rule on a map already in CNeRF's classes. Exact except that CNeRF leaves eyeglasses and
# earrings undilated, which a nine-class map can no longer tell apart from eyes and ears.
_CNERF_KERNELS = {2: 3, 3: 3, 5: 3, 4: 4, 6: 5}


def celebamask_to_cnerf(ids: np.ndarray) -> np.ndarray:
    """A CelebAMask-HQ id map ``[H,W]`` (0..18) -> CNeRF's class map ``[H,W]`` uint8 (0..8)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(CELEBAMASK_CLASSES)):
        raise InputError(f"CelebAMask-HQ ids must lie in 0..{len(CELEBAMASK_CLASSES) - 1}, got {int(ids.min())}.."
                         f"{int(ids.max())}")
    return CELEBAMASK_TO_CNERF[ids]


def _dilate(binary: torch.Tensor, k: int) -> torch.Tensor:
    """Binary dilation ``[B,1,H,W]`` by a k x k square with OpenCV's default anchor (k // 2, k // 2).

    For even k the anchor is off centre: a region grows k//2 - 1 pixels up/left and k//2 down/right.
    """
    before, after = k // 2, k - 1 - k // 2  # dst(x) = max src(x - anchor .. x - anchor + k - 1)
    padded = F.pad(binary, (before, after, before, after))
    return F.max_pool2d(padded, k, stride=1)


def cnerf_channels(ids: torch.Tensor, source: str = "cnerf") -> torch.Tensor:
    """CNeRF's training targets: id maps ``[B,H,W]`` (or ``[H,W]``) -> multi-hot ``[B,9,H,W]`` float32 in {0,1}.

    ``source`` names the ids' classes: ``"cnerf"`` (:data:`CNERF_CLASSES`) or ``"celebamask"``
    (:data:`CELEBAMASK_CLASSES`, reproducing CNeRF's loader exactly). Parts are dilated as CNeRF's loader
    does, then channels are summed and clamped to 1. Flip the map *before* calling this (CNeRF does),
    because the 4x4 kernel is not symmetric.
    """
    if source == "cnerf":
        to_class, kernels, n_src = np.arange(len(CNERF_CLASSES)), _CNERF_KERNELS, len(CNERF_CLASSES)
    elif source == "celebamask":
        to_class, kernels, n_src = CELEBAMASK_TO_CNERF, _CELEBAMASK_KERNELS, len(CELEBAMASK_CLASSES)
    else:
        raise InputError(f"source must be 'cnerf' or 'celebamask', got {source!r}")
    ids = torch.as_tensor(ids)
    if ids.ndim == 2:
        ids = ids[None]
    if ids.ndim != 3:
        raise InputError(f"class maps must have shape [B,H,W], got {list(ids.shape)}")
    ids = ids.long()
    if ids.numel() and (ids.min() < 0 or ids.max() >= n_src):
        raise InputError(f"class ids must lie in 0..{n_src - 1} for source {source!r}, got "
                         f"{int(ids.min())}..{int(ids.max())}")
    out = torch.zeros(ids.shape[0], len(CNERF_CLASSES), *ids.shape[1:], dtype=torch.float32, device=ids.device)
    # Dilation distributes over union, so ids sharing a class and a kernel are dilated together.
    groups: dict[tuple[int, int], list[int]] = {}
    for src in range(n_src):
        groups.setdefault((int(to_class[src]), kernels.get(src, 1)), []).append(src)
    for (cls, k), srcs in groups.items():
        binary = torch.zeros_like(ids, dtype=torch.bool)
        for s in srcs:
            binary |= ids == s
        part = binary.float()[:, None]
        if k > 1:
            part = _dilate(part, k)
        out[:, cls] += part[:, 0]
    return out.clamp_(0, 1)
