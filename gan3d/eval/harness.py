"""The evaluation harness: samples are produced once and streamed in batches to every evaluator.

An :class:`Evaluator` declares what it needs as :class:`SampleRequest` s: ``num`` latents, each rendered
``views`` times from cameras of a distribution (``views=1``: images at cameras drawn from a distribution,
which also serve as (image, requested camera) pairs; ``views=2``: pairs of views of one latent;
``views=F`` with a fixed list of ``F`` poses: a frame sweep). Requests that agree on everything but
``num`` are produced once, for the largest ``num``, and each evaluator sees the prefix it asked for.

Latent ``i`` of a request uses seed ``seed + i`` (:func:`gan3d.sample_latents`); view ``v`` of latent
``i`` uses camera sample ``i * views + v`` of the distribution, drawn with ``camera_seed``.

Models whose rendering is random (EG3D's ray jitter) draw from torch's RNG. The harness seeds it for
each batch from the run's seed, the request and the batch's first latent, and always renders whole
batches (padding the last one with further latents, then dropping them). A latent's render therefore
depends on the seed, the request and ``batch_size`` only: not on which other metrics share the pass,
on ``num``, or on which process renders it. ``batch_size`` is written into such results' details.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from ..camera import Camera
from ..errors import InputError
from ..generator import Generator
from ..images import SHARED_RESIZE, resize_images
from ..latents import sample_latents
from ..outputs import GeneratorOutput
from .cameras import CameraDistribution, GaussianCameras, _Dist
from .protocol import MetricResult, Protocol


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return default_device()
    from ..registry import check_device

    return torch.device(check_device(device))


class SampleRequest(BaseModel):
    """``num`` latents, each rendered ``views`` times; ``cameras=None`` means the run's distribution."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    num: int = Field(ge=1)
    views: int = Field(1, ge=1)
    cameras: CameraDistribution | None = None
    conditioning: Literal["frontal", "same"] = "frontal"

    def resolved(self, default: _Dist) -> "SampleRequest":
        return self if self.cameras is not None else self.model_copy(update={"cameras": default})

    def seed_key(self) -> str:
        """What the samples are, as the protocol describes it (``num`` excluded; no local paths)."""
        import json

        cams = self.cameras.describe() if self.cameras is not None else None
        return json.dumps({"views": self.views, "cameras": cams, "conditioning": self.conditioning}, sort_keys=True)

    def group_key(self) -> str:
        """Requests with the same key share their samples (``num`` excluded)."""
        import json

        key = json.loads(self.seed_key())
        if self.cameras is not None and getattr(self.cameras, "path", None):  # same labels, read from one place
            key["path"] = str(self.cameras.path)
        return json.dumps(key, sort_keys=True)


@dataclass
class SampleBatch:
    """One batch of samples; every view of a latent is in the same batch, latent-major.

    images: ``[B,3,H,W]`` in ``[-1,1]`` (on the generator's device); z: ``[B,D]``; seeds,
    latent_index, view: ``[B]`` int64; yaw, pitch: ``[B]`` requested angles (radians, Camera
    convention); camera: the ``B`` rendering cameras; output: the full generator output.
    """

    images: torch.Tensor
    z: torch.Tensor
    seeds: torch.Tensor
    latent_index: torch.Tensor
    view: torch.Tensor
    yaw: torch.Tensor
    pitch: torch.Tensor
    camera: Camera
    output: GeneratorOutput | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def select(self, mask: torch.Tensor) -> "SampleBatch":
        """Rows where ``mask [B]`` (bool) is true."""
        idx = torch.nonzero(mask.cpu(), as_tuple=False).reshape(-1)
        dev_idx = idx.to(self.images.device)
        return SampleBatch(self.images[dev_idx], self.z[dev_idx], self.seeds[idx], self.latent_index[idx],
                           self.view[idx], self.yaw[idx], self.pitch[idx], self.camera[dev_idx],
                           None if self.output is None else self.output[dev_idx])


