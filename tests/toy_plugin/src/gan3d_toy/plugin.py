"""A whole gan3d model plugin in well under 150 lines: a shaded sphere whose colour and size come from z.

It is 3D-aware in the real sense: a density field rendered by the core's volume renderer, so views
from other cameras show the same sphere lit from the same side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import gan3d
from gan3d import pretrained
from gan3d.render import VolumeRenderer

CARD = gan3d.ModelCard(
    name="toy/sphere",
    method="toy",
    dataset="analytic",
    resolution=64,
    latent=gan3d.LatentSpec(parts={"z": 8}),
    camera=gan3d.CameraDefaults(radius=2.7, look_at=(0.0, 0.0, 0.0), focal=4.2647),
    license="MIT",
    description="An analytic sphere: z[0:3] sets its colour, z[3] its radius, z[4:6] the light.",
)

# A variant with another latent size and a narrow trained pose range (comparisons mark views outside it).
CARD16 = CARD.model_copy(update={"name": "toy/sphere16", "latent": gan3d.LatentSpec(parts={"z": 16}),
                                 "pose_range": gan3d.PoseRange(yaw=(-0.5, 0.5), pitch=(-0.3, 0.3))})


class ToySphere(gan3d.Generator):
    """``w = psi * z`` (one w); density ``200 (r - |x|) + 1`` with Lambert shading towards a z-chosen light."""

    def __init__(self, card: gan3d.ModelCard = CARD):
        super().__init__(card)
        self.register_buffer("w_avg", torch.zeros(card.latent.dim))
        self.renderer = VolumeRenderer(ray_start=2.2, ray_end=3.2, num_samples=24, num_importance=16)

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        self.check_truncation(truncation_psi, truncation_cutoff, num_ws=1)
        z = self.check_latents(z)
        w = self.w_avg.lerp(z, truncation_psi) if truncation_cutoff != 0 else z
        return w[:, None, :]  # [B,1,8]

    def synthesize(self, w, camera, resolution: int | None = None, **kwargs) -> gan3d.GeneratorOutput:
        B = w.shape[0]
        camera = self.check_camera(camera, B)
        w = w[:, 0]
        colour = torch.sigmoid(w[:, 0:3])                            # [B,3]
        radius = 0.2 + 0.06 * torch.tanh(w[:, 3])                     # [B]
        light = F.normalize(torch.cat([w[:, 4:6].tanh(), torch.ones_like(w[:, :1])], 1), dim=1)

        def field(points, dirs):  # points [B,N,3] -> features [B,N,3], raw sigma [B,N,1]
            dist = points.norm(dim=-1, keepdim=True)
            normal = points / dist.clamp_min(1e-6)
            shade = 0.25 + 0.75 * (normal * light[:, None]).sum(-1, keepdim=True).clamp_min(0)
            return colour[:, None] * shade, 200.0 * (radius[:, None, None] - dist) + 1.0

        res = resolution or self.card.resolution
        r = self.renderer.render(field, camera, res, deterministic=self.deterministic)
        semantic = torch.cat([1 - r.opacity, r.opacity], 1)  # two classes: background, sphere
        return gan3d.GeneratorOutput(image=r.features, image_raw=r.features, depth=r.depth, mask=r.opacity,
                                     semantic=semantic)

    def export_config(self) -> dict:
        return {}


def _build(card, files, device):
    return ToySphere(card).to(device)


def _load_checkpoint(path, device):
    """The toy's safe form (what save_pretrained writes): None for anything else, so other plugins try."""
    form = pretrained.read(path, "toy")
    if form is None:
        return None
    if form.config.get("kind") == "trained":  # a snapshot of `gan3d train` (see train.py)
        from .train import load_trained

        return load_trained(form, device)
    gen = ToySphere(form.card())
    gen.load_state_dict(form.state_dict(), strict=True)
    return gen.to(device)


@gan3d.hookimpl
def gan3d_register_models():
    return [gan3d.ModelEntry(CARD, _build), gan3d.ModelEntry(CARD16, _build)]


@gan3d.hookimpl
def gan3d_load_checkpoint(path, device):
    return _load_checkpoint(path, device)


@gan3d.hookimpl
def gan3d_register_trainers():
    from .train import ENTRY

    return [ENTRY]
