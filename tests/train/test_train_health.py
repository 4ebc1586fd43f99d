"""Training health: NaN losses stop the run keeping the last good snapshot; a winning D is reported."""

from __future__ import annotations

import pytest

from gan3d.cli.main import main
from gan3d.train.config import resolve_config
from gan3d.train.health import HealthConfig, HealthMonitor, TrainingDiverged, check_finite
from gan3d.train.loop import train
from gan3d.train.snapshot import latest_snapshot
from train_helpers import toy_config, write_toml


def test_nan_loss_stops_with_a_message_and_keeps_the_last_snapshot(sphere_data, tmp_path, capsys):
    # snapshots every 2 iterations; G's loss turns NaN at iteration 3
    cfg = toy_config(sphere_data, tmp_path / "runs", kimg=0.04, options={"nan_after": 3})
    assert main(["train", str(write_toml(tmp_path / "t.toml", cfg)), "--quiet"]) == 2
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("gan3d: error:")][0]
    assert "training stopped at kimg 0.012 (iteration 3): Loss/Gmain=nan" in line
    run = tmp_path / "runs" / "00000-toy-custom"
    assert f"the last good snapshot is {run / 'snapshots' / '000000.008'}" in line
    assert latest_snapshot(run).name == "000000.008"
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["000000.008"]

    with pytest.raises(TrainingDiverged, match="no snapshot was written yet"):
        train(resolve_config({**cfg, "options": {"nan_after": 0}, "out": str(tmp_path / "early")}), progress=False)


def test_check_finite_names_every_bad_loss():
    check_finite({"Loss/G": 0.5, "Loss/D": 1.0}, "here", None)
    with pytest.raises(TrainingDiverged, match=r"Loss/D=inf, Loss/G=nan"):
        check_finite({"Loss/G": float("nan"), "Loss/D": float("inf"), "Loss/R": 0.0}, "here", "snap")


def test_winning_discriminator_warns_once_per_episode():
    mon = HealthMonitor(HealthConfig(window=4, d_loss_max=0.05, g_rise=0.5))
    healthy = [{"Loss/Dmain": 1.3, "Loss/Gmain": 0.7 + 0.01 * i, "Loss/Dreg": 0.01} for i in range(6)]
    assert [mon.update(x) for x in healthy] == [None] * 6
    # D's loss collapses and G's climbs: the warning comes once the whole window shows it
    winning = [{"Loss/Dmain": 0.01, "Loss/Gmain": 2.0 + i, "Loss/Dreg": 0.0} for i in range(6)]
    out = [mon.update(x) for x in winning]
    assert out[:3] == [None] * 3 and out[4:] == [None, None]
    assert "discriminator is winning outright: Loss/Dmain stayed below 0.05 for 4 ticks while Loss/Gmain " \
           "rose from 2 to 5" in out[3]
    # D low but G flat at a moderate loss: a D that is merely good is not a warning
    flat = HealthMonitor(HealthConfig(window=4))
    assert all(flat.update({"Loss/Dmain": 0.3, "Loss/Gmain": 1.2}) is None for _ in range(8))
    # the state survives a resume
    again = HealthMonitor(HealthConfig(window=4, d_loss_max=0.05, g_rise=0.5))
    again.load_state_dict(mon.state_dict())
    assert again.history == mon.history and again.warned


def test_each_declared_discriminator_is_watched_on_its_own():
    mon = HealthMonitor(HealthConfig(window=3, d_loss_max=0.05, g_rise=0.5),
                        pairs=[("Loss/D/adv", "Loss/G/adv"), ("Loss/Dsem/adv", "Loss/G/semantic_adv")])
    ticks = [{"Loss/D/adv": 1.2, "Loss/G/adv": 0.8, "Loss/Dsem/adv": 0.01, "Loss/G/semantic_adv": 1.0 + i}
             for i in range(4)]
    out = [mon.update(t) for t in ticks]
    assert out[:2] == [None, None] and out[3] is None  # warned once, when the window first fills
    assert "Loss/Dsem/adv stayed below 0.05 for 3 ticks while Loss/G/semantic_adv rose from 1 to 3" in out[2]
    assert "Loss/D/adv" not in out[2].replace("Loss/Dsem/adv", "")
    # the state carries both histories; a run saved by the one-pair monitor still resumes
    twin = HealthMonitor(HealthConfig(window=3), pairs=mon.pairs)
    twin.load_state_dict(mon.state_dict())
    assert twin.history == mon.history and twin.warned == mon.warned
    old = HealthMonitor(HealthConfig(window=3))
    old.load_state_dict({"history": [[0.01, 1.0], [0.01, 2.0]], "warned": False})
    assert old.update({"Loss/D/loss": 0.01, "Loss/G/loss": 3.0}) is not None



# per-tick (D/adv, G/adv) of the synth64 CNeRF stage-1 run that collapsed (issues #14/#15, 1.6 kimg): every
# fake scored fake from the first tick, D's loss 1.38 -> 0.18, G's 0.72 -> 2.74 and then flat
CNERF_COLLAPSE = [(1.376, 0.717), (1.165, 0.746), (0.558, 1.283), (0.388, 1.875), (0.232, 2.446),
                  (0.187, 2.710), (0.175, 2.776), (0.178, 2.739)]
# the healthy EG3D synth64 run (D ~1.3, G ~0.83) and StyleGAN2's first ticks (one hard tick, then recovery)
EG3D_HEALTHY = [(1.195, 1.14), (1.255, 0.973), (1.264, 0.959), (1.286, 0.937), (1.25, 0.989), (1.255, 0.946),
                (1.309, 0.822), (1.284, 0.84), (1.244, 0.898), (1.203, 0.934)]
STYLEGAN2_START = [(0.635, 2.114), (0.752, 1.516), (0.885, 1.259), (0.932, 1.19), (0.987, 1.119), (0.973, 1.167)]


def _feed(ticks, pair=("Loss/D/adv", "Loss/G/adv")):
    mon = HealthMonitor(pairs=[pair])
    return [mon.update({pair[0]: d, pair[1]: g}) for d, g in ticks]


def test_default_rule_reports_the_cnerf_collapse_and_not_healthy_runs():
    out = _feed(CNERF_COLLAPSE)
    assert out[:7] == [None] * 7  # the window (5 ticks) first shows D below 0.5 at tick 7
    assert "Loss/D/adv stayed below 0.5 for 5 ticks while Loss/G/adv rose from 1.88 to 2.74" in out[7]
    assert _feed(EG3D_HEALTHY, ("Loss/D/loss", "Loss/G/loss")) == [None] * len(EG3D_HEALTHY)
    assert _feed(STYLEGAN2_START, ("Loss/D/loss", "Loss/G/loss")) == [None] * len(STYLEGAN2_START)


def test_a_beaten_generator_whose_loss_has_stopped_rising_still_warns():
    # the collapse continued: G saturated near 2.7 (no rise in the window), D still near 0.18
    plateau = [(0.18 + 0.005 * (i % 2), 2.74 - 0.01 * (i % 3)) for i in range(7)]
    out = _feed(plateau)
    assert out[:4] == [None] * 4 and out[5:] == [None, None]
    assert "Loss/G/adv stayed at or above 2.0 (2.74 to 2.73)" in out[4]
    # a G loss just below the floor, flat, with the same D: not reported
    assert _feed([(0.18, 1.9)] * 7) == [None] * 7