class HarnessConfig(BaseModel):
    """Shared settings of one evaluation: sample count, seeds, cameras, truncation, batching, device."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    num: int = Field(1000, ge=1, description="default number of latents per metric")
    seed: int = Field(0, ge=0, description="latent i uses seed seed+i")
    camera_seed: int = Field(0, ge=0)
    cameras: CameraDistribution = Field(default_factory=GaussianCameras)
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    batch_size: int = Field(8, ge=1)
    device: str = "auto"
    progress: bool = True
    resolution: int | None = Field(None, ge=8, le=4096, description="resize every image to this size "
                                   "(gan3d.images.resize_images) before any metric, so that models of different "
                                   "native sizes are scored alike; None: each model's own size")
    rendering: Literal["default", "deterministic"] | None = Field(
        None, description="'default': each model renders as its authors evaluate it (random ray jitter "
                          "included); 'deterministic': every model in its deterministic form; None: as the "
                          "generator is set (G.set_deterministic)")


@dataclass
class EvalContext:
    """What evaluators see of the run: the generator, the config and helpers to build protocols."""

    generator: Generator
    config: HarnessConfig
    device: torch.device
    resolution: int | None = None

    @property
    def rendering(self) -> str:
        """``"deterministic"`` or ``"default"``: how the run's models render (other models too, e.g. lpips_pair's)."""
        if self.config.rendering is not None:
            return self.config.rendering
        return "deterministic" if self.generator is not None and self.generator.deterministic else "default"

    def request(self, num: int | None = None, views: int = 1, cameras: _Dist | None = None,
                conditioning: str = "frontal") -> SampleRequest:
        """A request with the run's defaults filled in."""
        return SampleRequest(num=num or self.config.num, views=views, cameras=cameras or self.config.cameras,
                             conditioning=conditioning)

    def protocol(self, metric: str, request: SampleRequest, **fields: Any) -> Protocol:
        """The protocol of ``metric`` measured on ``request``'s samples; ``fields`` add backbone etc."""
        cfg = self.config
        cams = request.cameras or cfg.cameras
        seeds = f"{cfg.seed}-{cfg.seed + request.num - 1}"
        return Protocol(metric=metric, num_samples=request.num, views_per_sample=request.views, seeds=seeds,
                        camera_seed=cfg.camera_seed if cams.random else None, cameras=cams.describe(),
                        conditioning=request.conditioning, truncation_psi=float(cfg.truncation_psi),
                        truncation_cutoff=cfg.truncation_cutoff,
                        resolution=cfg.resolution if cfg.resolution is not None else self.resolution,
                        image_resize=SHARED_RESIZE if cfg.resolution is not None else "",
                        rendering=self.rendering, **fields)


class MetricNotApplicable(InputError):
    """A metric was asked of a model it does not apply to (e.g. a multi-view metric of a 2D GAN)."""


class Evaluator:
    """Base class of evaluators.

    Subclasses set ``name``, return their :class:`SampleRequest` s from :meth:`requests`, turn each
    batch into what they keep in :meth:`extract` (features, distances, landmarks), collect that in
    :meth:`update` and return :class:`MetricResult` s from :meth:`finalize`. An evaluator needing no
    generated samples returns no requests.

    Under ``torch.distributed``, :meth:`begin` and :meth:`extract` run in every process on the batches
    it rendered; what ``extract`` returns (picklable, on the CPU) is gathered to rank 0, which alone calls
    :meth:`update` (in batch order) and :meth:`finalize`. The default ``extract`` passes the batch on
    (then its images cross processes).
    """

    name: str = "evaluator"
    # True for metrics that compare a latent across camera views (identity, pose, expression along a sweep):
    # they do not apply to generators whose ``is_3d`` is False (2D GANs such as StyleGAN2 teachers)
    needs_views: bool = False

    def requests(self, ctx: EvalContext) -> list[SampleRequest]:
        raise NotImplementedError

    def begin(self, ctx: EvalContext) -> None:
        """Called once before any batch (load networks, reference statistics)."""

    def extract(self, request: SampleRequest, batch: SampleBatch) -> Any:
        """What to keep of one batch (runs in the process that rendered it)."""
        return batch

    def update(self, request: SampleRequest, extracted: Any) -> None:
        """Collect what :meth:`extract` returned for one batch."""
        raise NotImplementedError

    def finalize(self, ctx: EvalContext) -> list[MetricResult]:
        raise NotImplementedError


