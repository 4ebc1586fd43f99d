"""The nine semantic classes of the released FFHQ model; their display colours are the core's mask colours
(:data:`gan3d.images.MASK_COLOURS`, one palette for every figure).

The order is the one the training data loader builds its masks in (mouth = 3, brows = 4); the
official README and comments list brow before mouth, which does not match the trained network.
"""

from __future__ import annotations

import torch

from gan3d.errors import InputError
from gan3d.images import colorize_labels

CLASS_NAMES: tuple[str, ...] = ("background", "face", "eyes", "mouth", "brows", "nose", "ears", "hair", "cloth")

# alternative spellings users type; each maps to one of CLASS_NAMES
_ALIASES = {"bg": "background", "skin": "face", "eye": "eyes", "lips": "mouth", "lip": "mouth",
            "brow": "brows", "eyebrows": "brows", "eyebrow": "brows", "ear": "ears", "neck": "cloth",
            "neck+cloth": "cloth", "clothes": "cloth"}


def class_names(num_classes: int) -> list[str]:
    """Display names of ``num_classes`` classes: the nine names, or ``class0``... for other counts."""
    return list(CLASS_NAMES) if num_classes == len(CLASS_NAMES) else [f"class{k}" for k in range(num_classes)]


def region_index(name: str | int, num_classes: int = len(CLASS_NAMES)) -> int:
    """A class index from its name (or index); unknown names list the nine classes."""
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        k = int(name)
        if not 0 <= k < num_classes:
            raise InputError(f"region index {k} is out of range; CNeRF has {num_classes} regions "
                             f"(0-{num_classes - 1}: {', '.join(CLASS_NAMES)})")
        return k
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CLASS_NAMES:
        raise InputError(f"unknown region {name!r}; CNeRF's regions are: {', '.join(CLASS_NAMES)}")
    return CLASS_NAMES.index(key)


def colorize(semantic: torch.Tensor) -> torch.Tensor:
    """Per-class logits ``[B,K,H,W]`` -> colour-coded label maps ``[B,3,H,W]`` in ``[-1,1]`` (argmax), in the
    core's mask colours (:func:`gan3d.images.label_palette`), on ``semantic``'s device."""
    rgb = torch.from_numpy(colorize_labels(semantic)).to(semantic.device)  # [B,H,W,3] uint8
    return rgb.permute(0, 3, 1, 2).float() / 127.5 - 1
