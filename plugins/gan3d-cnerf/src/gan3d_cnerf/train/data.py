"""Real batches as CNeRF's discriminators see them: images at the stage's size, multi-hot masks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan3d.train import DataInfo

# official loader: dilation of small parts before fusing (class index in CNeRF's order -> (kernel, anchor))
# eyes, mouth, nose 3x3; brows 4x4 (anchor 2: grows 1 px up/left, 2 px down/right); ears 5x5
DILATION = {2: 3, 3: 3, 5: 3, 4: 4, 6: 5}


def _dilate(channel: torch.Tensor, k: int) -> torch.Tensor:
    """Binary ``[B,1,H,W]`` dilated by a ``k x k`` square with OpenCV's anchor ``k // 2``."""
    lo, hi = k // 2, k - 1 - k // 2
    # OpenCV: out(x) = max in(x - anchor + i), i < k; padding (lo, hi) makes max_pool2d take that window
    padded = F.pad(channel, (lo, hi, lo, hi))
    return F.max_pool2d(padded, k, stride=1)


def one_hot_masks(labels: torch.Tensor, num_classes: int, dilate: bool = True) -> torch.Tensor:
    """Label maps ``[B,H,W]`` (int class ids, CNeRF order) -> ``[B,K,H,W]`` float in {0,1}.

    ``dilate``: the official loader's dilation of the small parts (multi-hot, not renormalised),
    for the classes of the 9-class layout; other class counts are left undilated.
    """
    masks = F.one_hot(labels.long().clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2).float()
    if dilate and num_classes == 9:
        for k, size in DILATION.items():
            masks[:, k:k + 1] = _dilate(masks[:, k:k + 1], size)
    return masks


def real_pair(image: torch.Tensor, labels: torch.Tensor, size: int, num_classes: int, dilate: bool
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """``image [B,3,H,W]`` in [-1,1] and ``labels [B,H,W]`` -> image ``[B,3,size,size]`` (area-resized)
    and multi-hot mask ``[B,K,size,size]`` (labels resized by nearest neighbour, then dilated)."""
    if image.shape[-1] != size:
        image = F.interpolate(image, size=(size, size), mode="area" if image.shape[-1] > size else "bilinear")
    if labels.shape[-1] != size:
        labels = F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
    return image, one_hot_masks(labels, num_classes, dilate)


def mask_problems(info: DataInfo, num_classes: int) -> list[str]:
    """Why a data set cannot train a CNeRF with ``num_classes`` classes (empty if it can)."""
    if info.num_classes is None:
        return ["CNeRF trains on image + semantic mask pairs, and this data set has no masks (give an EG3D "
                "zip or folder with masks/<same path> label maps, or synth:num=...,res=64)"]
    if info.num_classes != num_classes:
        return [f"the masks have {info.num_classes} classes but the model has {num_classes} local generators "
                f"(set options.num_classes, or remap the masks to CNeRF's 9 classes)"]
    return []
