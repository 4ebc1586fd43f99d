"""What a number means: the frozen :class:`Protocol` behind every :class:`MetricResult`.

Two values are comparable only when their protocols are equal; :meth:`Protocol.hash` is a short,
stable digest of everything in it and is stored next to the value (the leaderboard groups columns by
it). The protocol never names the model: the same protocol applied to two models gives comparable
numbers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Protocol(BaseModel):
    """Everything that shapes a metric's value, except the model.

    ``seeds`` is a seed spec (``"0-999"``); ``cameras`` the camera distribution's description
    (:meth:`gan3d.eval.cameras.CameraDistribution.describe`); ``conditioning`` is ``"frontal"`` (the
    mapping network sees the card's frontal camera) or ``"same"`` (it sees the rendering camera).
    ``resolution`` is the generator's output size, ``resize`` how images are brought to the backbone's
    input. ``backbone_sha256`` and ``reference_sha256`` pin the network weights and the reference data.
    ``rendering`` is ``"default"`` (each model renders as its authors evaluate it, random ray jitter
    included) or ``"deterministic"`` (every model in its deterministic form). With a shared evaluation
    resolution, ``resolution`` is that size and ``image_resize`` names how images were brought to it, so
    models of different native sizes share a protocol (and a leaderboard column).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    num_samples: int = Field(ge=0, description="latents (scenes) drawn")
    views_per_sample: int = Field(1, ge=1, description="renders per latent (2 for pairs, frames for sweeps)")
    seeds: str = Field(description="latent seeds, e.g. '0-999'")
    camera_seed: int | None = Field(None, description="seed of the camera draw (None for deterministic cameras)")
    cameras: dict[str, Any] = Field(default_factory=dict)
    conditioning: str = "frontal"
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    resolution: int | None = None
    resize: str = ""
    backbone: str = ""
    backbone_sha256: str | None = None
    reference: str | None = Field(None, description="reference data name (file name, no directories)")
    reference_sha256: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="evaluator-specific settings")
    rendering: Literal["default", "deterministic"] = "default"
    image_resize: str = Field("", description="how every image was brought to ``resolution`` before the metric "
                                              "(a shared evaluation resolution); '' = the model's native size")

    def canonical_json(self) -> str:
        """Sorted, compact JSON of every field: the text that is hashed.

        ``rendering`` and ``image_resize`` enter only when not the default, so hashes stay those of earlier
        versions.
        """
        data = self.model_dump(mode="json")
        if data["rendering"] == "default":
            del data["rendering"]
        if not data["image_resize"]:
            del data["image_resize"]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        """16 hex digits of the sha256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]


class MetricResult(BaseModel):
    """One number with its spread, sample count and protocol.

    ``spread`` is a standard deviation (``spread_kind="std"``), a half-width of a 95% interval
    (``"ci95"``) or absent. ``details`` carries secondary numbers (faces not detected, correlations).
    ``protocol_hash`` is filled from ``protocol`` automatically.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: float
    spread: float | None = None
    spread_kind: str | None = None
    n: int = Field(ge=0, description="samples the value was computed from")
    protocol: Protocol
    protocol_hash: str = ""
    model: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    seconds: float | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.protocol_hash:
            object.__setattr__(self, "protocol_hash", self.protocol.hash())
        elif self.protocol_hash != self.protocol.hash():
            raise ValueError("protocol_hash does not match the protocol")

    def comparable(self, other: "MetricResult") -> bool:
        """True when both values were measured under the same protocol."""
        return self.name == other.name and self.protocol_hash == other.protocol_hash

    def format(self) -> str:
        """``fid = 12.345 ± 0.1 (n=1000) [a1b2c3]``."""
        s = f"{self.name} = {self.value:.4g}"
        if self.spread is not None:
            s += f" ± {self.spread:.3g}"
        return s + f" (n={self.n}) [{self.protocol_hash[:6]}]"
