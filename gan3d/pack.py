"""Packing a trained snapshot for shipping inside a plugin (``gan3d weights pack``).

The packed folder is gan3d's safe form (:mod:`gan3d.pretrained`) plus ``reference.png``; its card says
where the model came from (the recipe, data, kimg, training time and machine, the FID the run measured at
that snapshot and its FID-by-kimg curve up to it, the other runs and registered models (with their
weights' sha256) its options named, e.g. a teacher: :class:`gan3d.cards.TrainingRecord`), whether it is
3D-aware, and how it is stored (:class:`gan3d.cards.PackedRecord`). Weights go in float16 when that is
lossless enough: the fixed reference views are rendered deterministically from the float32 snapshot and
from the packed float16 weights, and float16 is kept only when their PSNR and largest difference are
within the thresholds; otherwise the model is packed in float32 and the card says why. A packed folder
larger than the limit (~8 MB: a plugin's wheel must stay small) is an error, and nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cards import FidRecord, ModelCard, PackedRecord, ReferenceRender, RunInput, TrainingRecord, WeightFile
from .errors import InputError
from .images import save_png
from .io import sha256_file
from .pretrained import CONFIG, WEIGHTS
from .zoo import REFERENCE_PNG, psnr, reference_render, render_sha256, sanity

MAX_MB = 8.0
MIN_PSNR = 40.0   # dB between the float16 and float32 renders (images in [-1,1])
MAX_DIFF = 0.1    # largest pixel difference allowed on top (about 13 of 255 levels): no local artefacts


@dataclass(frozen=True)
class PackResult:
    folder: Path
    card: ModelCard
    bytes: int
    messages: tuple[str, ...]


def run_of(snapshot_generator: Path) -> tuple[Path, float, Path]:
    """The run folder, kimg and generator folder of ``RUN/snapshots/KIMG/generator`` (or of the snapshot
    folder ``RUN/snapshots/KIMG``), or an error naming what to give."""
    from .train.snapshot import CONFIG as RUN_CONFIG
    from .train.snapshot import GENERATOR, SNAPSHOTS

    gen = Path(snapshot_generator).expanduser()
    if gen.name != GENERATOR and (gen / GENERATOR).is_dir():
        gen = gen / GENERATOR
    run = gen.parent.parent.parent
    if gen.name != GENERATOR or gen.parent.parent.name != SNAPSHOTS or not (run / RUN_CONFIG).is_file():
        raise InputError(f"{str(snapshot_generator)!r} is not a snapshot of a training run; give "
                         f"RUN/snapshots/KIMG/generator (a folder `gan3d train` wrote)")
    if not (gen / CONFIG).is_file():
        raise InputError(f"{gen} has no {CONFIG}: the snapshot is incomplete")
    try:
        kimg = float(gen.parent.name)
    except ValueError:
        raise InputError(f"{gen.parent} is not named by its kimg (e.g. 000080.000)") from None
    return run, kimg, gen


def training_seconds(run: Path, kimg: float) -> float:
    """Wall seconds of training up to ``kimg``: each resumption restarts the log's clock, so the last time
    of every stretch is added."""
    from .train.logs import read_log

    total, last = 0.0, 0.0
    for rec in read_log(run):
        if rec.kimg > kimg + 1e-9:
            break
        if rec.time < last:  # a resumed stretch starts
            total += last
        last = rec.time
    return total + last


def training_record(run: Path, kimg: float, recipe: Path, machine: str | None) -> tuple[TrainingRecord, list[str]]:
    """What the run folder says about how the snapshot was trained; the recipe must be the run's config."""
    from .train.config import ResolvedConfig, load_train_config, names_run, resolve_config
    from .train.logs import metric_curve
    from .train.snapshot import CONFIG as RUN_CONFIG
    from .train.snapshot import MACHINE

    notes = []
    saved = ResolvedConfig.model_validate_json((run / RUN_CONFIG).read_text())
    if not Path(recipe).is_file():
        raise InputError(f"recipe {str(recipe)!r} does not exist; give the training config the run was started from")
    # a `run:NAME` option (a teacher, a stage-1 renderer) matches the run's recorded snapshot of run NAME
    given = resolve_config(load_train_config(recipe), str(recipe), check_output=False, check_data=False,
                           defer_runs=True)
    diff = [k for k in ("method", "data", "xflip", "seed") if getattr(given.config, k) != getattr(saved.config, k)]
    diff += ["batch"] if given.batch != saved.batch else []
    diff += [f"options.{k}" for k in sorted(set(given.options) | set(saved.options))
             if given.options.get(k) != saved.options.get(k)
             and not names_run(given.options.get(k), saved.options.get(k))]
    if diff:
        raise InputError(f"recipe {recipe} is not the config of run {run.name}: they differ in {', '.join(diff)}; "
                         f"give the recipe the run was trained from")
    machine_file = run / MACHINE
    if machine is None and machine_file.is_file():
        info = json.loads(machine_file.read_text())
        machine = info.get("machine")
        if machine and info.get("processes", 1) > 1:
            machine += f", {info['processes']} processes"
    if machine is None:
        from .train.snapshot import machine_description

        machine = machine_description() + " (the packing machine: the run folder does not record its own)"
        notes.append(f"the run folder has no machine.json; recorded this machine: {machine}")
    fid = None
    # one value per snapshot (a re-measured snapshot keeps its last), up to and including the shipped one
    curve = dict((k, v) for k, v in metric_curve(run, "fid") if k <= kimg + 1e-6)
    at = [v for k, v in curve.items() if abs(k - kimg) < 1e-6]
    if at:
        opts = saved.config.metric_options.get("fid", {})
        ref_num = opts.get("ref_num")
        reference = (f"the first {ref_num} images of " if ref_num else "") + (
            saved.config.reference or f"the training data ({saved.config.data})")
        fid = FidRecord(value=at[-1], kimg=kimg, network=str(opts.get("network", "NVIDIA Inception")),
                        num=saved.config.metric_num, reference=reference)
    else:
        notes.append(f"the run's results store has no FID at {kimg:g} kimg; the card records none")
    return TrainingRecord(recipe=repo_path(recipe), recipe_sha256=sha256_file(recipe), data=saved.config.data,
                          seed=saved.config.seed, batch=saved.batch, kimg=kimg, recipe_kimg=given.kimg,
                          seconds=round(training_seconds(run, kimg), 3), machine=machine, run=run.name,
                          fid=fid, curve=tuple(sorted(curve.items())), inputs=run_inputs(saved.options)), notes


