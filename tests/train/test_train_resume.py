"""kill -9 in the middle of a run, resume: the same weights as a run that was never interrupted."""

from __future__ import annotations

import torch

from gan3d.cli.main import main
from gan3d.testing import train_until_first_snapshot_then_kill
from gan3d.train.config import resolve_config
from gan3d.train.loop import train
from gan3d.train.logs import read_log
from train_helpers import final_state, toy_config, write_toml


def _assert_same(a: dict, b: dict) -> None:
    for net in ("G", "D"):
        for k in a["networks"][net]:
            assert torch.equal(a["networks"][net][k], b["networks"][net][k]), (net, k)
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), ("ema", k)
    for net in ("G", "D"):
        for i, s in a["optimizers"][net]["state"].items():
            for key in ("exp_avg", "exp_avg_sq"):
                assert torch.equal(s[key], b["optimizers"][net]["state"][i][key]), (net, i, key)
    assert a["counters"] == b["counters"]
    assert torch.equal(a["draws"]["generator"], b["draws"]["generator"])


def test_kill_and_resume_equals_uninterrupted(sphere_data, tmp_path, one_thread):
    # 100 iterations, a tick every 2, a snapshot every 10 ticks: the kill lands after the first snapshot
    cfg = toy_config(sphere_data, tmp_path / "killed", kimg=0.4, snap_ticks=5)
    path = write_toml(tmp_path / "train.toml", cfg)
    run = tmp_path / "killed" / "00000-toy-custom"
    assert train_until_first_snapshot_then_kill(path, run) < 0.4

    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    uninterrupted = train(resolve_config({**cfg, "out": str(tmp_path / "straight")}), progress=False)
    _assert_same(final_state(run), final_state(uninterrupted))
    kimgs = [r.kimg for r in read_log(run)]  # the ticks after the snapshot were done again, not twice
    assert kimgs == [r.kimg for r in read_log(uninterrupted)] and len(kimgs) == 50
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()  # the events of the killed process after its snapshot are purged, not doubled
    assert [e.step for e in events.Scalars("Loss/Gmain")] == [round(k * 1000) for k in kimgs]
