"""The training config (``gan3d train CONFIG``): a pydantic model read from TOML or YAML.

Everything is checked before any work starts, and every problem is named in one error: the fields'
types, the method (a registered trainer), the preset, the method's own ``options`` (validated with its
options model after merging ``preset < config``, so the messages use the method's field names), the
data (it exists and suits the method, e.g. EG3D needs camera labels), the metrics and the output folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Collection, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import Gan3dError, InputError

# Keys of a preset that are TrainConfig fields rather than method options.
PRESET_CONFIG_KEYS = ("batch", "kimg")
# A method option's string value ``run:NAME`` stands for the newest run NAME's latest snapshot (its generator).
RUN_PREFIX = "run:"


class TrainConfig(BaseModel):
    """One training run. ``batch`` and ``kimg`` may come from the preset; ``options`` are the method's."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(description="a registered trainer (`gan3d train --list`)")
    preset: str | None = Field(None, description="named defaults of the method's options (and of batch/kimg)")
    data: str = Field(description="EG3D zip or folder, image folder, or synth:num=...,res=...,seed=...")
    xflip: bool = Field(False, description="add mirrored copies of the images (and of their cameras)")
    batch: int | None = Field(None, ge=1, description="global batch: images per iteration, all processes together")
    batch_gpu: int | None = Field(None, ge=1, description="images per forward pass (gradient accumulation); "
                                                          "default batch / processes")
    kimg: float | None = Field(None, gt=0, description="train until this many thousand real images were shown")
    tick_kimg: float = Field(4.0, gt=0, description="kimg between log records (a tick)")
    snap_ticks: int | None = Field(None, ge=1, description="ticks between snapshots (default 50 unless snap_kimg)")
    snap_kimg: float | None = Field(None, gt=0, description="kimg between snapshots (instead of snap_ticks)")
    image_ticks: int | None = Field(None, ge=1, description="ticks between extra image grids (grids are always "
                                                            "written at the start and at every snapshot)")
    grid_seeds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: list(range(4)), min_length=1,
                                  description="latent seeds of the image grid (the same at every snapshot)")
    grid_yaws: list[float] = Field(default_factory=lambda: [-0.5, -0.25, 0.0, 0.25, 0.5], min_length=1,
                                   description="camera yaws (radians) of the grid's columns")
    metrics: list[str] = Field(default_factory=list, description="evaluators to run on the EMA generator")
    metric_snaps: int = Field(1, ge=1, description="measure the metrics at every N-th snapshot (and the last)")
    metric_num: int = Field(1000, ge=1, description="samples per metric")
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metric_cameras: Literal["gaussian", "dataset", "frontal"] | None = Field(
        None, description="camera distribution of the metrics' samples (default: the reference's camera labels "
                          "when the training data has labels, else gaussian)")
    reference: str | None = Field(None, description="reference images for fid (default: the training data)")
    store: str | None = Field(None, description="results store (default: RUN_DIR/gan3d-results.sqlite)")
    seed: int = Field(0, ge=0)
    out: str = Field("training-runs", description="folder under which each run gets its own folder")
    name: str | None = Field(None, description="the run folder's description (default method-preset)")
    device: str = Field("auto", description="cpu, cuda, cuda:N or auto")
    deterministic: bool = Field(False, description="deterministic kernels: a resumed run ends with the same "
                                                   "weights as an uninterrupted one")
    num_workers: int = Field(2, ge=0, description="data loader processes per training process")
    options: dict[str, Any] = Field(default_factory=dict, description="the method's hyper-parameters")

    @model_validator(mode="after")
    def _one_snapshot_interval(self) -> "TrainConfig":
        if self.snap_ticks is not None and self.snap_kimg is not None:
            raise ValueError("give snap_ticks or snap_kimg, not both")
        return self


class ResolvedConfig(BaseModel):
    """A checked config with the preset merged in: what a run folder records and the loop runs."""

    model_config = ConfigDict(extra="forbid")

    config: TrainConfig
    batch: int
    kimg: float
    options: dict[str, Any]


def merged_options(preset: dict, data: dict) -> dict:
    """A preset's method options (its ``batch``/``kimg`` are config fields) with the config's own on top."""
    merged = {k: v for k, v in preset.items() if k not in PRESET_CONFIG_KEYS}
    merged.update(data.get("options") or {})
    return merged


def config_run_name(data: dict) -> str:
    """What a config's run folder is called after its number (``NNNNN-<this>``): ``name``, else
    ``method-preset`` (``method-custom`` without a preset)."""
    return data.get("name") or f"{data.get('method')}-{data.get('preset') or 'custom'}"


def run_reference(value: Any) -> str | None:
    """NAME of an option value ``"run:NAME"``; None for any other value."""
    if isinstance(value, str) and value.startswith(RUN_PREFIX):
        return value[len(RUN_PREFIX):].strip()
    return None


