"""The nine semantic classes of the released FFHQ model and their display colours.

The order is the one the training data loader builds its masks in (mouth = 3, brows = 4); the
official README and comments list brow before mouth, which does not match the trained network.
"""

from __future__ import annotations

import torch

from gan3d.errors import InputError

CLASS_NAMES: tuple[str, ...] = ("background", "face", "eyes", "mouth", "brows", "nose", "ears", "hair", "cloth")

# alternative spellings users type; each maps to one of CLASS_NAMES
_ALIASES = {"bg": "background", "skin": "face", "eye": "eyes", "lips": "mouth", "lip": "mouth",
            "brow": "brows", "eyebrows": "brows", "eyebrow": "brows", "ear": "ears", "neck": "cloth",
            "neck+cloth": "cloth", "clothes": "cloth"}

# one distinct colour per class (RGB); background black so the face stands out in label maps
PALETTE = torch.tensor([
    [0, 0, 0], [230, 190, 150], [40, 90, 220], [200, 30, 60], [120, 70, 20],
    [250, 140, 0], [150, 60, 200], [60, 40, 30], [30, 160, 120],
], dtype=torch.uint8)


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
    """Per-class logits ``[B,K,H,W]`` -> colour-coded label maps ``[B,3,H,W]`` in ``[-1,1]`` (argmax)."""
    labels = semantic.argmax(1)  # [B,H,W]
    palette = PALETTE.to(semantic.device)
    if semantic.shape[1] > len(palette):
        raise InputError(f"no colours for {semantic.shape[1]} classes")
    rgb = palette[labels].permute(0, 3, 1, 2).float()
    return rgb / 127.5 - 1
