"""The core's own hook implementations (evaluators, the StyleGAN2 trainer and its checkpoints register here)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .hookspecs import hookimpl


def _lazy(module: str, cls: str) -> Callable:
    """A factory that imports ``gan3d.eval.<module>`` only when the evaluator is built (torch-heavy)."""

    def create(**options):
        return getattr(importlib.import_module(f".eval.{module}", __package__), cls)(**options)

    return create


@hookimpl
def gan3d_register_evaluators() -> list:
    from .registry import EvaluatorEntry

    return [
        EvaluatorEntry("fid", _lazy("fid", "FidEvaluator"),
                       "FID and KID (clean-fid, clean mode) against reference images (ref=PATH)"),
        EvaluatorEntry("id", _lazy("identity", "IdentityEvaluator"),
                       "identity similarity of two random views per latent (FaceNet or dlib)"),
        EvaluatorEntry("pose", _lazy("pose", "PoseEvaluator"),
                       "estimated head pose vs requested camera (MTCNN 5 points or dlib 68 PnP)"),
        EvaluatorEntry("smile", _lazy("smile", "SmileEvaluator"),
                       "std of a landmark smile coefficient along a yaw sweep (EG3D Table 4)"),
        EvaluatorEntry("lpips_pair", _lazy("lpips", "LpipsPairEvaluator"),
                       "LPIPS between two models on identical latents and cameras"),
        EvaluatorEntry("lpips_diversity", _lazy("lpips", "LpipsDiversityEvaluator"),
                       "mean LPIPS between images of different latents"),
    ]


@hookimpl
def gan3d_register_trainers() -> list:
    from .train.stylegan2 import ENTRY

    return [ENTRY]


@hookimpl
def gan3d_load_checkpoint(path, device):
    """StyleGAN2 (the ``stylegan2/...`` family): gan3d's safe form or a stylegan2-pytorch ``.pt``."""
    from .stylegan2 import recognise

    return recognise(path, device)
