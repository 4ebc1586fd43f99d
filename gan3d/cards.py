"""Model cards: everything gan3d knows about a registered model, as data (pydantic)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v.count("/") != 1 or not all(v.split("/")):
            raise ValueError(f"model names are 'method/variant', got {v!r}")
        return v

    @property
    def variant(self) -> str:
        return self.name.split("/", 1)[1]
