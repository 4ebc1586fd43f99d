"""gan3d plugin: LiftedGAN (Shi, Aggarwal & Jain, CVPR 2021) with the core's pure-PyTorch mesh rasteriser."""

from .model import LiftedGAN, LiftedGANConfig, camera_to_view, pose_sweep_view, relight_vector

__all__ = ["LiftedGAN", "LiftedGANConfig", "camera_to_view", "pose_sweep_view", "relight_vector"]
