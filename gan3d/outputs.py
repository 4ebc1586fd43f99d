"""Typed outputs of generators and renderers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch


@dataclass
class GeneratorOutput:
    """What every generator returns.

    image:     ``[B,3,H,W]``, values in about ``[-1, 1]``.
    image_raw: ``[B,3,h,w]``, the neural rendering before the 2D stage (if any).
    depth:     ``[B,1,h,w]``, depth along the camera's z axis, world units.
    mask:      ``[B,1,h,w]``, accumulated opacity / foreground, in ``[0, 1]``.
    semantic:  ``[B,K,h,w]``, per-class masks or logits.
    extras:    method-specific maps (names documented by the plugin).
    """

    image: torch.Tensor
    image_raw: torch.Tensor | None = None
    depth: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    semantic: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def _map(self, fn) -> "GeneratorOutput":
        kw = {f.name: (None if getattr(self, f.name) is None else fn(getattr(self, f.name)))
              for f in fields(self) if f.name != "extras"}
        return replace(self, **kw, extras={k: fn(v) for k, v in self.extras.items()})

    def to(self, device) -> "GeneratorOutput":
        return self._map(lambda t: t.to(device))

    def detach(self) -> "GeneratorOutput":
        return self._map(lambda t: t.detach())

    def __getitem__(self, index) -> "GeneratorOutput":
        """Select samples of the batch."""
        return self._map(lambda t: t[index])

    @classmethod
    def cat(cls, outputs: list["GeneratorOutput"]) -> "GeneratorOutput":
        """Concatenate along the batch."""
        first = outputs[0]
        kw = {}
        for f in fields(first):
            if f.name == "extras":
                continue
            vals = [getattr(o, f.name) for o in outputs]
            kw[f.name] = None if any(v is None for v in vals) else torch.cat(vals)
        extras = {k: torch.cat([o.extras[k] for o in outputs]) for k in first.extras
                  if all(k in o.extras for o in outputs)}
        return cls(**kw, extras=extras)


@dataclass
class RenderOutput:
    """What a renderer returns for ``B`` cameras at ``h x w`` pixels.

    features: ``[B,C,h,w]`` composited features (for EG3D, scaled to ``[-1,1]`` as the official code).
    depth:    ``[B,1,h,w]`` composited depth along the ray.
    opacity:  ``[B,1,h,w]`` accumulated opacity (sum of the compositing weights).
    """

    features: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor
