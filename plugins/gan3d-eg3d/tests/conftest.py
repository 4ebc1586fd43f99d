"""EG3D plugin tests: every test gets an isolated, offline gan3d cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty gan3d cache, offline."""
    monkeypatch.setenv("GAN3D_HOME", str(tmp_path_factory.mktemp("gan3d_home")))
    monkeypatch.delenv("GAN3D_PATH", raising=False)
    monkeypatch.setenv("GAN3D_OFFLINE", "1")