def run_references(data: dict) -> dict[str, str]:
    """``{option: NAME}`` for the ``run:NAME`` values among a raw config's method options, the preset's
    included (an unknown method or preset contributes nothing: :func:`resolve_config` reports it)."""
    from ..registry import trainer_entry

    preset: dict = {}
    if isinstance(data.get("method"), str) and isinstance(data.get("preset"), str):
        try:
            preset = dict(trainer_entry(data["method"]).presets.get(data["preset"], {}))
        except Gan3dError:
            pass
    merged = merged_options(preset, data)
    return {k: name for k, v in merged.items() if (name := run_reference(v)) is not None}


def find_run_generator(out: str | os.PathLike, name: str) -> Path | None:
    """``<run>/snapshots/<latest>/generator`` of the newest run folder ``out/NNNNN-name`` that has a complete
    snapshot, as an absolute path (so a run resumed from another working directory finds it), or None."""
    from .snapshot import GENERATOR, latest_snapshot, runs_named

    for run in runs_named(Path(out).expanduser(), name):
        snap = latest_snapshot(run)
        if snap is not None:
            return (snap / GENERATOR).resolve()
    return None


def names_run(value: Any, path: Any) -> bool:
    """Whether the option value ``run:NAME`` and the recorded ``path`` agree: ``path`` is the generator of a
    snapshot of a run folder ``NNNNN-NAME`` (what :func:`resolve_config` made of the reference, maybe when
    another run NAME was the newest)."""
    from .snapshot import GENERATOR, SNAPSHOTS, safe_run_name

    name = run_reference(value)
    if not name or not isinstance(path, str):
        return False
    parts = Path(path).parts
    if len(parts) < 4 or parts[-1] != GENERATOR or parts[-3] != SNAPSHOTS:
        return False
    m = re.match(r"^\d+-(.+)$", parts[-4])
    return m is not None and m.group(1) == safe_run_name(name)


def _resolve_runs(options: dict, out: Path, defer: bool | Collection[str]) -> tuple[list[tuple[str, str]], bool]:
    """Replace the ``run:NAME`` values of ``options`` (in place) by their generator folders.

    Returns the problems and whether a reference was left as written because ``defer`` (True: all of them,
    else a collection of NAMEs) asked for it, e.g. ``gan3d reproduce``'s names that an earlier recipe trains.
    """
    from .snapshot import safe_run_name

    problems, deferred = [], False
    for key, value in options.items():
        name = run_reference(value)
        if name is None:
            continue
        if not name:
            problems.append((f"options.{key}", f"{value!r} names no run; write run:NAME, NAME being the `name` "
                                               f"of the training config whose run to use"))
        elif defer is True or (defer is not False and name in defer):
            deferred = True
        elif (generator := find_run_generator(out, name)) is not None:
            options[key] = str(generator)
        else:
            problems.append((f"options.{key}", f"{value!r}: no run folder NNNNN-{safe_run_name(name)} with a "
                                               f"complete snapshot in {str(out)!r}; train the recipe whose name "
                                               f"is {name!r} first (with the same out), or give the generator "
                                               f"folder's path instead"))
    return problems, deferred


def load_train_config(path: str | os.PathLike) -> dict:
    """The raw mapping of a TOML or YAML training config (validate it with :func:`resolve_config`)."""
    from ..runs import read_config_file

    return read_config_file(path, "training config")


