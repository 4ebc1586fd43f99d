"""Shared evaluators: FID/KID, identity similarity, pose consistency, smile coefficient, LPIPS.

Every evaluator is registered through the ``gan3d_register_evaluators`` hook (the core's own in
:mod:`gan3d.builtin`), produces pydantic :class:`MetricResult` s carrying a frozen :class:`Protocol`,
and is fed by one :func:`evaluate` harness that renders each needed sample once.

>>> import gan3d
>>> from gan3d.eval import HarnessConfig, evaluate, create_evaluator
>>> G = gan3d.load("eg3d/ffhq512-128")                                     # doctest: +SKIP
>>> report = evaluate(G, [create_evaluator("id", backend="dlib")], HarnessConfig(num=100))  # doctest: +SKIP

Heavy dependencies (clean-fid, lpips, facenet-pytorch, dlib) are imported by the evaluator modules
only, so ``import gan3d.eval`` stays light.
"""

from __future__ import annotations

from .cameras import (CameraDistribution, DatasetCameras, FixedCameras, GaussianCameras, UniformCameras,
                      camera_distribution, read_dataset_labels)
from .harness import (EvalContext, Evaluator, HarnessConfig, HarnessReport, SampleBatch, SampleRequest,
                      evaluate)
from .protocol import MetricResult, Protocol


def create_evaluator(name: str, **options) -> Evaluator:
    """The registered evaluator ``name`` (see :func:`gan3d.list_evaluators`) built with ``options``."""
    from ..registry import evaluator_entry

    return evaluator_entry(name).build(**options)


__all__ = [
    "CameraDistribution", "DatasetCameras", "FixedCameras", "GaussianCameras", "UniformCameras",
    "camera_distribution", "read_dataset_labels", "EvalContext", "Evaluator", "HarnessConfig", "HarnessReport",
    "SampleBatch", "SampleRequest", "evaluate", "MetricResult", "Protocol", "create_evaluator",
]
