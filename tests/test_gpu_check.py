"""benchmarks/gpu_check.sh in its CPU form: the table comes out with every CUDA part marked skipped and every
tiny CPU measurement (EG3D, CNeRF, LiftedGAN inference; one training step per method) with a figure."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def table_rows(out: str) -> dict[str, list[list[str]]]:
    """The table's rows by their first column (a name may repeat, once per batch size)."""
    rows: dict[str, list[list[str]]] = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[0] != "what":
            rows.setdefault(cells[0], []).append(cells)
    return rows


@pytest.fixture(scope="module")
def cpu_run() -> str:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed: benchmarks/gpu_check.sh is a bash script")
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(SCRIPT), "--cpu", "--threads", "1", "--batches", "1", "2", "--repeats", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_cuda_parts_are_skipped_with_a_message(cpu_run):
    assert "the CUDA measurements are skipped" in cpu_run
    rows = table_rows(cpu_run)
    cuda = [r for rs in rows.values() for r in rs if r[1] == "cuda"]
    names = {r[0] for r in cuda}
    assert {"eg3d ffhq512-128 inference fp16-sr", "cnerf ffhq512 inference", "liftedgan ffhq256 inference",
            "training steps (synth64 presets)"} <= names
    assert all(r[5].startswith("skipped:") and r[3] == "" for r in cuda)
    assert rows["eg3d tiny inference fp16-sr"][0][5] == "skipped: CUDA only"


def test_config_and_every_cpu_figure_are_printed(cpu_run):
    assert re.search(r"config: form=cpu-tiny, device=cpu, eg3d_batches=\[1, 2\], repeats=1, fid_samples=50000",
                     cpu_run)
    rows = table_rows(cpu_run)
    assert [r[2] for r in rows["eg3d tiny inference fp32"]] == ["1", "2"]
    for name in ("eg3d tiny inference fp32", "cnerf tiny inference", "liftedgan tiny inference"):
        for r in rows[name]:
            assert r[1] == "cpu" and float(r[3].removesuffix(" images/s")) > 0 and float(r[4]) > 0, r
    for method in ("eg3d", "cnerf", "liftedgan"):
        (r,) = rows[f"{method} training step (tiny, all phases + EMA)"]
        assert float(r[3].removesuffix(" s/step")) > 0 and float(r[4]) > 0, r
    # the FID projection is 50,000 images at the batch-2 rate
    rate = float(rows["eg3d tiny inference fp32"][1][3].removesuffix(" images/s"))
    (fid,) = rows["eg3d tiny projected FID-50k render time fp32"]
    assert float(fid[3].removesuffix(" min")) == pytest.approx(50_000 / rate / 60, abs=0.06)


def load_module():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_psnr_and_the_fp16_wrapper_is_removed_afterwards():
    mod = load_module()
    a = torch.zeros(1, 3, 4, 4)
    assert mod.psnr(a, a) == math.inf
    assert mod.psnr(a, a + 0.02) == pytest.approx(10 * math.log10(4 / 0.0004))

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.superresolution = torch.nn.Conv2d(3, 3, 1)

    G = Toy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CUDA autocast without CUDA warns that it is disabled
        with mod.sr_in_fp16(G):
            assert "forward" in vars(G.superresolution)
            assert G.superresolution(a).dtype == torch.float32
    assert "forward" not in vars(G.superresolution)
