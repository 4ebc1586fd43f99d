"""A run's progress figure: its grids side by side with their kimg, and its metric curve."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gan3d.errors import InputError
from gan3d.train.config import resolve_config
from gan3d.train.figure import pick, progress_strip, snapshot_grids, write_progress_figure
from gan3d.train.loop import train
from train_helpers import toy_config


@pytest.fixture(scope="module")
def run(sphere_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    # 6 iterations of batch 4, a snapshot every 2: grids at 0, 0.008, 0.016, 0.024 kimg
    return train(resolve_config(toy_config(sphere_data, out, kimg=0.024)), progress=False)


def test_grids_are_found_in_training_order(run):
    grids = snapshot_grids(run)
    assert [k for k, _ in grids] == [0.0, 0.008, 0.016, 0.024]
    assert grids[0][1].parent.name == "grids" and grids[-1][1].name == "grid.png"


def test_pick_spreads_and_keeps_both_ends():
    assert pick(list(range(10)), 3) == [0, 4, 9]
    assert pick([1, 2], 3) == [1, 2]
    assert pick(list(range(10)), 1) == [9]  # one panel: the latest


def test_a_strip_of_no_grids_is_refused(run):
    with pytest.raises(InputError, match="at least one grid; got count 0"):
        progress_strip(run, count=0)


def test_strip_holds_start_middle_and_end_side_by_side(run):
    strip = progress_strip(run, count=3, gap=6)
    one = np.asarray(Image.open(snapshot_grids(run)[0][1]).convert("RGB"))
    h, w = one.shape[:2]
    assert strip.shape == (h + 14, 3 * w + 2 * 6, 3)       # captions under each grid, gaps between
    assert np.array_equal(strip[:h, :w], one)              # the start grid first, untouched
    last = np.asarray(Image.open(snapshot_grids(run)[-1][1]).convert("RGB"))
    assert np.array_equal(strip[:h, -w:], last)


def test_metric_curve_written_when_the_run_measured_it(run, tmp_path):
    from gan3d.store import ResultStore, StoredResult

    written = write_progress_figure(run, tmp_path, "toy")
    assert [p.name for p in written] == ["toy_grids.png"]  # no FID measured: no curve
    with ResultStore(run / "gan3d-results.sqlite") as st:
        snap = str(run / "snapshots" / "000000.016" / "generator")
        st.add_results([StoredResult(run_id="r", model=snap, metric="fid", value=v, n=4, protocol_hash="h", kimg=k)
                        for k, v in ((0.008, 300.0), (0.016, 200.0))])
    written = write_progress_figure(run, tmp_path, "toy")
    svg = (tmp_path / "toy_fid.svg").read_text()
    assert [p.name for p in written] == ["toy_grids.png", "toy_fid.svg"] and svg.startswith("<svg")
    assert "FID against training progress" in svg


def test_not_a_run_is_refused(tmp_path):
    with pytest.raises(InputError, match="no grids"):
        progress_strip(tmp_path)
