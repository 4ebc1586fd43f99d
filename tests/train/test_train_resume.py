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


def test_resume_with_kimg_becomes_the_runs_length(sphere_data, tmp_path, capsys):
    from gan3d.cli.train import resume_config
    from gan3d.train.config import ResolvedConfig
    from gan3d.train.snapshot import CONFIG

    run = train(resolve_config(toy_config(sphere_data, tmp_path / "runs")), progress=False)  # 0.008 kimg
    assert main(["train", "--resume", str(run), "--kimg", "0.016", "--quiet"]) == 0
    saved = ResolvedConfig.model_validate_json((run / CONFIG).read_text())
    assert (saved.kimg, saved.config.kimg) == (0.016, 0.016)
    assert resume_config(run, None, None).kimg == 0.016  # what a plain --resume trains to
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert "is already at 0.016 kimg" in capsys.readouterr().err
    assert [r.kimg for r in read_log(run)] == [0.008, 0.016]


def test_resume_drops_the_health_warnings_after_the_snapshot(sphere_data, tmp_path):
    run = train(resolve_config(toy_config(sphere_data, tmp_path / "runs")), progress=False)  # snapshot at 0.008
    # what a process killed after that snapshot left behind: a tick and a warning that will be done again
    with open(run / "log.jsonl", "a") as f:
        f.write(read_log(run)[-1].model_copy(update={"kimg": 0.012}).model_dump_json() + "\n")
    kept = '{"kimg": 0.008, "warning": "before the snapshot"}\n'
    (run / "health.log").write_text(kept + '{"kimg": 0.012, "warning": "after the snapshot"}\n{"kimg": 0.0')
    assert main(["train", "--resume", str(run), "--kimg", "0.016", "--quiet"]) == 0
    assert (run / "health.log").read_text() == kept
    assert [r.kimg for r in read_log(run)] == [0.008, 0.016]
