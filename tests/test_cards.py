import pytest
from pydantic import ValidationError

import gan3d


def _card(**kw):
    base = dict(name="m/v", method="m", dataset="d", resolution=64, camera=gan3d.CameraDefaults(radius=2.7, focal=4.2647))
    base.update(kw)
    return gan3d.ModelCard(**base)


def test_card_fields_and_validation():
    card = _card(weights=(gan3d.WeightFile(filename="a.pkl", urls=("https://x/a.pkl",), sha256="AB" * 32),))
    assert card.variant == "v" and card.weights[0].sha256 == "ab" * 32
    assert card.camera.fov_degrees == pytest.approx(18.83, abs=0.02)
    with pytest.raises(ValidationError):
        _card(name="no-slash")
    with pytest.raises(ValidationError):
        gan3d.WeightFile(filename="a", sha256="xyz")
    with pytest.raises(ValidationError):
        _card(resolution=0)
    with pytest.raises(ValidationError):  # frozen: cards are data, not state
        card.resolution = 3


def test_card_camera_orbit_and_pose_range():
    card = _card(camera=gan3d.CameraDefaults(radius=2.7, look_at=(0, 0, 0.2), focal=4.2647))
    cam = card.camera.orbit(0.3, 0.0)
    assert len(cam) == 1 and abs(float(cam.origin.norm()) - 2.7) < 1e-5
    assert card.pose_range.contains(0.3, 0.0) and not card.pose_range.contains(3.0, 0.0)


def test_run_input_is_a_run_snapshot_or_a_registered_model():
    from gan3d.cards import RunInput

    assert RunInput(option="teacher", run="00001-t", kimg=40.0).model is None
    named = RunInput(option="teacher", model="stylegan2/synth64", sha256="ab" * 32, run="00001-t", kimg=40.0)
    assert RunInput.model_validate(named.model_dump(mode="json")) == named
    assert RunInput(option="teacher", model="x/y", sha256="ab" * 32).run is None  # a model without a training record
    for bad in ({"run": "00001-t"}, {"model": "x/y"}, {}, {"sha256": "ab" * 32, "run": "r", "kimg": 1.0}):
        with pytest.raises(ValidationError):
            RunInput(option="teacher", **bad)
