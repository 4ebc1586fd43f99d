"""Evaluation runs: a typed config (TOML or YAML) and its resumable execution into the results store.

A run scores every listed model with every listed metric under one protocol and commits each
(model, metric) result to the store as soon as it is computed. Its ``run_id`` is a hash of the config,
so starting the same config again (after a crash, a kill -9, a reboot) skips what is stored and does
the rest.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError


class RunConfig(BaseModel):
    """What to evaluate and how. Unknown keys are errors (a typo must not silently change a protocol)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "run"
    models: list[str] = Field(min_length=1, description="registered names or checkpoint paths")
    metrics: list[str] = Field(min_length=1, description="evaluator names, see gan3d.list_evaluators()")
    num: int = Field(1000, ge=1, description="samples (latents) per model and metric")
    seed: int = Field(0, ge=0, description="first seed; latents use seeds seed .. seed+num-1")
    cameras: str = Field("gaussian", description="camera distribution: gaussian, dataset, frontal")
    truncation_psi: float = Field(1.0, ge=-1.0, le=2.0)
    truncation_cutoff: int | None = Field(None, ge=0)
    reference: str | None = Field(None, description="reference images (folder or EG3D dataset zip) for fid/kid")
    store: str = Field("gan3d-results.sqlite", description="results database")
    batch_size: int = Field(8, ge=1, description="renders per generator call (with random rendering it also "
                                                 "fixes which draws a latent gets, see gan3d.eval.harness)")
    rendering: Literal["default", "deterministic"] = Field(
        "default", description="'default': each model renders as its authors evaluate it; 'deterministic': "
                               "without random ray jitter or noise")
    resolution: int | None = Field(None, ge=8, le=4096, description="score every model at this image size "
                                   "(antialiased bilinear resize before each metric, recorded in the protocol), so "
                                   "models of different native sizes share leaderboard columns; None: native size")
    device: str = "auto"
    allow_random_weights: bool = Field(False, description="run models whose weights are missing with random "
                                                          "weights (labelled as such everywhere)")
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        from .registry import list_evaluators

        known = set(list_evaluators())
        bad = [m for m in v if m not in known]
        if bad:
            raise ValueError(f"unknown metric(s) {bad}; available: {sorted(known) or 'none installed'}")
        return v

    @field_validator("models")
    @classmethod
    def _known_models(cls, v: list[str]) -> list[str]:
        from .registry import list_models

        known = set(list_models())
        bad = [m for m in v if m not in known and not Path(m).exists()]
        if bad:
            raise ValueError(f"unknown model(s) or missing checkpoint(s) {bad}; see `gan3d models`")
        return v

    def run_id(self) -> str:
        """Stable hash of everything that shapes the numbers (not of where they are stored)."""
        payload = self.model_dump(exclude={"store", "device", "name"})
        if payload["rendering"] == "deterministic":
            del payload["batch_size"]  # only random rendering draws depend on the batch layout
        else:
            del payload["rendering"]
        if payload["resolution"] is None:
            del payload["resolution"]  # run ids from before the option stay the same
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def read_config_file(path: str | os.PathLike, what: str = "run config") -> dict:
    """The mapping in a TOML or YAML file (``what`` names the kind of config in errors)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {str(path)!r} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as e:
                raise InputError(f"{path}: not valid YAML: {e}") from None
        else:
            raise InputError(f"{what}s are .toml or .yaml files, got {path.name!r}")
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise InputError(f"{path}: not valid {path.suffix[1:].upper()}: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a {what} is a mapping of fields, got {type(data).__name__}")
    return data


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read a run config; every invalid field is named in one error, before any work starts."""
    return parse_config(read_config_file(path), str(path))


def parse_config(data: dict, source: str = "run config") -> RunConfig:
    """A :class:`RunConfig` from parsed TOML/YAML, or one :class:`InputError` naming every bad field.

    Beyond the types, everything that would otherwise fail later is tried now: the camera distribution,
    the device, the reference images, and each metric built with its options (so a misspelt option or
    a missing reference stops the run before any model is loaded or any row is written).
    """
    problems: list[tuple[str, str]] = []
    cfg = None
    try:
        cfg = RunConfig(**data)
    except ValidationError as e:
        problems += [(".".join(str(x) for x in err["loc"]) or "(top level)", err["msg"]) for err in e.errors()]
    problems += _semantic_problems(data, {p[0].split(".")[0] for p in problems})
    if problems:
        lines = [f"{source} is invalid ({len(problems)} problem(s)):"] + [f"  {loc}: {msg}" for loc, msg in problems]
        raise InputError("\n".join(lines)) from None
    return cfg


