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
