"""Training: one loop in the core (:mod:`gan3d.train.loop`), methods plug in a :class:`Trainer`."""

from .draws import Draws, ReplayDraws
from .method import Batch, DataInfo, OptimizerSpec, Phase, Progress, Trainer, TrainerEntry
from .step import ema_update, make_optimizer, run_phase, run_phase_rounds


def __getattr__(name: str):
    # the loop and its config import the data and evaluation machinery: loaded when first asked for, so a
    # plugin importing the contract above stays light
    if name == "train":
        from .loop import train

        return train
    if name in ("TrainConfig", "ResolvedConfig", "resolve_config", "load_train_config"):
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'gan3d.train' has no attribute {name!r}")


__all__ = ["Draws", "ReplayDraws", "Batch", "DataInfo", "OptimizerSpec", "Phase", "Progress", "Trainer",
           "TrainerEntry", "ema_update", "make_optimizer", "run_phase", "run_phase_rounds", "train", "TrainConfig",
           "ResolvedConfig", "resolve_config", "load_train_config"]