def run_inputs(options: dict) -> tuple[RunInput, ...]:
    """The method options whose value is a snapshot of another training run (what ``run:NAME`` became) or
    the name of a registered model (a shipped teacher such as ``stylegan2/synth64``; a path that exists
    wins, as the trainers resolve it): the latter with its weights' sha256 and its own training run."""
    from .cache import weights_sha256
    from .registry import list_models, model_card

    found = []
    registered = set(list_models())
    for key, value in sorted(options.items()):
        if not isinstance(value, str):
            continue
        try:
            other, kimg, _ = run_of(Path(value))
        except InputError:
            if value in registered and not Path(value).expanduser().exists():
                card = model_card(value)
                t = card.training
                found.append(RunInput(option=key, model=value, sha256=weights_sha256(card),
                                      run=t.run if t else None, kimg=t.kimg if t else None))
            continue
        found.append(RunInput(option=key, run=other.name, kimg=kimg))
    return tuple(found)


def repo_path(path: Path) -> str:
    """``path`` relative to the git repository holding it (as the README names recipes), else as given."""
    path = Path(path).resolve()
    for parent in path.parents:
        if (parent / ".git").exists():
            return path.relative_to(parent).as_posix()
    return str(path)


def default_dataset(data: str, resolution: int) -> str | None:
    """The card's data-set name for the synthetic world (one name for every method trained on it)."""
    return f"synthetic heads {resolution}" if data.startswith("synth:") else None


