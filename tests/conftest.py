"""Shared test helpers: where ../shared lives, and a clean gan3d cache per test."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"


def fixture_dir(name: str) -> Path:
    """``../shared/fixtures/<name>``, or skip the test with the reason (a fresh clone has no ../shared)."""
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"parity fixture {path} is absent (it lives beside the repository in ../shared, "
                    f"made by running the official code; a fresh clone has none)")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty cache, offline by default."""
    monkeypatch.setenv("GAN3D_HOME", str(tmp_path_factory.mktemp("gan3d_home")))
    monkeypatch.delenv("GAN3D_PATH", raising=False)
    monkeypatch.setenv("GAN3D_OFFLINE", "1")
