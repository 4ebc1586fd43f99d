"""What a trained CNeRF learned on a data set with true masks (issue #14's report on the synthetic world).

* class shares: each class's share of the pixels of the generated masks (arg-max over N seeded samples,
  no truncation) next to its share of the data set's true masks;
* region-edit locality: per region, the mean :func:`~gan3d_cnerf.editing.edit_locality` score over a
  few seeds of swapping that region's codes with another seed's (what ``gan3d edit --from-seed`` does);
* an image / mask grid (the training loop's snapshot grid, :func:`gan3d.train.grid.render_grid`).

:func:`synth_report` runs all three and writes ``report.json`` (atomically) and ``grid.png``;
``benchmarks/cnerf_synth_report.py`` is its command line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm

import gan3d
from gan3d.errors import InputError
from gan3d.io import write_text_atomic

from .camera import HALF_FOV_DEGREES, camera_from_angles
from .classes import class_names
from .editing import edit_locality, final_semantic, swap_region
from .train.options import CameraOptions

Cameras = Literal["training", "dataset"]


class ClassShare(BaseModel):
    """One class: its share of the generated and of the true masks' pixels (each column sums to 1)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    generated: float
    world: float


class RegionLocality(BaseModel):
    """Swapping one region's codes: the locality score per seed (None where the region shows in neither
    image) and their mean over the seeds where it could be measured (None if none)."""

    model_config = ConfigDict(extra="forbid")

    region: str
    score: float | None
    scores: list[float | None]
    measured: int


class SynthReport(BaseModel):
    """Everything :func:`synth_report` measured, with what it was measured on."""

    model_config = ConfigDict(extra="forbid")

    model: str
    data: str
    num: int
    seed: int
    cameras: Cameras
    camera_law: dict[str, float | bool]
    world_images: int
    classes: list[ClassShare]
    locality_seeds: list[int]
    locality_truncation: float
    locality: list[RegionLocality]
    grid: str | None


def load_snapshot(spec: str | Path, device: str = "cpu") -> "gan3d.Generator":
    """A CNeRF generator from a run folder (its latest snapshot), a snapshot folder, a generator folder, a
    checkpoint or a registered name; an :class:`InputError` for anything else."""
    from .generator import CNeRFGenerator

    G = gan3d.load(spec, device=device)  # run and snapshot folders resolve to their (latest) generator
    if not isinstance(G, CNeRFGenerator):
        raise InputError(f"{spec} is a {G.card.method} model; the CNeRF report needs a CNeRF model")
    return G


def run_camera_law(spec: str | Path) -> CameraOptions:
    """The training camera law of the run a snapshot comes from (its ``train-config.json``, found in the
    folders above ``spec``); the official law when ``spec`` is not inside a run."""
    from gan3d.train.snapshot import CONFIG

    p = Path(spec).expanduser().resolve()
    for folder in [p, *p.parents][:4]:
        if (folder / CONFIG).is_file():
            options = json.loads((folder / CONFIG).read_text()).get("options", {})
            return CameraOptions(**{k: v for k, v in options.items() if k in CameraOptions.model_fields})
    return CameraOptions()


def sample_cameras(kind: Cameras, num: int, seed: int, law: CameraOptions | None = None,
                   labels: torch.Tensor | None = None,
                   half_fov_degrees: float = HALF_FOV_DEGREES) -> gan3d.Camera:
    """``num`` cameras drawn from ``seed``: the training law (azimuth/elevation ~ N(0, std), or uniform)
    or data-set camera labels ``[M,25]`` drawn with replacement (only their direction matters to CNeRF)."""
    g = torch.Generator().manual_seed(int(seed))
    if kind == "dataset":
        if labels is None or len(labels) == 0:
            raise InputError("cameras 'dataset' need a data set with camera labels; use cameras 'training'")
        return gan3d.Camera.from_eg3d_label(labels[torch.randint(len(labels), (num,), generator=g)])
    if kind != "training":
        raise InputError(f"unknown cameras {kind!r}; use 'training' or 'dataset'")
    law = law or CameraOptions()
    if law.uniform_cameras:
        az = (2 * torch.rand(num, generator=g) - 1) * law.azimuth_std
        el = (2 * torch.rand(num, generator=g) - 1) * law.elevation_std
    else:
        az = law.azimuth_std * torch.randn(num, generator=g)
        el = law.elevation_std * torch.randn(num, generator=g)
    return camera_from_angles(az, el, half_fov_degrees)


@torch.no_grad()
def generated_class_shares(G, seeds: list[int], cameras: gan3d.Camera, batch: int = 8,
                           progress: bool = True) -> torch.Tensor:
    """``[K]`` shares (summing to 1) of the arg-max classes of the output masks of ``seeds`` (one camera
    each, untruncated latents), counted over all pixels."""
    if len(cameras) != len(seeds):
        raise InputError(f"{len(cameras)} cameras for {len(seeds)} seeds")
    counts = torch.zeros(G.num_classes, dtype=torch.float64)
    bar = tqdm(total=len(seeds), desc="generated masks", unit="img", disable=not progress)
    for i in range(0, len(seeds), batch):
        part = seeds[i:i + batch]
        z = gan3d.sample_latents(G, part).z.to(G.device)
        out = G.synthesize(G.mapping(z, truncation_psi=1.0), cameras[i:i + len(part)].to(G.device))
        labels = final_semantic(out).argmax(1)
        counts += torch.bincount(labels.flatten().cpu(), minlength=G.num_classes).double()
        bar.update(len(part))
    bar.close()
    return (counts / counts.sum()).float()