def resolve_config(data: dict, source: str = "training config", check_output: bool = True,
                   check_data: bool = True, defer_runs: bool | Collection[str] = False) -> ResolvedConfig:
    """Check ``data`` completely and merge the preset; one :class:`InputError` names every problem.

    ``check_data`` opens the data set (a ``synth:`` spec builds the synthetic world into the cache once)
    to ask the method whether it suits it; ``check_output`` tries to create the output folder.
    A method option's string value ``run:NAME`` (after the preset is merged) becomes the generator folder of
    the latest snapshot of the newest run ``NNNNN-NAME`` under ``out`` (see :func:`find_run_generator`), so
    the resolved config (what ``train-config.json`` records, and a resumed run reuses) holds that path.
    ``defer_runs`` (True, or a collection of NAMEs) leaves such references as written and skips the
    method's own data check, which may need the run (``gan3d reproduce`` trains those runs first).
    """
    problems: list[tuple[str, str]] = []
    cfg = None
    try:
        cfg = TrainConfig(**data)
    except ValidationError as e:
        problems += [(".".join(str(x) for x in err["loc"]) or "(top level)", err["msg"]) for err in e.errors()]
    bad = {p[0].split(".")[0] for p in problems}
    entry = None
    method = data.get("method")
    if isinstance(method, str):
        from ..registry import trainer_entry

        try:
            entry = trainer_entry(method)
        except Gan3dError as e:
            problems.append(("method", str(e)))
    preset: dict = {}
    if entry is not None and data.get("preset") is not None and "preset" not in bad:
        if data["preset"] not in entry.presets:
            problems.append(("preset", f"{method!r} has no preset {data['preset']!r}; its presets: "
                                       f"{', '.join(sorted(entry.presets)) or 'none'}"))
            bad.add("preset")
        else:
            preset = dict(entry.presets[data["preset"]])
    batch = data.get("batch", preset.get("batch"))
    kimg = data.get("kimg", preset.get("kimg"))
    if "batch" not in bad and batch is None:
        problems.append(("batch", "missing: give batch (the global batch size) or a preset that sets it"))
    if "kimg" not in bad and kimg is None:
        problems.append(("kimg", "missing: give kimg (the training length) or a preset that sets it"))
    options: dict = {}
    if entry is not None and "options" not in bad and "preset" not in bad:
        merged = merged_options(preset, data)
        if "out" not in bad:
            found, deferred = _resolve_runs(merged, Path(data.get("out", "training-runs")).expanduser(), defer_runs)
            problems += found
            if found or deferred:
                bad.add("runs")
        try:
            options = entry.options(**merged).model_dump(mode="json")
        except ValidationError as e:
            problems += [("options." + ".".join(str(x) for x in err["loc"]), err["msg"]) for err in e.errors()]
            bad.add("options")
    if data.get("device", "auto") != "auto" and "device" not in bad:
        from ..registry import check_device

        try:
            check_device(data["device"])
        except Gan3dError as e:
            problems.append(("device", str(e)))
    if cfg is not None and isinstance(batch, int) and cfg.batch_gpu is not None and batch % cfg.batch_gpu:
        problems.append(("batch_gpu", f"must divide batch ({batch}); got {cfg.batch_gpu}"))
    dataset = None
    if check_data and "data" not in bad and isinstance(data.get("data"), str):
        if problems and _unbuilt_synth(data["data"]):
            # building the world can take minutes: say what is wrong first, build once the config is right
            problems.append(("data", f"not checked yet: {data['data']} is not built (it is built on the first "
                                     f"run); fix the problems above first"))
        else:
            found, dataset = _data_problems(data, entry, options if not {"options", "runs"} & bad else None)
            problems += found
    problems += _metric_problems(data, bad, dataset)
    if check_output and "out" not in bad:
        out = Path(data.get("out", "training-runs")).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
            if not os.access(out, os.W_OK):
                raise PermissionError("not writable")
        except OSError as e:
            problems.append(("out", f"cannot create or write the output folder {str(out)!r}: {e.strerror or e}"))
    if problems:
        lines = [f"{source} is invalid ({len(problems)} problem(s)):"] + [f"  {loc}: {msg}" for loc, msg in problems]
        raise InputError("\n".join(lines))
    assert cfg is not None
    return ResolvedConfig(config=cfg, batch=int(batch), kimg=float(kimg), options=options)


def _metric_problems(data: dict, bad: set[str], dataset) -> list[tuple[str, str]]:
    """Metrics, their options and the reference, checked as ``gan3d evaluate`` run configs check them.

    fid's reference defaults to the training data's file (checked when the data could be opened).
    """
    from ..registry import list_evaluators
    from ..runs import _semantic_problems

    metrics = data.get("metrics") or []
    if "metrics" in bad or not metrics or not isinstance(metrics, list):
        return []
    known = set(list_evaluators())
    unknown = [m for m in metrics if m not in known]
    if unknown:
        return [("metrics", f"unknown metric(s) {unknown}; available: {sorted(known) or 'none installed'}")]
    sub = {"metrics": metrics, "metric_options": data.get("metric_options") or {}}
    reference = data.get("reference") or reference_of(dataset)
    if reference is None and "fid" in metrics and "ref" not in sub["metric_options"].get("fid", {}):
        if dataset is None:
            return []  # the data could not be opened: already reported
        return [("reference", "fid needs reference images and the training data is not a file or folder; "
                              "give reference")]
    if reference is not None:
        sub["reference"] = str(reference)
    return _semantic_problems(sub, bad)


def reference_of(dataset) -> str | None:
    """The file or folder of an opened data set (fid's default reference), or None."""
    path = getattr(dataset, "path", None)
    return str(path) if path is not None and Path(path).exists() else None


def _unbuilt_synth(spec: str) -> bool:
    """Whether ``spec`` is a well-formed ``synth:`` spec whose world is not in the cache yet."""
    from ..data.datasets import parse_synth_spec, synth_path

    if not spec.startswith("synth:"):
        return False
    try:
        p = parse_synth_spec(spec)
    except Gan3dError:
        return False  # malformed: opening it reports why
    return not synth_path(p["num"], p["res"], p["seed"]).exists()


def _data_problems(data: dict, entry, options: dict | None) -> tuple[list[tuple[str, str]], Any]:
    """Open the data set and ask the method whether it suits it: ``(problems, dataset or None)``."""
    from ..data import open_dataset

    try:
        ds = open_dataset(data["data"], xflip=bool(data.get("xflip", False)))
    except Gan3dError as e:
        return [("data", str(e).splitlines()[0])], None
    except (OSError, ValueError) as e:
        return [("data", f"cannot read {data['data']!r}: {e}")], None
    if entry is None or options is None or entry.check_data is None:
        return [], ds
    issues = entry.check_data(entry.options(**options), ds.info()) or []
    return [("data", f"{msg} ({data['data']})") for msg in issues], ds
