"""EG3D plugin tests: every test gets an isolated, offline gan3d cache."""

from gan3d.testing import isolated_cache  # noqa: F401  (autouse fixture)