def _semantic_problems(data: dict, bad_fields: set[str]) -> list[tuple[str, str]]:
    """What the field types cannot tell: each check runs only on fields that parsed."""
    import torch

    from .errors import Gan3dError
    from .eval.cameras import camera_distribution
    from .eval.fid import ReferenceImageError, ReferenceImages
    from .eval.harness import EvalContext, HarnessConfig
    from .registry import check_device, evaluator_entry, list_evaluators

    out: list[tuple[str, str]] = []
    reference = data.get("reference")
    if reference is not None and "reference" not in bad_fields:
        try:
            ReferenceImages(reference)
        except Gan3dError as e:
            out.append(("reference", str(e).splitlines()[0]))
            bad_fields = bad_fields | {"reference"}
    cameras_need_reference = data.get("cameras") == "dataset"  # the labels come from the reference
    if cameras_need_reference and reference is None:  # the command line's flag would be the wrong advice here
        out.append(("cameras", 'cameras = "dataset" takes the cameras from the reference dataset\'s labels; set '
                               'reference = "PATH" (an EG3D dataset zip or folder with dataset.json)'))
    elif "cameras" not in bad_fields and not (cameras_need_reference and "reference" in bad_fields):
        try:
            camera_distribution(data.get("cameras", "gaussian"), reference)
        except Gan3dError as e:
            out.append(("cameras", str(e).splitlines()[0]))
    if "device" not in bad_fields and data.get("device", "auto") != "auto":
        try:
            check_device(data["device"])
        except Gan3dError as e:
            out.append(("device", str(e).splitlines()[0]))
    if "metrics" in bad_fields or "metric_options" in bad_fields:
        return out
    metrics = [m for m in data.get("metrics", []) if m in set(list_evaluators())]
    options = data.get("metric_options", {}) or {}
    for name in options:
        if name not in data.get("metrics", []):
            out.append((f"metric_options.{name}", f"options for a metric the run does not measure; add {name!r} "
                                                  f"to metrics or remove the section"))
    ctx = EvalContext(None, HarnessConfig(num=1, progress=False), torch.device("cpu"))
    for metric in metrics:
        opts = dict(options.get(metric, {}))
        ref_from_top = metric == "fid" and "ref" not in opts
        if ref_from_top and reference is not None:
            if "reference" in bad_fields:
                continue
            opts["ref"] = reference
        where = f"metric_options.{metric}"
        try:
            ev = evaluator_entry(metric).build(**opts)
            ev.requests(ctx)  # option values (cameras, num, ...) become sample requests here
        except ReferenceImageError as e:
            out.append(("reference" if ref_from_top else where, str(e).splitlines()[0]))
        except ValidationError as e:
            err = e.errors()[0]
            out.append((where, f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"))
        except (Gan3dError, TypeError, ValueError) as e:
            out.append((where, str(e).splitlines()[0]))
    return out


def _checkpoint_sha256(name_or_path: str, G) -> str | None:
    """sha256 of the weights a model was loaded from (None for random weights)."""
    from . import cache
    from .io import sha256_file
    from .registry import list_models, model_card

    if G.weights_note == "random weights":
        return None
    if name_or_path in list_models():
        digests = [cache.file_sha256(f.path) for f in cache.status(model_card(name_or_path)) if f.path]
        return ",".join(digests) or None
    path = Path(name_or_path)
    if path.is_file():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".sha256.json"))
    return hashlib.sha256("".join(sha256_file(p) for p in files).encode()).hexdigest() if files else None


def _weights_identity(model: str) -> str | None:
    """What the weights of ``model`` would be now, without loading it: file sha256s, or None if missing."""
    from . import cache
    from .io import sha256_file
    from .registry import list_models, model_card

    if model in list_models():
        files = cache.status(model_card(model))
        if not files:
            return ""  # weight-free model
        if any(f.path is None for f in files):
            return None
        return ",".join(cache.file_sha256(f.path) for f in files)
    path = Path(model)
    return sha256_file(path) if path.is_file() else _checkpoint_sha256(model, _NoWeights())


class _NoWeights:
    weights_note = ""


