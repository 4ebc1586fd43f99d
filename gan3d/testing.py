"""Test helpers for gan3d and its plugins (import them into a ``conftest.py``).

``isolated_cache`` is an autouse fixture: every test gets its own empty gan3d cache and runs offline,
so no test reads a user's weights or reaches the network.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty cache (``GAN3D_HOME``), no extra search paths, offline."""
    monkeypatch.setenv("GAN3D_HOME", str(tmp_path_factory.mktemp("gan3d_home")))
    monkeypatch.delenv("GAN3D_PATH", raising=False)
    monkeypatch.setenv("GAN3D_OFFLINE", "1")


def train_until_first_snapshot_then_kill(config_path, run_dir, timeout: float = 120.0) -> float:
    """Run ``gan3d train CONFIG`` in a subprocess (one thread), SIGKILL it once ``run_dir`` has its first
    snapshot, and return the kimg of that snapshot (what a resume starts from). The run must be long
    enough to still be going when the snapshot appears."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    latest = Path(run_dir) / "latest"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gan3d", "train", str(config_path), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    while not latest.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, f"no snapshot within {timeout:g} s"
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    # TensorBoard orders event files by name (creation second, host, pid): a resume within the killed run's
    # first second would sort first when its pid is lower; a real resume comes later than that
    time.sleep(1.1)
    return float(latest.read_text())


@pytest.fixture
def one_thread():
    """This process computes with one thread, like the OMP_NUM_THREADS=1 subprocesses it is compared with:
    a float sum's order (so its last bits) depends on how many threads share it."""
    import torch

    was = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(was)
