"""Shared test set-up: a clean, offline gan3d cache per test."""

from gan3d.testing import isolated_cache  # noqa: F401  (autouse fixture)
