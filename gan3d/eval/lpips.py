"""LPIPS (the ``lpips`` package): distance between two models on identical inputs, and diversity.

* ``lpips_pair``: for every sample (same seed, same camera, same conditioning and truncation) the
  LPIPS distance between this model's image and another model's image, e.g. original vs reproduced
  weights. Images of a different size are resized (bilinear, antialiased) to this model's size.
* ``lpips_diversity``: mean LPIPS between images of consecutive latents (0-1, 2-3, ...) at the same
  camera (frontal by default): higher = more diverse.

The network is LPIPS v0.1 (its linear layers ship in the ``lpips`` package) on a torchvision backbone
(AlexNet by default) whose weights are fetched once into the gan3d cache with torchvision's sha256
prefix check, or read from a local file (``weights=``), instead of torchvision's own download.
``pnet_rand=True`` keeps the backbone random (for tests; the numbers are then meaningless).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError
from .cameras import FixedCameras, _Dist
from .harness import EvalContext, Evaluator, SampleBatch, SampleRequest
from .protocol import MetricResult
from .weights import TORCHVISION_ALEXNET, TORCHVISION_SQUEEZENET, TORCHVISION_VGG16, resolve_backbone

_BACKBONES = {"alex": TORCHVISION_ALEXNET, "vgg": TORCHVISION_VGG16, "squeeze": TORCHVISION_SQUEEZENET}


class LpipsNet:
    """LPIPS v0.1 with the backbone's weights from the gan3d cache. Call with two ``[B,3,H,W]`` in [-1,1]."""

    def __init__(self, net: str = "alex", device: str | torch.device = "cpu", weights: str | None = None,
                 pnet_rand: bool = False):
        if net not in _BACKBONES:
            raise InputError(f"unknown LPIPS backbone {net!r}; use {', '.join(_BACKBONES)}")
        try:
            import lpips
        except ImportError:
            from .faces import MissingDependencyError

            raise MissingDependencyError("LPIPS needs the lpips package: pip install lpips==0.1.4") from None
        import warnings

        with warnings.catch_warnings(), torch.random.fork_rng():
            warnings.simplefilter("ignore", UserWarning)  # torchvision's 'pretrained' deprecation inside lpips
            torch.manual_seed(0)  # a random backbone (tests) is the same one in every process and run
            model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        self.sha256 = None
        if not pnet_rand:
            path, self.sha256 = resolve_backbone(_BACKBONES[net], weights)
            state = torch.load(path, map_location="cpu", weights_only=True)
            own = {}
            for key in model.net.state_dict():
                # lpips splits torchvision's `features` into slices, keeping the module indices
                tv_key = "features." + key.split(".", 1)[1]
                if tv_key not in state:
                    raise InputError(f"{path} is not torchvision's {net} checkpoint (no {tv_key})")
                own[key] = state[tv_key]
            model.net.load_state_dict(own)
        self.name = f"lpips-v0.1-{net}" + ("-random-backbone" if pnet_rand else "")
        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances ``[B]`` between ``a [B,3,H,W]`` and ``b [B,3,H,W]`` (values in [-1,1])."""
        if a.shape != b.shape:
            raise InputError(f"LPIPS compares images of one shape, got {list(a.shape)} and {list(b.shape)}")
        with torch.inference_mode():
            return self.model(a.to(self.device).float(), b.to(self.device).float()).reshape(-1)


class LpipsPairEvaluator(Evaluator):
    """LPIPS between this model and ``other`` (a generator or a registered name) on identical inputs."""

    name = "lpips_pair"

    def __init__(self, other=None, num: int | None = None, cameras: _Dist | None = None, net: str = "alex",
                 weights: str | None = None, pnet_rand: bool = False, device: str | torch.device | None = None,
                 conditioning: str = "frontal"):
        if other is None:
            raise InputError("lpips_pair compares two models: give the other one (--compare NAME, or `other` under "
                             "[metric_options.lpips_pair] in a run config)")
        self.other, self.num, self.cameras, self.net_name = other, num, cameras, net
        self.weights, self.pnet_rand, self._device, self.conditioning = weights, pnet_rand, device, conditioning

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        self.request = ctx.request(self.num, 1, self.cameras, conditioning=self.conditioning)
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        if isinstance(self.other, str):
            from ..registry import load

            self.other_name = self.other
            self.other = load(self.other, device=str(ctx.device))
        else:
            self.other_name = self.other.card.name
        if self.other.card.latent != ctx.generator.card.latent:
            raise InputError(f"{self.other_name} takes latents ({self.other.card.latent.describe()}) but "
                             f"{ctx.generator.card.name} takes ({ctx.generator.card.latent.describe()}); "
                             "LPIPS between them needs identical latents")
        self.net = LpipsNet(self.net_name, self._device or ctx.device, self.weights, self.pnet_rand)
        self.dists: list[torch.Tensor] = []
        self.truncation = (ctx.config.truncation_psi, ctx.config.truncation_cutoff)
        # the other model renders as the run's model does (its random draws follow the harness's seeded stream)
        self._other_was_deterministic = self.other.deterministic
        self.other.set_deterministic(ctx.rendering == "deterministic")

    def extract(self, request: SampleRequest, batch: SampleBatch) -> torch.Tensor:
        """LPIPS ``[B]`` between this model's images and the other model's on the same inputs."""
        G2 = self.other
        cfg_psi, cfg_cut = self.truncation
        cam = batch.camera.to(G2.device)
        cond = cam if request.conditioning == "same" else G2.default_camera().expand(len(cam))
        with torch.inference_mode():
            img2 = G2(batch.z.to(G2.device), cam, conditioning=cond, truncation_psi=cfg_psi,
                      truncation_cutoff=cfg_cut).image
        if img2.shape[-2:] != batch.images.shape[-2:]:
            img2 = F.interpolate(img2.float(), size=batch.images.shape[-2:], mode="bilinear", antialias=True,
                                 align_corners=False)
        return self.net(batch.images, img2.to(batch.images.device)).cpu()

    def update(self, request: SampleRequest, dists: torch.Tensor) -> None:
        self.dists.append(dists)

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        self.other.set_deterministic(self._other_was_deterministic)
        d = torch.cat(self.dists).double() if self.dists else torch.zeros(0, dtype=torch.float64)
        proto = ctx.protocol("lpips_pair", self.request, backbone=self.net.name, backbone_sha256=self.net.sha256,
                             options={"other_model": self.other_name})
        return [MetricResult(name="lpips_pair", value=float(d.mean()) if len(d) else float("nan"),
                             spread=float(d.std(unbiased=False)) if len(d) else None, spread_kind="std", n=len(d),
                             protocol=proto, details={"other_model": self.other_name})]


class LpipsDiversityEvaluator(Evaluator):
    """Mean LPIPS between the images of latents ``2k`` and ``2k+1`` (same camera; frontal by default)."""

    name = "lpips_diversity"

    def __init__(self, num: int | None = None, cameras: _Dist | None = None, net: str = "alex",
                 weights: str | None = None, pnet_rand: bool = False, device: str | torch.device | None = None):
        self.num, self.cameras = num, cameras or FixedCameras()
        self.net_name, self.weights, self.pnet_rand, self._device = net, weights, pnet_rand, device

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        num = self.num or ctx.config.num
        self.request = ctx.request(max(2, num - num % 2), 1, self.cameras)
        return [self.request]

    def begin(self, ctx: EvalContext) -> None:
        self.net = LpipsNet(self.net_name, self._device or ctx.device, self.weights, self.pnet_rand)
        self.dists: list[torch.Tensor] = []
        self.carry: torch.Tensor | None = None

    def extract(self, request: SampleRequest, batch: SampleBatch) -> torch.Tensor | SampleBatch:
        """The pairs' distances ``[B/2]`` when the batch holds whole pairs; else the batch itself (its
        pairs straddle batches: an odd ``batch_size``), to be paired in :meth:`update`."""
        first = int(batch.latent_index[0]) if len(batch) else 0
        if len(batch) % 2 or first % 2:
            return batch
        return self.net(batch.images[0::2], batch.images[1::2]).cpu()

    def update(self, request: SampleRequest, extracted: torch.Tensor | SampleBatch) -> None:
        if isinstance(extracted, torch.Tensor):  # whole pairs, already measured
            self.dists.append(extracted)
            return
        imgs = extracted.images
        if self.carry is not None:
            imgs = torch.cat([self.carry.to(imgs.device), imgs])
        n = len(imgs) - len(imgs) % 2
        self.carry = imgs[n:] if n < len(imgs) else None
        if n:
            self.dists.append(self.net(imgs[0:n:2], imgs[1:n:2]).cpu())

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        d = torch.cat(self.dists).double() if self.dists else torch.zeros(0, dtype=torch.float64)
        proto = ctx.protocol("lpips_diversity", self.request, backbone=self.net.name, backbone_sha256=self.net.sha256)
        return [MetricResult(name="lpips_diversity", value=float(d.mean()) if len(d) else float("nan"),
                             spread=float(d.std(unbiased=False)) if len(d) else None, spread_kind="std", n=len(d),
                             protocol=proto)]