def pack(snapshot: str | os.PathLike, name: str, out: str | os.PathLike, recipe: str | os.PathLike,
         fp16: bool = True, dataset: str | None = None, machine: str | None = None, max_mb: float = MAX_MB,
         min_psnr: float = MIN_PSNR, max_diff: float = MAX_DIFF, render: ReferenceRender | None = None,
         force: bool = False, description: str = "") -> PackResult:
    """Pack ``RUN/snapshots/KIMG/generator`` as model ``name`` into the folder ``out`` (see the module doc)."""
    from .registry import load

    run, kimg, snapshot = run_of(Path(snapshot))
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"{out} exists and is not empty; add --force to replace the packed model")
    G32 = load(str(snapshot))
    if name.count("/") != 1 or not all(name.split("/")) or name.split("/", 1)[0] != G32.card.method:
        raise InputError(f"model name {name!r} must be {G32.card.method}/VARIANT (the snapshot's method, a slash, "
                         f"a variant name)")
    training, messages = training_record(run, kimg, Path(recipe), machine)
    spec = render or ReferenceRender()
    images32, out32 = reference_render(G32, spec)
    card = G32.card.model_copy(update={
        "name": name, "dataset": dataset or default_dataset(training.data, G32.card.resolution) or G32.card.dataset,
        "description": description or f"{G32.card.method} trained with gan3d train on {training.data} "
                                      f"({kimg:g} kimg, recipe {training.recipe})",
        "training": training, "weights": (), "is_3d": bool(getattr(G32, "is_3d", True))})
    config, state = G32.export_config(), G32.state_dict()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        record = PackedRecord(dtype="float32", min_psnr=min_psnr, max_diff=max_diff, render=spec)
        if fp16:
            _write(staging, card, record, config, state, half=True)
            G16 = load(str(staging))
            images16, out16 = reference_render(G16, spec)
            diff = float((out16.image - out32.image).abs().max())
            quality = psnr(out16.image, out32.image)
            ok = diff <= max_diff and (quality is None or quality >= min_psnr)
            kept = "kept" if ok else "refused: packed in float32"
            note = (f"float16 vs float32 render: max abs difference {diff:.4g}, PSNR "
                    f"{'inf' if quality is None else f'{quality:.1f}'} dB (thresholds {max_diff:g}, {min_psnr:g} dB): "
                    f"float16 {kept}")
            messages.append(note)
            record = record.model_copy(update={"dtype": "float16" if ok else "float32", "max_abs_diff": diff,
                                               "psnr": quality, "note": note})
            if ok:
                images32, out32 = images16, out16  # the reference is what the shipped weights render
        check = sanity(G32, out32)
        if not check.ok:
            messages.append("WARNING: the reference views do not look like a trained model: "
                            + "; ".join(check.problems))
        record = record.model_copy(update={"render": spec.model_copy(update={
            "sha256": render_sha256(images32),
            "mask_share": round(check.mask_share, 4) if np.isfinite(check.mask_share) else None})})
        _write(staging, card, record, config, state, half=record.dtype == "float16")
        save_png(_grid(images32), staging / REFERENCE_PNG)
        size = sum(p.stat().st_size for p in staging.iterdir())
        if size > max_mb * 1e6:
            raise InputError(f"the packed {name} is {size / 1e6:.1f} MB, over the {max_mb:g} MB a shipped model may "
                             f"take (a plugin's wheel carries it); train a smaller preset"
                             + ("" if record.dtype == "float16" else " or allow float16"))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    final = ModelCard.model_validate(json.loads((out / CONFIG).read_text())["card"])
    return PackResult(out, final, size, tuple(messages))


def _write(folder: Path, card: ModelCard, record: PackedRecord, config: dict, state: dict, half: bool) -> None:
    """The safe form, its card pinning the weights' sha256 (so the registered card can check them)."""
    from .io import write_text_atomic
    from .pretrained import write

    write(folder, card.model_copy(update={"packed": record}), config, state, half=half)
    wf = WeightFile(filename=WEIGHTS, sha256=sha256_file(folder / WEIGHTS), size=(folder / WEIGHTS).stat().st_size,
                    note="ships inside its plugin package")
    meta = json.loads((folder / CONFIG).read_text())
    meta["card"] = card.model_copy(update={"packed": record, "weights": (wf,)}).model_dump(mode="json")
    write_text_atomic(folder / CONFIG, json.dumps(meta, indent=2))


def _grid(images: np.ndarray) -> np.ndarray:
    """``[S,V,H,W,3]`` uint8 -> one image, seeds as rows and yaws as columns."""
    S, V, H, W, C = images.shape
    return images.transpose(0, 2, 1, 3, 4).reshape(S * H, V * W, C)
