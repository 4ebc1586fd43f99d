"""Fixtures of the training tests (see train_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from train_helpers import write_sphere_dataset  # noqa: E402

from gan3d.testing import one_thread  # noqa: E402,F401


@pytest.fixture(scope="session")
def sphere_data(tmp_path_factory) -> Path:
    return write_sphere_dataset(tmp_path_factory.mktemp("spheres") / "data")


@pytest.fixture(scope="session")
def unlabelled_data(tmp_path_factory) -> Path:
    return write_sphere_dataset(tmp_path_factory.mktemp("plain") / "data", num=8, labels=False)

