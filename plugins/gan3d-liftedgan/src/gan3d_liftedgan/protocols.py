"""LiftedGAN's own evaluation protocol through gan3d's shared evaluators.

The authors' ``tools/test_fid.py`` renders every sample at its *own estimated pose* with truncation
psi = 1.0 at 256 px. gan3d's harness always hands generators cameras from a distribution, so this
helper switches the model to :meth:`LiftedGAN.set_own_pose` for the run, forces psi = 1 and a fixed
frontal camera description (the cameras are ignored), and records the pose mode in each result's
``protocol.options`` so such numbers are never mixed with camera-distribution ones.

Note: gan3d's FID uses clean-fid's pipeline (NVIDIA Inception, bicubic resize), not the pytorch-fid
pipeline of ``test_fid.py`` (bilinear resize), so values are comparable across gan3d models, not with
the paper's table.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import LiftedGAN

OWN_POSE = "own estimated pose per sample (LiftedGAN test_fid.py)"


def official_config(config=None, **overrides):
    """A :class:`gan3d.eval.harness.HarnessConfig` with LiftedGAN's protocol: psi 1.0, one frontal camera."""
    from gan3d.eval.cameras import FixedCameras
    from gan3d.eval.harness import HarnessConfig

    base = (config or HarnessConfig()).model_dump()
    base.update(truncation_psi=1.0, truncation_cutoff=None, cameras=FixedCameras(poses=((0.0, 0.0),)))
    base.update(overrides)
    return HarnessConfig(**base)


def evaluate_official(G: LiftedGAN, evaluators: Sequence, config=None, model: str | None = None):
    """``gan3d.eval.evaluate`` with LiftedGAN's own protocol; returns the harness report."""
    from gan3d.eval.harness import evaluate

    if not isinstance(G, LiftedGAN):
        raise TypeError(f"evaluate_official needs a LiftedGAN generator, got {type(G).__name__}")
    previous = G.own_pose
    G.set_own_pose(True)
    try:
        report = evaluate(G, evaluators, official_config(config), model=model)
    finally:
        G.set_own_pose(previous)
    for i, r in enumerate(report.results):
        proto = r.protocol.model_copy(update={"options": dict(r.protocol.options, liftedgan_pose=OWN_POSE)})
        fields = r.model_dump(exclude={"protocol", "protocol_hash"})
        report.results[i] = type(r)(**fields, protocol=proto)  # re-hashes the changed protocol
    return report
