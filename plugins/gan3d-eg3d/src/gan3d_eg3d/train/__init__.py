"""EG3D's trainer for ``gan3d train``: the dual discriminator, the loss phases, options and presets."""

from __future__ import annotations

from gan3d.train import DataInfo, TrainerEntry

from .discriminator import DualDiscriminator
from .options import PRESETS, EG3DOptions, check_data
from .trainer import EG3DTrainer


def build(options: EG3DOptions, data: DataInfo, device="cpu") -> EG3DTrainer:
    """``TrainerEntry.build``: the trainer for validated ``options`` on ``data``."""
    return EG3DTrainer(options, data, device)


def trainer_entry() -> TrainerEntry:
    return TrainerEntry(method="eg3d", options=EG3DOptions, build=build, presets=PRESETS, check_data=check_data,
                        description="EG3D (Chan et al. 2022): tri-plane generator, dual discriminator, R1, "
                                    "density regularisation, pose-conditioning swap; faithful to NVlabs/eg3d",
                        plugin="eg3d")


__all__ = ["DualDiscriminator", "EG3DOptions", "EG3DTrainer", "PRESETS", "build", "check_data", "trainer_entry"]
