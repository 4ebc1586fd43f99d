"""EG3D plugin tests: every test gets an isolated, offline gan3d cache."""

from gan3d.testing import isolated_cache, one_thread  # noqa: F401  (autouse fixture; one-thread fixture)
