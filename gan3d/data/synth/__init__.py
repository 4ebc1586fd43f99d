"""The procedural head world: 3D heads with known identity, smile, light and camera, rendered by the
core's mesh rasteriser with semantic masks and depth (``gan3d dataset synth``, ``synth:`` data specs).

>>> from gan3d.data.synth import scenes, render
>>> s = scenes(range(4), seed=0)              # identities 0-3 with their smiles, lights and cameras
>>> out = render(s.views([-0.5, 0, 0.5]), 128)  # each head from three yaws: image, mask, depth
"""

from .heads import HeadMesh, build_heads
from .render import RESOLUTIONS, Rendered, render
from .world import IDENTITY_NAMES, IDENTITY_PARAMS, Scenes, identities, scenes
from .writer import DEPTH_SCALE, write_dataset

__all__ = ["HeadMesh", "build_heads", "RESOLUTIONS", "Rendered", "render", "IDENTITY_NAMES", "IDENTITY_PARAMS",
           "Scenes", "identities", "scenes", "DEPTH_SCALE", "write_dataset"]
