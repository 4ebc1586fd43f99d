"""LiftedGAN training: distillation from a frozen StyleGAN2 teacher (``gan3d train`` with method = "liftedgan")."""

from gan3d.train import TrainerEntry

from .options import ABLATIONS, PRESETS, LiftedGANTrainOptions
from .trainer import LiftedGANTrainer, check_data

ENTRY = TrainerEntry(method="liftedgan", options=LiftedGANTrainOptions, build=LiftedGANTrainer, presets=PRESETS,
                     check_data=check_data,
                     description="LiftedGAN distilled from a frozen StyleGAN2 teacher (method = 'stylegan2' trains one)")

__all__ = ["ABLATIONS", "ENTRY", "LiftedGANTrainOptions", "LiftedGANTrainer", "PRESETS", "check_data"]
