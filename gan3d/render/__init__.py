"""Renderers shared by every plugin: volume rendering (EG3D, CNeRF) and mesh rasterisation (LiftedGAN)."""

from .base import Renderer
from .mesh import Fragments, Mesh, MeshRenderer, grid_faces, project_fov, rasterize
from .volume import (VolumeRenderer, alpha_weights, composite, importance_depths, merge_samples, mip_ray_march,
                     offset_depths, ray_grid, sample_pdf, sdf_to_density, stratified_depths)

__all__ = ["Renderer", "VolumeRenderer", "alpha_weights", "composite", "importance_depths", "merge_samples",
           "mip_ray_march", "offset_depths", "ray_grid", "sample_pdf", "sdf_to_density", "stratified_depths",
           "Fragments", "Mesh", "MeshRenderer", "grid_faces", "project_fov", "rasterize"]
