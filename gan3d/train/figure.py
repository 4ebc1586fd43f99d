"""A run's progress at a glance: its snapshot grids side by side (start, middle, end) and its metric
curve against kimg, the two pictures the README shows for each trained ``synth64`` model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..images import caption, save_png
from ..io import write_text_atomic
from ..plots import line_chart
from .logs import metric_curve
from .snapshot import SNAPSHOTS, STATE


def snapshot_grids(run_dir: str | Path) -> list[tuple[float, Path]]:
    """``[(kimg, grid.png)]`` of a run, oldest first: the grid written before the first step (``grids/``)
    and each snapshot's ``grid.png``."""
    run = Path(run_dir)
    found = {}
    for p in sorted((run / "grids").glob("*.png")):
        try:
            found[float(p.stem)] = p
        except ValueError:
            continue
    for snap in sorted((run / SNAPSHOTS).glob("*")):
        if (snap / STATE).is_file() and (snap / "grid.png").is_file():  # complete snapshots only
            try:
                found[float(snap.name)] = snap / "grid.png"
            except ValueError:
                continue
    return sorted(found.items())


def pick(items: list, count: int) -> list:
    """``count`` (>= 1) items spread evenly over ``items``: first and last included, or for ``count`` 1 the last."""
    if len(items) <= count:
        return list(items)
    if count == 1:  # the latest grid says most about the run
        return [items[-1]]
    idx = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def progress_strip(run_dir: str | Path, count: int = 3, gap: int = 6) -> np.ndarray:
    """``[H, W, 3]`` uint8: ``count`` of the run's grids (start, ..., latest) side by side, each captioned
    with its kimg. Every grid shows the same seeds and cameras, so the columns show the model learning."""
    if count < 1:
        raise InputError(f"the progress strip needs at least one grid; got count {count}")
    grids = snapshot_grids(run_dir)
    if not grids:
        raise InputError(f"{run_dir}: no grids (grids/*.png or snapshots/*/grid.png): is it a gan3d training "
                         "run folder that has written at least its first grid?")
    panels = [caption(np.asarray(Image.open(p).convert("RGB")), f"{k:g} kimg", colour=(0, 0, 0))
              for k, p in pick(grids, count)]
    h = max(p.shape[0] for p in panels)
    out = []
    for i, p in enumerate(panels):
        if p.shape[0] < h:  # grids of one run share a size; pad defensively rather than fail
            p = np.concatenate([p, np.full((h - p.shape[0],) + p.shape[1:], 255, np.uint8)])
        out.append(p)
        if i < len(panels) - 1:
            out.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(out, axis=1)


def write_progress_figure(run_dir: str | Path, out_dir: str | Path, stem: str, metric: str = "fid",
                          count: int = 3) -> list[Path]:
    """Write ``<stem>_grids.png`` (:func:`progress_strip`) and, when the run measured ``metric``,
    ``<stem>_<metric>.svg`` (the metric against kimg) into ``out_dir``. Returns the written paths."""
    out = Path(out_dir)
    written = [save_png(progress_strip(run_dir, count), out / f"{stem}_grids.png")]
    curve = metric_curve(run_dir, metric)
    if curve:
        svg = line_chart([(Path(run_dir).name, curve)], f"{metric.upper()} against training progress", "kimg")
        written.append(write_text_atomic(out / f"{stem}_{metric}.svg", svg))
    return written