@dataclass
class HarnessReport:
    """Results and timings of one :func:`evaluate` call (seconds; ``images`` is renders produced).

    ``evaluator_seconds`` counts batches and finalisation; ``setup_seconds`` the loading in ``begin``.
    """

    results: list[MetricResult]
    generator_seconds: float = 0.0
    images: int = 0
    evaluator_seconds: dict[str, float] = field(default_factory=dict)
    evaluator_images: dict[str, int] = field(default_factory=dict)
    setup_seconds: dict[str, float] = field(default_factory=dict)
    images_by_rank: list[int] = field(default_factory=list)  # renders each process contributed


def _dist() -> tuple[int, int]:
    """``(rank, world_size)`` of an initialised torch.distributed group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _batch_seed(cfg: "HarnessConfig", group_key: str, first_latent: int) -> int:
    """torch seed of the batch starting at ``first_latent`` of the request ``group_key``."""
    digest = hashlib.sha256(f"{cfg.seed}|{group_key}|{first_latent}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _to_cpu(batch: "SampleBatch") -> "SampleBatch":
    return SampleBatch(batch.images.cpu(), batch.z.cpu(), batch.seeds, batch.latent_index, batch.view, batch.yaw,
                       batch.pitch, batch.camera.to("cpu"), None if batch.output is None else batch.output.to("cpu"))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generate_batch(G: Generator, request: SampleRequest, latent_ids: np.ndarray, cfg: HarnessConfig,
                   chunk: int) -> SampleBatch:
    """Render every view of latents ``latent_ids`` (``[L]`` indices within the request)."""
    views = request.views
    seeds = [cfg.seed + int(i) for i in latent_ids]
    z = sample_latents(G, seeds).z
    sample_ids = (latent_ids[:, None] * views + np.arange(views)[None]).reshape(-1)
    camera, yaw, pitch = request.cameras.sample(sample_ids, cfg.camera_seed, G.card.camera)
    camera = camera.to(G.device)
    z = z.repeat_interleave(views, 0)
    outs = []
    with torch.inference_mode():
        for s in range(0, len(z), chunk):
            cam = camera[s:s + chunk]
            cond = cam if request.conditioning == "same" else G.default_camera().expand(len(cam))
            outs.append(G(z[s:s + chunk], cam, conditioning=cond, truncation_psi=cfg.truncation_psi,
                          truncation_cutoff=cfg.truncation_cutoff).detach())
    out = outs[0] if len(outs) == 1 else GeneratorOutput.cat(outs)
    return SampleBatch(images=out.image, z=z, seeds=torch.as_tensor(seeds).repeat_interleave(views),
                       latent_index=torch.as_tensor(latent_ids).repeat_interleave(views),
                       view=torch.arange(views).repeat(len(latent_ids)), yaw=yaw, pitch=pitch, camera=camera,
                       output=out)


def evaluate(G: Generator, evaluators: Sequence[Evaluator], config: HarnessConfig | None = None,
             model: str | None = None,
             on_results: Callable[[Evaluator, list[MetricResult]], None] | None = None) -> HarnessReport:
    """Produce every requested sample once, stream it to the evaluators, collect their results.

    ``model`` (default: the card's name) is written into each result.

    Under ``torch.distributed`` (e.g. ``torchrun``), batches are rendered round-robin by the processes,
    each extracts the evaluators' features from its own batches, and the features are gathered on
    rank 0, which alone finalises and returns results (other ranks return a report without results).

    ``on_results(evaluator, results)`` is called (on rank 0) as soon as an evaluator is complete, which
    is when the last request group it takes samples from has been rendered: a caller can commit those
    results before the rest of the pass. Batches seed torch's RNG from their first latent (see the module docstring), so the
    numbers equal a single-process run's for the same seeds.

    ``config.rendering`` puts the generator in its default or deterministic form for the call (its own
    setting is restored afterwards); ``None`` keeps the generator's setting (and the protocol records it).
    """
    cfg = config or HarnessConfig()
    if not getattr(G, "is_3d", True):
        na = [ev.name for ev in evaluators if ev.needs_views]
        if na:
            reason = getattr(G, "not_3d_reason", "it is not a 3D-aware generator")
            raise MetricNotApplicable(f"{', '.join(na)}: n/a for {G.card.name}: {reason}; measure it with fid, "
                                      f"lpips_pair or lpips_diversity")
    device = resolve_device(cfg.device)
    if G.device != device and any(True for _ in G.parameters()):
        G = G.to(device)
    was_deterministic = G.deterministic
    if cfg.rendering is not None:
        G.set_deterministic(cfg.rendering == "deterministic")
    try:
        return _evaluate(G, evaluators, cfg, device, model, on_results)
    finally:
        G.set_deterministic(was_deterministic)


def _evaluate(G: Generator, evaluators: Sequence[Evaluator], cfg: HarnessConfig, device: torch.device,
              model: str | None, on_results: Callable[[Evaluator, list[MetricResult]], None] | None
              ) -> HarnessReport:
    random_rendering = G.stochastic and not G.deterministic
    ctx = EvalContext(G, cfg, device)
    # --- plan: group requests that can share samples
    groups: dict[str, dict[str, Any]] = {}
    for ev in evaluators:
        for req in ev.requests(ctx):
            req = req.resolved(cfg.cameras)
            g = groups.setdefault(req.group_key(), {"request": req, "subs": []})
            if req.num > g["request"].num:
                g["request"] = g["request"].model_copy(update={"num": req.num})
            g["subs"].append((ev, req))
    groups_of: dict[int, list[str]] = {}  # id(evaluator) -> its groups, in rendering order
    for key, g in groups.items():
        for ev, _ in g["subs"]:
            keys = groups_of.setdefault(id(ev), [])
            if key not in keys:
                keys.append(key)
    report = HarnessReport(results=[])
    timing = {ev.name: 0.0 for ev in evaluators}
    counts = {ev.name: 0 for ev in evaluators}
    rank, world = _dist()
    report.images_by_rank = [0] * world
    group_by_rank = {key: [0] * world for key in groups}
    for ev in evaluators:  # every process extracts features from what it renders, so every process sets up
        t = time.perf_counter()
        ev.begin(ctx)
        report.setup_seconds[ev.name] = time.perf_counter() - t

    def finish(ev: Evaluator) -> None:
        t = time.perf_counter()
        results = ev.finalize(ctx)
        timing[ev.name] += time.perf_counter() - t
        done = []
        for r in results:
            update: dict[str, Any] = {"model": model or G.card.name, "seconds": timing[ev.name]}
            details = dict(r.details)
            if random_rendering:  # what, besides the protocol, fixes this model's random draws
                details["batch_size"] = cfg.batch_size
            if world > 1:  # renders each process contributed to this evaluator's samples
                details["images_by_rank"] = [sum(group_by_rank[k][i] for k in groups_of.get(id(ev), []))
                                             for i in range(world)]
            update["details"] = details
            done.append(r.model_copy(update=update))
        report.results += done
        if on_results is not None:
            on_results(ev, done)

    for ev in evaluators:  # evaluators without samples (none requested) are done before any rendering
        if id(ev) not in groups_of and rank == 0:
            finish(ev)
    for key, g in groups.items():
        req: SampleRequest = g["request"]
        latents_per_batch = max(1, cfg.batch_size // req.views)
        names = ",".join(dict.fromkeys(ev.name for ev, _ in g["subs"]))
        bar = tqdm(total=req.num, desc=f"{names} ({req.views} view{'s' if req.views > 1 else ''}/latent)",
                   unit="latent", disable=not cfg.progress or rank != 0)
        starts = list(range(0, req.num, latents_per_batch))
        for round_start in range(0, len(starts), world):
            mine = round_start + rank  # this process renders batch `mine` of the round
            payload = None
            if mine < len(starts):
                start = starts[mine]
                # random rendering: whole batches, so the draws for a latent never depend on num
                end = start + latents_per_batch if random_rendering else min(req.num, start + latents_per_batch)
                # one seeded stream for rendering and extraction (lpips_pair renders a second model)
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    torch.manual_seed(_batch_seed(cfg, req.seed_key(), start))
                    _sync(device)
                    t = time.perf_counter()
                    batch = generate_batch(G, req, np.arange(start, end), cfg, cfg.batch_size)
                    if cfg.resolution is not None:  # the shared evaluation resolution: metrics see only this
                        batch.images = resize_images(batch.images, cfg.resolution)
                    _sync(device)
                    report.generator_seconds += time.perf_counter() - t
                    rendered = len(batch)
                    report.images += rendered
                    if ctx.resolution is None:
                        ctx.resolution = int(batch.images.shape[-1])
                    if end > req.num:
                        batch = batch.select(batch.latent_index < req.num)
                    payload = _extract(ctx, g, batch, timing, gathered=world > 1)
                    payload["images"] = rendered
            if world > 1:
                import torch.distributed as dist

                gathered = [None] * world if rank == 0 else None
                dist.gather_object(payload, gathered, dst=0)  # features, not images, cross processes
                if rank != 0:
                    continue
                payloads = [(r, p) for r, p in enumerate(gathered) if p is not None]
            else:
                payloads = [(0, payload)]
            for r, p in payloads:
                report.images_by_rank[r] += p["images"]
                group_by_rank[key][r] += p["images"]
                bar.update(_update(g, p, timing, counts))
        bar.close()
        if rank == 0:  # commit what is complete now: a later kill cannot take it
            for ev in {id(ev): ev for ev, _ in g["subs"]}.values():  # evaluators need not be hashable
                if groups_of[id(ev)][-1] == key:
                    finish(ev)
    report.evaluator_seconds = timing
    report.evaluator_images = counts
    return report


def _extract(ctx: EvalContext, group: dict, batch: SampleBatch, timing: dict, gathered: bool) -> dict:
    """What each evaluator of the group takes from one rendered batch (run where the batch was rendered).

    Each evaluator sees the prefix of latents it asked for. ``gathered``: the payload will cross
    processes, so it is moved to the CPU (a batch passed on whole loses its generator output).
    """
    ids = np.unique(batch.latent_index.numpy())
    items = []
    for i, (ev, sub) in enumerate(group["subs"]):
        if int(ids[0]) >= sub.num:
            continue
        part = batch if ids[-1] < sub.num else batch.select(batch.latent_index < sub.num)
        t = time.perf_counter()
        x = ev.extract(sub, part)
        _sync(ctx.device)
        timing[ev.name] += time.perf_counter() - t
        if gathered and isinstance(x, SampleBatch):
            x = _to_cpu(x)
            x.output = None
        items.append((i, len(part), x))
    return {"latents": len(ids), "images": len(batch), "items": items}


def _update(group: dict, payload: dict, timing: dict, counts: dict) -> int:
    """Hand a batch's extracted data to its evaluators, in batch order; returns the batch's latents."""
    for i, n, x in payload["items"]:
        ev, sub = group["subs"][i]
        t = time.perf_counter()
        ev.update(sub, x)
        timing[ev.name] += time.perf_counter() - t
        counts[ev.name] += n
    return payload["latents"]


def check_images(images: torch.Tensor) -> torch.Tensor:
    """Validate ``[B,3,H,W]`` images."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise InputError(f"images must have shape [B,3,H,W], got {list(images.shape)}")
    return images


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B,3,H,W]`` in ``[-1,1]`` -> ``[B,H,W,3]`` uint8 (EG3D's ``(x*127.5+128).clamp(0,255)``)."""
    check_images(images)
    x = (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()
