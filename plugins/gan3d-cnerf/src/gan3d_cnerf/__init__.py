"""gan3d plugin for CNeRF: "Semantic 3D-aware Portrait Synthesis and Manipulation Based on
Compositional Neural Radiance Field" (Ma et al., AAAI 2023, arXiv 2302.01579)."""

from .classes import CLASS_NAMES, colorize, region_index
from .config import CNeRFConfig
from .generator import CNeRFGenerator

__all__ = ["CLASS_NAMES", "CNeRFConfig", "CNeRFGenerator", "colorize", "region_index"]
