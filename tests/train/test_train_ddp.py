"""torchrun with 2 gloo processes trains the same weights as 1 process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from gan3d.train.config import resolve_config
from gan3d.train.loop import train
from gan3d.train.parallel import ShardedDraws
from train_helpers import final_state, toy_config, write_toml


def test_sharded_draws_are_slices_of_the_single_process_draws():
    one = ShardedDraws(3)
    two = [ShardedDraws(3, rank=r, world=2) for r in range(2)]
    for kind, args in (("randn", ("z",)), ("rand", ("u",)), ("randint", ("c", 10))):
        whole = getattr(one, kind)(*args, (6, 2))
        parts = [getattr(d, kind)(*args, (3, 2)) for d in two]
        assert torch.equal(torch.cat(parts), whole), kind
    scalar = one.rand("cutoff", ())
    assert all(torch.equal(d.rand("cutoff", ()), scalar) for d in two)  # one value for the whole batch


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_gloo_processes_equal_one(sphere_data, tmp_path, one_thread):
    # 6 iterations of global batch 4 (2 images per process); R1 runs at iterations 0 and 4
    cfg = toy_config(sphere_data, tmp_path / "ddp", kimg=0.024, tick_kimg=0.012, snap_ticks=1)
    path = write_toml(tmp_path / "train.toml", cfg)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "gan3d", "train", str(path), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run_dir") == 1  # rank 0 alone reports
    ddp = final_state(tmp_path / "ddp" / "00000-toy-custom")
    single = final_state(train(resolve_config({**cfg, "out": str(tmp_path / "one")}), progress=False))
    assert ddp["counters"] == single["counters"] and ddp["sampler"] == single["sampler"]
    for net in ("G", "D"):
        for k, v in single["networks"][net].items():
            torch.testing.assert_close(ddp["networks"][net][k], v, rtol=1e-4, atol=1e-5, msg=f"{net}.{k}")
    for k, v in single["ema"].items():
        torch.testing.assert_close(ddp["ema"][k], v, rtol=1e-4, atol=1e-5, msg=f"ema.{k}")
    moved = sum(float((single["networks"]["G"][k] - v).abs().max())
                for k, v in torch.load(_first_state(tmp_path / "one"), weights_only=True)["networks"]["G"].items())
    assert moved > 0  # the weights did change between the snapshots (the comparison is not of untrained nets)


def _first_state(out):
    run = next(out.iterdir())
    return sorted((run / "snapshots").iterdir())[0] / "training-state.pt"
