"""A tiny stage-1 CNeRF run folder, for tests that need a trained-looking snapshot without training."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def make_stage1_run(out: Path, name: str = "cnerf-synth64", **options) -> Path:
    """A run folder ``out/NNNNN-name`` holding one snapshot of a tiny, randomly initialised stage-1 CNeRF
    (written by the training loop's own snapshot writer) and the options it records."""
    from gan3d.io import write_text_atomic
    from gan3d.train import DataInfo
    from gan3d.train.snapshot import CONFIG, create_run_dir, snapshot_name, write_snapshot
    from gan3d_cnerf.train.options import Stage1Options
    from gan3d_cnerf.train.stage1 import Stage1Trainer
    from test_cnerf_train_steps import TINY1

    torch.manual_seed(0)
    o = Stage1Options(**{**TINY1, "sphere_init": False, **options})
    tr = Stage1Trainer(o, DataInfo(64, 6, True, 9))
    run = create_run_dir(out, name)
    write_text_atomic(run / CONFIG, json.dumps({"options": o.model_dump(mode="json")}))
    write_snapshot(run, snapshot_name(8), tr.export(tr.networks["G"]), {})
    return run
