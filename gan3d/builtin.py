"""The core's own hook implementations (evaluators that ship with gan3d register here)."""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def gan3d_register_evaluators() -> list:
    return []
