"""EG3D for gan3d: a pure-PyTorch re-implementation that loads NVIDIA's official pickles.

>>> import gan3d
>>> G = gan3d.load("eg3d/ffhq512-128")                  # doctest: +SKIP
>>> G = gan3d.load("path/to/ffhq512-128.pkl")           # doctest: +SKIP
"""

from .cards import CARDS, CARDS_BY_NAME
from .generator import EG3DGenerator
from .loading import load_any, load_pickle_file, load_safe_form
from .pickle_io import EG3DCheckpoint, load_eg3d_pickle, read_network_pickle

__all__ = ["CARDS", "CARDS_BY_NAME", "EG3DGenerator", "EG3DCheckpoint", "load_any", "load_eg3d_pickle",
           "load_pickle_file", "load_safe_form", "read_network_pickle"]