def _load_for_run(model: str, cfg: RunConfig):
    from .errors import WeightsNotFoundError
    from .registry import load

    try:
        return load(model, device="cpu")
    except WeightsNotFoundError as e:
        if not cfg.allow_random_weights:
            raise
        print(f"\n*** {model}: official weights not available -> RANDOM WEIGHTS (numbers are not meaningful)\n"
              f"    {str(e).splitlines()[0]}\n")
        return load(model, device="cpu", weights="random")


def init_distributed(device: str) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes (gloo on CPU, NCCL on GPU); ``(rank, world)``."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and device != "cpu"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # rank 0 scores a finished metric (FID's first pass over the reference images can take long) while
        # the others wait at the next gather: give collectives hours, not the 10-minute default
        dist.init_process_group(backend="nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=6))
    return dist.get_rank(), dist.get_world_size()


def execute(cfg: RunConfig, progress: bool = True, kimg: float | None = None) -> list:
    """Run ``cfg`` into its store; what is already stored for this config is skipped (resume).

    Each model's metrics share one pass of the harness (samples are produced once); a metric's rows are
    committed as soon as the metric is complete, before the rest of the pass. Returns the run's stored
    results.

    Under ``torchrun``, every process renders a share of the samples and extracts their features; rank
    0 decides what is left to do, gathers the features, scores them and alone writes to the store
    (each row's details name how many renders each process contributed).

    ``kimg``: the models are a training run's snapshot at this progress (stored with each result).
    """
    import torch

    from .eval.cameras import camera_distribution
    from .eval.harness import HarnessConfig, evaluate, resolve_device
    from .registry import evaluator_entry
    from .store import ResultStore, StoredResult

    rank, world = init_distributed(cfg.device)
    run_id = cfg.run_id()
    harness_cfg = HarnessConfig(num=cfg.num, seed=cfg.seed, cameras=camera_distribution(cfg.cameras, cfg.reference),
                                truncation_psi=cfg.truncation_psi, truncation_cutoff=cfg.truncation_cutoff,
                                batch_size=cfg.batch_size, device=cfg.device, progress=progress,
                                rendering=cfg.rendering, resolution=cfg.resolution)
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    with ResultStore(cfg.store) as store:
        if rank == 0:
            store.add_run(run_id, cfg.name, cfg.model_dump())
        for model in cfg.models:
            todo = None
            if rank == 0:
                stored = store.model_weights(run_id, model)
                if stored is not None:
                    sha, note = stored
                    now = _weights_identity(model)
                    random_now = now is None  # weights missing: the run would use random ones again
                    if (note == "random weights") != random_now or (not random_now and (sha or "") != now):
                        print(f"{model}: its weights changed since the stored results; measuring again")
                        store.forget(run_id, model)
                todo = [m for m in cfg.metrics if (model, m) not in store.done(run_id)]
            if world > 1:  # every process must walk the same models and metrics
                box = [todo]
                torch.distributed.broadcast_object_list(box, src=0)
                todo = box[0]
            if not todo:
                if rank == 0:
                    print(f"{model}: {', '.join(cfg.metrics)} already stored for run {run_id}; skipped")
                continue
            G = _load_for_run(model, cfg).to(device)
            if rank == 0:
                store.add_model(run_id, model, G.card.name, G.card.dataset, _checkpoint_sha256(model, G),
                                G.weights_note)
            evaluators = {}
            for metric in todo:
                opts = dict(cfg.metric_options.get(metric, {}))
                if metric == "fid" and cfg.reference and "ref" not in opts:
                    opts["ref"] = cfg.reference
                evaluators[metric] = evaluator_entry(metric).build(**opts)
            metric_of = {id(ev): metric for metric, ev in evaluators.items()}

            def commit(ev, results, model=model, G=G):
                # an evaluator's results (fid: fid and kid) share its protocol and are committed together,
                # so a resumed run never finds half of them
                store.add_results([StoredResult(
                    run_id=run_id, model=model, metric=r.name, evaluator=metric_of[id(ev)],
                    value=r.value, spread=r.spread, n=r.n, protocol_hash=r.protocol_hash,
                    protocol=r.protocol.model_dump(mode="json"), dataset=G.card.dataset, seconds=r.seconds,
                    extra={"details": r.details, "spread_kind": r.spread_kind}, kimg=kimg) for r in results])

            evaluate(G, list(evaluators.values()), harness_cfg.model_copy(update={"device": str(device)}),
                     model=model, on_results=commit)
            del G
        return store.results(run_id)

