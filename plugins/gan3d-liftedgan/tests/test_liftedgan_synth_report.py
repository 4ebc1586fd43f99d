"""benchmarks/liftedgan_synth_report.py on tiny runs made here: the teacher's grid, LiftedGAN's yaw / depth /
relighting rows, and the FID table read from the runs' stores (a run without a stored FID says so)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from liftedgan_testutils import latest_generator, make_teacher_run

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "liftedgan_synth_report.py"
SMALL = {"backbones": "random", "mlp_hidden": 16, "depth_z_dim": 16, "depth_nf": 4, "trans_nf": 4, "trans_z_dim": 4,
         "blur_size": 2, "blur_sigma": 1.0, "rank_downsample": 2, "w_stats_samples": 256, "n_scale": 2}


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("liftedgan_synth_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up while it is defined
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """A 16-px teacher run, the full LiftedGAN and its wo_flip ablation distilled from it (2 iterations)."""
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    root = tmp_path_factory.mktemp("liftedgan_report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN3D_HOME", str(root / "home"))
        torch.manual_seed(0)
        teacher = make_teacher_run(root / "runs")
        data = root / "teacher-images-16"  # the teacher's images serve as the (unused) data set
        cfg = {"method": "liftedgan", "data": str(data), "batch": 2, "kimg": 0.004, "tick_kimg": 0.004,
               "out": str(root / "runs"), "num_workers": 0, "device": "cpu", "grid_seeds": [0], "grid_yaws": [0.0],
               "options": {**SMALL, "teacher": "run:stylegan2-synth64", "wo_idt": True}}
        full = train(resolve_config({**cfg, "name": "liftedgan-synth64"}), progress=False)
        ablated = train(resolve_config({**cfg, "name": "liftedgan-synth64-wo_flip",
                                        "options": {**cfg["options"], "wo_flip": True}}), progress=False)
    return {"teacher": teacher, "full": full, "wo_flip": ablated}


def store_fid(run: Path, value: float) -> None:
    """A FID for the run's last snapshot in its results store, as the loop's metrics write it."""
    from gan3d.store import ResultStore, StoredResult

    gen = latest_generator(run)
    with ResultStore(run / "gan3d-results.sqlite") as st:
        st.add_results([StoredResult(run_id=run.name, model=str(gen), metric="fid", value=value, n=8,
                                     protocol_hash="h", kimg=float(gen.parent.name))])


def test_report_writes_the_figures_and_the_fid_table(script, runs, tmp_path, capsys):
    store_fid(runs["full"], 42.5)
    store_fid(runs["teacher"], 17.25)
    out = tmp_path / "docs"
    code = script.main(["--teacher", str(runs["teacher"]), "--full", str(latest_generator(runs["full"]).parent),
                        "--ablation", str(runs["wo_flip"]), "--out", str(out), "--seeds", "0,1",
                        "--teacher-seeds", "0-5", "--views", "3"])
    assert code == 0
    teacher = np.asarray(Image.open(out / script.TEACHER_PNG))
    assert teacher.shape == (2 * 16, 4 * 16, 3)  # six samples on a 4-wide grid, the last two tiles blank
    assert teacher[16:, 32:].max() == 0 and teacher[:16, :16].std() > 0
    sweep = np.asarray(Image.open(out / script.SWEEP_PNG)).astype(int)
    assert sweep.shape == (2 * 3 * 16, 3 * 16, 3)  # two seeds x (yaw, depth, light) rows, three views
    tiles = sweep.reshape(6, 16, 3, 16, 3).transpose(0, 2, 1, 3, 4)
    for r, what in enumerate(("yaw", "depth", "light")):
        assert np.abs(tiles[r, 0] - tiles[r, 2]).max() > 0, f"the {what} row does not change along the sweep"
    assert not np.array_equal(tiles[0], tiles[3])  # two seeds, two faces
    table = (out / script.TABLE_MD).read_text()
    lines = table.splitlines()
    assert lines[0] == "| run | ablation | kimg | FID |" and len(lines) == 5
    assert f"| teacher ({runs['teacher'].name}) | - | 0.004 | 17.25 |" in lines
    assert f"| LiftedGAN ({runs['full'].name}) | wo_idt | 0.004 | 42.50 |" in lines
    assert f"| LiftedGAN ({runs['wo_flip'].name}) | wo_flip, wo_idt | 0.004 | not measured |" in lines
    assert table in capsys.readouterr().out


def test_report_refuses_swapped_or_missing_runs(script, runs, tmp_path, capsys):
    common = ["--out", str(tmp_path), "--seeds", "0", "--teacher-seeds", "0", "--views", "2"]
    assert script.main(["--teacher", str(runs["full"]), "--full", str(runs["full"]), *common]) == 2
    assert "not the StyleGAN2 teacher" in capsys.readouterr().err
    assert script.main(["--teacher", str(runs["teacher"]), "--full", str(tmp_path / "nope"), *common]) == 2
    assert "neither a run or snapshot folder nor a registered model" in capsys.readouterr().err
    assert not (tmp_path / script.TABLE_MD).exists()
