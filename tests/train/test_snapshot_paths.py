"""A training run folder and a snapshot folder stand for their (latest) generator wherever a model is loaded."""

from __future__ import annotations

import pytest
import torch

import gan3d
from gan3d.errors import InputError
from gan3d.train.config import resolve_config
from gan3d.train.loop import train
from gan3d.train.snapshot import LATEST, generator_folder
from train_helpers import toy_config


def test_run_and_snapshot_folders_load_their_generator(sphere_data, tmp_path):
    run = train(resolve_config(toy_config(sphere_data, tmp_path / "runs", kimg=0.016)), progress=False)
    latest = run / "snapshots" / "000000.016" / "generator"
    assert generator_folder(run) == latest
    assert generator_folder(run / "snapshots" / "000000.008") == run / "snapshots" / "000000.008" / "generator"
    assert generator_folder(latest) == latest and generator_folder(tmp_path / "x.pkl") == tmp_path / "x.pkl"
    z = gan3d.sample_latents(gan3d.load(str(latest)), [0]).z
    a, b = gan3d.load(str(run)), gan3d.load(str(latest))
    cam = a.default_camera(0.0, 0.0)
    assert torch.equal(a.set_deterministic(True)(z, cam).image, b.set_deterministic(True)(z, cam).image)

    (run / LATEST).unlink()  # a run killed before its first snapshot
    for p in (run / "snapshots").iterdir():
        (p / "training-state.pt").unlink()
    with pytest.raises(InputError, match="has no complete snapshot yet"):
        gan3d.load(str(run))
