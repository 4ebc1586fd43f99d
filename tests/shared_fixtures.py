"""Where the parity fixtures live (``../shared/fixtures`` beside the repository), or a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"


def fixture_dir(name: str) -> Path:
    """``../shared/fixtures/<name>``, or skip the test with the reason (a fresh clone has none)."""
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"parity fixture {path} is absent (it lives beside the repository in ../shared, "
                    f"made by running the official code; a fresh clone has none)")
    return path
