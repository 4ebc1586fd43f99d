"""gan3d: a plugin-based zoo of 3D-aware GANs.

>>> import gan3d
>>> G = gan3d.load("eg3d/ffhq512-128")                    # doctest: +SKIP
>>> lat = gan3d.sample_latents(G, "0-3")
>>> out = G(lat.z, gan3d.Camera.orbit(yaw=0.4))           # GeneratorOutput, image [4,3,512,512]
"""

from .camera import Camera
from .cards import CameraDefaults, Citation, LatentSpec, ModelCard, PoseRange, WeightFile
from .errors import (CheckpointError, Gan3dError, InputError, UnknownModelError, UnsafeCheckpointError,
                     WeightsNotFoundError)
from .generator import Generator
from .hookspecs import hookimpl
from .latents import Latents, parse_seeds, sample_latents
from .outputs import GeneratorOutput, RenderOutput
from .registry import (EvaluatorEntry, MethodCommand, ModelEntry, list_evaluators, list_models, load, model_card)

__version__ = "0.1.0"

__all__ = [
    "Camera", "CameraDefaults", "Citation", "LatentSpec", "ModelCard", "PoseRange", "WeightFile",
    "CheckpointError", "Gan3dError", "InputError", "UnknownModelError", "UnsafeCheckpointError",
    "WeightsNotFoundError", "Generator", "hookimpl", "Latents", "parse_seeds", "sample_latents",
    "GeneratorOutput", "RenderOutput", "EvaluatorEntry", "MethodCommand", "ModelEntry", "list_evaluators", "list_models",
    "load", "model_card",
]
