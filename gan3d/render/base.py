"""The renderer interface: turn a scene representation and a camera into image-space maps."""

from __future__ import annotations

import abc
from typing import Any

from ..camera import Camera
from ..outputs import RenderOutput


class Renderer(abc.ABC):
    """A renderer draws a scene (a radiance field, a mesh, ...) from a batch of cameras.

    ``scene`` is whatever the concrete renderer consumes: :class:`~gan3d.render.volume.VolumeRenderer`
    takes a field callable, the mesh rasteriser takes vertices, faces and colours.
    """

    @abc.abstractmethod
    def render(self, scene: Any, camera: Camera, resolution: int, deterministic: bool = False) -> RenderOutput:
        """``B`` cameras -> :class:`~gan3d.RenderOutput` maps at ``resolution x resolution``."""