def world_class_shares(dataset, num_classes: int, progress: bool = True) -> torch.Tensor:
    """``[K]`` shares (summing to 1) of the class ids in a data set's true masks, over all pixels."""
    if not dataset.has_masks:
        raise InputError(f"{dataset.name} has no masks; the report compares generated masks with true ones")
    if dataset.num_classes != num_classes:
        raise InputError(f"{dataset.name}'s masks have {dataset.num_classes} classes but the model has "
                         f"{num_classes}; give the data set the model was trained on")
    counts = torch.zeros(num_classes, dtype=torch.float64)
    for i in tqdm(range(len(dataset)), desc="true masks", unit="img", disable=not progress):
        counts += torch.bincount(dataset[i]["mask"].flatten().long(), minlength=num_classes).double()
    return (counts / counts.sum()).float()


@torch.no_grad()
def region_locality(G, seeds: list[int], truncation_psi: float = 0.7, camera: gan3d.Camera | None = None,
                    progress: bool = True) -> list[RegionLocality]:
    """Per region, the locality of swapping its shape and texture codes into each seed from the next seed
    of the list (cyclically), from ``camera`` (default frontal); mean over the seeds it could be measured."""
    if len(seeds) < 2:
        raise InputError("the locality of region swaps needs at least two seeds (each takes codes from the next)")
    K = G.num_classes
    camera = (camera or G.default_camera(0.0, 0.0)).to(G.device)
    z = gan3d.sample_latents(G, seeds).z.to(G.device)
    w = G.mapping(z, truncation_psi=truncation_psi)
    per_region: list[list[float | None]] = [[] for _ in range(K)]
    for i in tqdm(range(len(seeds)), desc="region swaps", unit="seed", disable=not progress):
        donor = w[(i + 1) % len(seeds)][None]
        edits = torch.cat([swap_region(w[i:i + 1], donor, k) for k in range(K)])  # [K,R,S]: one edit per region
        before = G.synthesize(w[i:i + 1], camera)
        after = G.synthesize(edits, camera.expand(K))
        scores = edit_locality(before, after, list(range(K)))["score"].tolist()
        for k, s in enumerate(scores):
            per_region[k].append(None if math.isnan(s) else float(s))
    names = class_names(K)
    result = []
    for k in range(K):
        measured = [s for s in per_region[k] if s is not None]
        result.append(RegionLocality(region=names[k], score=float(np.mean(measured)) if measured else None,
                                     scores=per_region[k], measured=len(measured)))
    return result


def synth_report(model: str | Path, data: str, out: str | Path, *, num: int = 200, seed: int = 0,
                 cameras: Cameras = "training", locality_seeds: list[int] | None = None,
                 locality_truncation: float = 0.7, grid_seeds: list[int] | None = None,
                 grid_yaws: list[float] | None = None, batch: int = 8, device: str = "cpu",
                 progress: bool = True) -> SynthReport:
    """Measure a trained CNeRF against the data set ``data`` (with true masks) and write ``out/report.json``
    and ``out/grid.png``. Generated samples use seeds ``seed..seed+num-1`` and cameras drawn from ``seed``:
    ``training`` = the run's training camera law, ``dataset`` = the data set's camera labels."""
    from gan3d.data import open_dataset
    from gan3d.images import save_png
    from gan3d.train.grid import render_grid

    if num < 1:
        raise InputError(f"--num must be at least 1, got {num}")
    G = load_snapshot(model, device)
    ds = open_dataset(data)
    names = class_names(G.num_classes)  # the model's names (the data set's may be spelt otherwise)
    world = world_class_shares(ds, G.num_classes, progress)
    law = run_camera_law(model) if Path(model).expanduser().exists() else CameraOptions()
    labels = ds.labels() if cameras == "dataset" else None
    cams = sample_cameras(cameras, num, seed, law, labels, G.config.half_fov_degrees)
    generated = generated_class_shares(G, list(range(seed, seed + num)), cams, batch, progress)
    loc_seeds = locality_seeds if locality_seeds is not None else list(range(seed, seed + 4))
    locality = region_locality(G, loc_seeds, locality_truncation, progress=progress)
    out = Path(out)
    grid = save_png(render_grid(G, grid_seeds or list(range(seed, seed + 4)), grid_yaws or [-0.4, -0.2, 0.0, 0.2, 0.4]),
                    out / "grid.png")
    report = SynthReport(
        model=str(model), data=data, num=num, seed=seed, cameras=cameras,
        camera_law={k: v for k, v in law.model_dump().items() if k in ("azimuth_std", "elevation_std",
                                                                        "uniform_cameras")},
        world_images=len(ds),
        classes=[ClassShare(name=n, generated=float(g), world=float(w)) for n, g, w in zip(names, generated, world)],
        locality_seeds=loc_seeds, locality_truncation=locality_truncation, locality=locality, grid=str(grid))
    write_text_atomic(out / "report.json", report.model_dump_json(indent=2))
    return report


def format_report(report: SynthReport) -> str:
    """The report as two plain-text tables (class shares; region-swap locality)."""
    lines = [f"{report.model} on {report.data}: {report.num} samples ({report.cameras} cameras) vs "
             f"{report.world_images} true masks",
             f"{'class':<12}{'generated':>10}{'world':>10}"]
    lines += [f"{c.name:<12}{c.generated:>10.4f}{c.world:>10.4f}" for c in report.classes]
    lines += ["", f"region swaps (seeds {report.locality_seeds}, psi {report.locality_truncation}): locality = "
                  f"change inside / (inside + outside); 1 = only the region changed, 0.5 = spread evenly",
              f"{'region':<12}{'locality':>10}{'seeds':>8}"]
    lines += [f"{r.region:<12}{('n/a' if r.score is None else f'{r.score:.3f}'):>10}{r.measured:>8}"
              for r in report.locality]
    return "\n".join(lines)
