"""``gan3d view``: models side by side in the browser (see :mod:`gan3d.view.server`)."""

from .server import ViewServer
from .session import ViewRequest, ViewSession

__all__ = ["ViewRequest", "ViewServer", "ViewSession"]
