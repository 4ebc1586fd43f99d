"""The README's LiftedGAN figures and FID table on the synthetic head world (issue #13).

    python benchmarks/liftedgan_synth_report.py --teacher RUN --full RUN [--ablation RUN ...] [--out docs/]
        [--seeds 0-2] [--teacher-seeds 0-7] [--trunc 0.7] [--views 7] [--measure-fid] [--device cpu]

RUN: a run folder (its latest snapshot) or a snapshot / generator folder (``RUN/snapshots/KIMG[/generator]``);
``--teacher`` may also be a registered model (``stylegan2/synth64``). Writes, atomically, into ``--out``:

* ``liftedgan_synth_teacher.png``: the StyleGAN2 teacher's samples (seeds as a grid);
* ``liftedgan_synth_sweep.png``: per LiftedGAN seed three rows: the official yaw sweep (-45..45 degrees,
  ``gan3d video --path yaw``), its depth (near is bright, the model's depth range) and the relighting sweep
  (-60..60 degrees, ``gan3d video --relight``), all through the plugin's own view and light API;
* ``liftedgan_synth_fid.md``: the FID of every run at its last snapshot, read from the run's results store
  (what ``gan3d train`` measured, :func:`gan3d.train.logs.metric_curve`), as a markdown table with each
  run's ablation (printed too). A missing FID stays "not measured" unless ``--measure-fid`` measures it
  with gan3d's FID under the run's own metric settings, into the run's store.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import gan3d
from gan3d.errors import Gan3dError, InputError
from gan3d.images import grid, hstack, save_png
from gan3d.io import write_text_atomic

TEACHER_PNG = "liftedgan_synth_teacher.png"
SWEEP_PNG = "liftedgan_synth_sweep.png"
TABLE_MD = "liftedgan_synth_fid.md"


@dataclass(frozen=True)
class Snapshot:
    """What one argument names: the generator folder (or registered name), its run folder and kimg."""

    model: str
    run: Path | None
    kimg: float | None

    @property
    def config(self) -> dict:
        """The run's resolved config (``train-config.json``), empty without a run."""
        from gan3d.train.snapshot import CONFIG

        return json.loads((self.run / CONFIG).read_text()) if self.run else {}

    def ablation(self) -> str:
        """The run's ablation switches (``wo_flip`` ...), ``full model`` without any."""
        from gan3d_liftedgan.train import ABLATIONS

        options = self.config.get("options", {})
        return ", ".join(a for a in ABLATIONS if options.get(a)) or "full model"


def find_snapshot(spec: str) -> Snapshot:
    """A run folder (its latest snapshot), a snapshot or generator folder, or a registered model name."""
    from gan3d.pack import run_of
    from gan3d.train.snapshot import generator_folder

    path = Path(spec).expanduser()
    if not path.exists():
        if spec in gan3d.list_models():
            return Snapshot(spec, None, None)
        raise InputError(f"{spec!r} is neither a run or snapshot folder nor a registered model")
    run, kimg, gen = run_of(generator_folder(path))  # a run folder: its latest snapshot
    return Snapshot(str(gen), run, kimg)


def fid_at(snap: Snapshot) -> float | None:
    """The FID the run's results store holds for this snapshot (None when it was not measured)."""
    from gan3d.train.logs import metric_curve

    if snap.run is None:
        return None
    at = [v for k, v in metric_curve(snap.run, "fid") if abs(k - snap.kimg) < 1e-6]
    return at[-1] if at else None


def measure_fid(snap: Snapshot, device: str, progress: bool = True) -> float | None:
    """The snapshot's FID under its run's metric settings (as ``gan3d train`` measures it at a snapshot),
    stored in the run's results store with its kimg; None when the run's config lists no FID."""
    from gan3d.data import open_dataset
    from gan3d.runs import RunConfig, execute
    from gan3d.train.config import ResolvedConfig, reference_of
    from gan3d.train.snapshot import CONFIG

    cfg = ResolvedConfig.model_validate_json((snap.run / CONFIG).read_text()).config
    if "fid" not in cfg.metrics:
        return None
    dataset = open_dataset(cfg.data, xflip=cfg.xflip)
    reference = cfg.reference or reference_of(dataset)
    cameras = cfg.metric_cameras or ("dataset" if dataset.has_labels and reference else "gaussian")
    run_cfg = RunConfig(name=snap.run.name, models=[snap.model], metrics=["fid"], num=cfg.metric_num,
                        cameras=cameras, reference=reference, device=device,
                        store=cfg.store or str(snap.run / "gan3d-results.sqlite"),
                        metric_options={"fid": cfg.metric_options.get("fid", {})})
    execute(run_cfg, progress=progress, kimg=snap.kimg)
    return fid_at(snap)


