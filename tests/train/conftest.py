"""Fixtures of the training tests (see train_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from train_helpers import write_sphere_dataset  # noqa: E402


@pytest.fixture(scope="session")
def sphere_data(tmp_path_factory) -> Path:
    return write_sphere_dataset(tmp_path_factory.mktemp("spheres") / "data")


@pytest.fixture(scope="session")
def unlabelled_data(tmp_path_factory) -> Path:
    return write_sphere_dataset(tmp_path_factory.mktemp("plain") / "data", num=8, labels=False)


@pytest.fixture
def one_thread():
    """This process computes with one thread, like the OMP_NUM_THREADS=1 subprocesses it is compared with:
    a float sum's order (so its last bits) depends on how many threads share it."""
    import torch

    was = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(was)
