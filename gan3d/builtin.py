"""The core's own hook implementations (evaluators that ship with gan3d register here)."""

from __future__ import annotations

from .hookspecs import hookimpl


def _fid(**options):
    from .eval.fid import FidEvaluator

    return FidEvaluator(**options)


def _id(**options):
    from .eval.identity import IdentityEvaluator

    return IdentityEvaluator(**options)


def _pose(**options):
    from .eval.pose import PoseEvaluator

    return PoseEvaluator(**options)


def _smile(**options):
    from .eval.smile import SmileEvaluator

    return SmileEvaluator(**options)


def _lpips_pair(**options):
    from .eval.lpips import LpipsPairEvaluator

    return LpipsPairEvaluator(**options)


def _lpips_diversity(**options):
    from .eval.lpips import LpipsDiversityEvaluator

    return LpipsDiversityEvaluator(**options)


@hookimpl
def gan3d_register_evaluators() -> list:
    from .registry import EvaluatorEntry

    return [
        EvaluatorEntry("fid", _fid, "FID and KID (clean-fid, clean mode) against reference images (ref=PATH)"),
        EvaluatorEntry("id", _id, "identity similarity of two random views per latent (FaceNet or dlib)"),
        EvaluatorEntry("pose", _pose, "estimated head pose vs requested camera (MTCNN 5 points or dlib 68 PnP)"),
        EvaluatorEntry("smile", _smile, "std of a landmark smile coefficient along a yaw sweep (EG3D Table 4)"),
        EvaluatorEntry("lpips_pair", _lpips_pair, "LPIPS between two models on identical latents and cameras"),
        EvaluatorEntry("lpips_diversity", _lpips_diversity, "mean LPIPS between images of different latents"),
    ]
