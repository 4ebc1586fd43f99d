"""Shared test set-up: a clean, offline gan3d cache per test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty cache, offline by default."""
    monkeypatch.setenv("GAN3D_HOME", str(tmp_path_factory.mktemp("gan3d_home")))
    monkeypatch.delenv("GAN3D_PATH", raising=False)
    monkeypatch.setenv("GAN3D_OFFLINE", "1")
