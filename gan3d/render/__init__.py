"""Renderers shared by every plugin (volume rendering now; the mesh rasteriser joins with LiftedGAN)."""

from .base import Renderer
from .volume import (VolumeRenderer, importance_depths, merge_samples, mip_ray_march, ray_grid, sample_pdf,
                     stratified_depths)

__all__ = ["Renderer", "VolumeRenderer", "importance_depths", "merge_samples", "mip_ray_march", "ray_grid",
           "sample_pdf", "stratified_depths"]