def fid_table(rows: list[tuple[str, Snapshot, float | None]]) -> str:
    """Markdown: one row per run (its role, ablation, snapshot kimg and FID)."""
    lines = ["| run | ablation | kimg | FID |", "|---|---|---:|---:|"]
    for role, snap, fid in rows:
        name = snap.run.name if snap.run else snap.model
        kimg = f"{snap.kimg:g}" if snap.kimg is not None else "-"
        value = f"{fid:.2f}" if fid is not None else "not measured"
        lines.append(f"| {role} ({name}) | {snap.ablation() if role != 'teacher' else '-'} | {kimg} | {value} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- figures
@torch.no_grad()
def teacher_grid(G, seeds: list[int], trunc: float, columns: int = 4) -> np.ndarray:
    """``[rows*H, columns*W, 3]`` uint8: the teacher's samples of ``seeds`` (a 2D model: no camera)."""
    from gan3d.images import to_uint8

    G.set_deterministic(True)
    lat = gan3d.sample_latents(G, seeds)
    images = to_uint8(G(lat.z.to(G.device), None, truncation_psi=trunc).image)
    blank = np.zeros_like(images[0])
    tiles = list(images) + [blank] * (-len(images) % columns)
    return grid([hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])


def spaced(angles: list[float], n: int) -> list[float]:
    """``n`` angles spread over the official sweep's range (its ends included)."""
    lo, hi = angles[0], angles[-1]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)] if n > 1 else [0.0]


@torch.no_grad()
def sweep_figure(G, seeds: list[int], trunc: float, views: int) -> np.ndarray:
    """Per seed three rows of ``views`` images: yaw sweep, its depth (near bright), relighting sweep."""
    from gan3d_liftedgan.cli import official_uint8, sweep
    from gan3d_liftedgan.model import pose_sweep_view, relight_vector

    lat = gan3d.sample_latents(G, seeds)
    w = G.mapping(lat.z.to(G.device), None, trunc)[:, 0]
    lo, hi = G.config.min_depth, G.config.max_depth
    rows = []
    for i in range(len(seeds)):
        est = G.estimate(w[i:i + 1])
        yaw = [G.render(est, view=pose_sweep_view("yaw", a, 1).to(G.device)) for a in spaced(sweep("yaw", False), views)]
        light = [G.render(est, light=relight_vector(a, 1).to(G.device)) for a in spaced(sweep("yaw", True), views)]
        depth = [((hi - o.depth) / (hi - lo)).clamp(0, 1) * 2 - 1 for o in yaw]  # background (1.2) is black
        rows += [hstack([official_uint8(o.image)[0] for o in yaw]), hstack([official_uint8(d)[0] for d in depth]),
                 hstack([official_uint8(o.image)[0] for o in light])]
    return grid(rows)


# ------------------------------------------------------------------------------------------- main
def report(teacher: str, full: str, ablations: list[str], out: str | Path, seeds: list[int],
           teacher_seeds: list[int], trunc: float = 0.7, views: int = 7, measure: bool = False,
           device: str = "cpu", progress: bool = True) -> dict[str, Path | str]:
    """Write the two figures and the FID table into ``out``; returns their paths and the table's text."""
    from gan3d_liftedgan.model import LiftedGAN
    from gan3d.stylegan2 import StyleGAN2Model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_snap, f_snap = find_snapshot(teacher), find_snapshot(full)
    a_snaps = [find_snapshot(a) for a in ablations]
    T, G = gan3d.load(t_snap.model, device), gan3d.load(f_snap.model, device)
    if not isinstance(T, StyleGAN2Model):
        raise InputError(f"--teacher {teacher} is a {T.card.method} model, not the StyleGAN2 teacher")
    if not isinstance(G, LiftedGAN):
        raise InputError(f"--full {full} is a {G.card.method} model, not a LiftedGAN")
    written: dict[str, Path | str] = {
        "teacher": save_png(teacher_grid(T, teacher_seeds, trunc), out / TEACHER_PNG),
        "sweep": save_png(sweep_figure(G, seeds, trunc, views), out / SWEEP_PNG)}
    rows = [("teacher", t_snap)] + [("LiftedGAN", s) for s in [f_snap, *a_snaps]]
    table = []
    for role, snap in rows:
        fid = fid_at(snap)
        if fid is None and measure and snap.run is not None:
            fid = measure_fid(snap, device, progress)
        table.append((role, snap, fid))
    text = fid_table(table)
    written["table"] = write_text_atomic(out / TABLE_MD, text)
    written["text"] = text
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True, help="the StyleGAN2 teacher's run, snapshot or model name")
    p.add_argument("--full", required=True, help="the full LiftedGAN run or snapshot")
    p.add_argument("--ablation", action="append", default=[], help="an ablation run or snapshot (repeatable)")
    p.add_argument("--out", default="outputs/liftedgan_synth_report", help="folder of the figures and the table")
    p.add_argument("--seeds", default="0-2", help="LiftedGAN seeds of the sweep figure (three rows each)")
    p.add_argument("--teacher-seeds", default="0-7", help="seeds of the teacher's samples grid")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi of both figures (the authors' 0.7)")
    p.add_argument("--views", type=int, default=7, help="columns of the yaw and relighting sweeps")
    p.add_argument("--measure-fid", action="store_true",
                   help="measure a FID the run's store lacks (gan3d's FID, the run's metric settings; slow)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    try:
        if args.views < 2:
            raise InputError(f"--views must be at least 2, got {args.views}")
        res = report(args.teacher, args.full, args.ablation, args.out, gan3d.parse_seeds(args.seeds),
                     gan3d.parse_seeds(args.teacher_seeds), args.trunc, args.views, args.measure_fid, args.device)
    except Gan3dError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(res["text"], end="")
    print(f"wrote {res['teacher']}, {res['sweep']} and {res['table']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
