"""A short run writes everything a user looks at: snapshots that load as models, grids, logs, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import gan3d
from gan3d.cli.main import main
from gan3d.train.config import resolve_config
from gan3d.train.loop import train
from gan3d.train.logs import metric_curve, read_log
from train_helpers import toy_config, write_toml


def test_two_iterations_write_snapshot_grid_log_and_events(sphere_data, tmp_path):
    run = train(resolve_config(toy_config(sphere_data, tmp_path)), progress=False)
    snap = run / "snapshots" / "000000.008"
    assert (run / "latest").read_text().strip() == "000000.008"
    state = torch.load(snap / "training-state.pt", weights_only=True)
    assert state["counters"]["cur_nimg"] == 8 and state["counters"]["batch_idx"] == 2
    assert set(state["networks"]) == {"G", "D"} and set(state["optimizers"]) == {"G", "D"}
    assert state["sampler"]["position"] == 8

    G = gan3d.load(str(snap / "generator"))
    assert type(G).__name__ == "TrainableSphere" and G.card.resolution == 16
    for k, v in G.state_dict().items():  # the snapshot's generator is the EMA
        assert torch.equal(v, state["ema"][k]), k
    assert not torch.equal(state["ema"]["net.0.weight"], state["networks"]["G"]["net.0.weight"])

    # grids: 2 seeds x (image row + semantic-mask row + depth row), 3 yaws; the start grid differs from the
    # trained one
    start = np.asarray(Image.open(run / "grids" / "000000.000.png"))
    grid = np.asarray(Image.open(snap / "grid.png"))
    assert grid.shape == start.shape == (2 * 3 * 16, 3 * 16, 3)
    assert not np.array_equal(start[:16], grid[:16])

    records = read_log(run)
    assert len(records) == 1 and records[0].kimg == 0.008 and records[0].batch_idx == 2
    assert {"Loss/Gmain", "Loss/Dmain", "Loss/Dreg"} <= set(records[0].losses)  # Dreg ran at iteration 0
    assert records[0].sec_per_kimg > 0 and "ema_beta" in records[0].schedule

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()
    assert "Loss/Gmain" in events.Tags()["scalars"]
    assert events.Scalars("Loss/Gmain")[0].step == 8
    assert events.Scalars("Loss/Gmain")[0].value == pytest.approx(records[0].losses["Loss/Gmain"])

    out = tmp_path / "gen"
    assert main(["generate", str(snap / "generator"), "--seeds", "0-1", "--yaw", "-0.2,0.2", "--pitch", "0",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert np.asarray(Image.open(out / "seed0000.png")).shape == (16, 32, 3)


def test_cli_run_and_kimg_override(sphere_data, tmp_path, capsys):
    path = write_toml(tmp_path / "train.toml", toy_config(sphere_data, tmp_path / "runs", kimg=1.0, snap_ticks=2,
                                                          image_ticks=1, options={"hidden": 8}))
    assert main(["train", str(path), "--kimg", "0.016", "--quiet"]) == 0
    run_dir = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"]
    run = tmp_path / "runs" / "00000-toy-custom"
    assert [p.name for p in sorted((run / "snapshots").iterdir())] == ["000000.016"]
    assert [p.name for p in sorted((run / "grids").iterdir())] == ["000000.000.png", "000000.008.png"]
    saved = json.loads((tmp_path / "runs" / "00000-toy-custom" / "train-config.json").read_text())
    assert run_dir.endswith("00000-toy-custom") and saved["kimg"] == 0.016 and saved["options"]["hidden"] == 8
    # a resume with more kimg continues the same run
    assert main(["train", "--resume", run_dir, "--kimg", "0.024", "--quiet"]) == 0
    assert [r.kimg for r in read_log(run_dir)] == [0.008, 0.016, 0.024]


class _Brightness:
    """A test metric: the mean pixel value of the samples (needs no downloaded network)."""

    @gan3d.hookimpl
    def gan3d_register_evaluators(self):
        from gan3d.eval.harness import Evaluator
        from gan3d.eval.protocol import MetricResult

        class Brightness(Evaluator):
            name = "brightness"

            def __init__(self, num=None):
                self.num, self.values = num, []

            def requests(self, ctx):
                self.request = ctx.request(self.num)
                return [self.request]

            def extract(self, request, batch):
                return batch.images.float().mean((1, 2, 3)).cpu()

            def update(self, request, extracted):
                self.values.append(extracted)

            def finalize(self, ctx):
                v = torch.cat(self.values)
                return [MetricResult(name="brightness", value=float(v.mean()), n=len(v),
                                     protocol=ctx.protocol("brightness", self.request))]

        return [gan3d.registry.EvaluatorEntry("brightness", Brightness, "mean pixel value")]


@pytest.fixture
def brightness_metric():
    gan3d.registry.register(_Brightness(), name="test-brightness")
    yield "brightness"
    gan3d.registry.unregister("test-brightness")


def test_metrics_go_to_the_store_with_kimg(sphere_data, tmp_path, brightness_metric):
    from gan3d.store import ResultStore

    cfg = toy_config(sphere_data, tmp_path, kimg=0.016, metrics=[brightness_metric], metric_num=4,
                     metric_snaps=2, snap_ticks=1)
    run = train(resolve_config(cfg), progress=False)
    with ResultStore(run / "gan3d-results.sqlite") as store:
        rows = store.results()
    # snapshots at 0.008 and 0.016; metrics at every 2nd snapshot (and the last): only 0.016
    assert [(r.metric, r.kimg, r.n) for r in rows] == [("brightness", 0.016, 4)]
    assert rows[0].model.endswith("snapshots/000000.016/generator")
    assert -1 <= rows[0].value <= 1
    # killed while measuring (here: the store lost): a resumed run measures its starting snapshot first
    (run / "gan3d-results.sqlite").unlink()
    assert main(["train", "--resume", str(run), "--kimg", "0.032", "--quiet"]) == 0
    with ResultStore(run / "gan3d-results.sqlite") as store:
        assert sorted(r.kimg for r in store.results()) == [0.016, 0.032]
    curve = metric_curve(run, "brightness")
    assert [k for k, _ in curve] == [0.016, 0.032] and all(-1 <= v <= 1 for _, v in curve)
    # killed while measuring the final snapshot: resuming the finished run measures what is missing
    with ResultStore(run / "gan3d-results.sqlite") as store:
        store._db.execute("DELETE FROM results WHERE model LIKE ?", ("%000000.032%",))
        store._db.commit()
    assert [k for k, _ in metric_curve(run, "brightness")] == [0.016]
    assert main(["train", "--resume", str(run), "--kimg", "0.032", "--quiet"]) == 0
    assert [k for k, _ in metric_curve(run, "brightness")] == [0.016, 0.032]


def test_metric_curve_of_a_run_made_with_a_relative_out(sphere_data, tmp_path, brightness_metric, monkeypatch):
    """A run started with out = "training-runs" stores relative model paths; its curve must be found from
    the absolute run folder too (gan3d pack / reproduce), and not pick up another run's rows."""
    monkeypatch.chdir(tmp_path)
    cfg = toy_config(sphere_data, "training-runs", kimg=0.008, metrics=[brightness_metric], metric_num=4,
                     snap_ticks=1)
    run = train(resolve_config(cfg), progress=False)
    assert not run.is_absolute()
    expected = metric_curve(run, "brightness")
    assert [k for k, _ in expected] == [0.008]
    assert metric_curve(run.resolve(), "brightness") == expected
    other = tmp_path / "elsewhere" / "00001-toy-custom"
    other.mkdir(parents=True)
    (other / "train-config.json").write_text((run / "train-config.json").read_text())
    (other / "gan3d-results.sqlite").write_bytes((run / "gan3d-results.sqlite").read_bytes())
    assert metric_curve(other, "brightness") == []  # the rows name 00000-toy-custom's snapshots


def test_store_keeps_kimg_and_reads_rows_without_it(tmp_path):
    from gan3d.store import ResultStore, StoredResult

    with ResultStore(tmp_path / "s.sqlite") as store:
        base = dict(run_id="r", metric="fid", value=1.0, n=1, protocol_hash="h")
        store.add_results([StoredResult(model="a", kimg=12.5, **base), StoredResult(model="b", **base)])
        rows = {r.model: r for r in store.results()}
        # a row written by an older gan3d (extra_json without kimg) reads as kimg None
        store._db.execute("INSERT INTO results VALUES ('r','c','fid','fid',1.0,NULL,1,'h','{}','',NULL,'t','{}','{}')")
        old = [r for r in store.results() if r.model == "c"][0]
    assert rows["a"].kimg == 12.5 and "kimg" not in rows["a"].extra
    assert rows["b"].kimg is None and old.kimg is None
