"""What a data set holds: counts, resolution, classes and their pixel shares, camera-label sanity and poses."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm

from ..camera import Camera
from ..io import atomic_write
from .datasets import ImageDataset
from .labels import LabelProblem, check_labels


class PoseStats(BaseModel):
    """Camera angles of the labels in degrees (:meth:`gan3d.Camera.yaw_pitch`'s convention)."""

    model_config = ConfigDict(extra="forbid")

    yaw_min: float
    yaw_max: float
    yaw_mean_abs: float
    pitch_min: float
    pitch_max: float
    radius_mean: float
    focal_mean: float


class DatasetSummary(BaseModel):
    """``gan3d dataset info``'s findings."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    num_images: int
    resolution: int
    has_labels: bool
    classes: list[str] | None = None
    class_share: list[float] | None = None  # fraction of all mask pixels per class
    label_problems: list[LabelProblem] = []
    poses: PoseStats | None = None


def summarize(ds: ImageDataset, progress: bool = True) -> DatasetSummary:
    """Count, resolution, per-class pixel shares (reads every mask), label sanity and pose ranges of ``ds``
    (its images on disk, without mirrored copies)."""
    share = None
    if ds.has_masks:
        counts = np.zeros(ds.num_classes, dtype=np.int64)
        for raw in tqdm(range(ds.num_raw), desc="reading masks", unit="mask", disable=not progress, leave=False):
            counts += np.bincount(ds.read_mask(raw).reshape(-1), minlength=ds.num_classes)[: ds.num_classes]
        share = (counts / max(int(counts.sum()), 1)).tolist()
    problems, poses = [], None
    labels = ds.raw_labels
    if labels is not None:
        problems = check_labels(labels, ds.image_names)
        bad = {p.name for p in problems}
        good = [i for i, n in enumerate(ds.image_names) if n not in bad]
        if good:
            cams = Camera.from_eg3d_label(labels[good])
            yaw, pitch = (np.degrees(t.numpy()) for t in cams.yaw_pitch())
            poses = PoseStats(yaw_min=float(yaw.min()), yaw_max=float(yaw.max()),
                              yaw_mean_abs=float(np.abs(yaw).mean()), pitch_min=float(pitch.min()),
                              pitch_max=float(pitch.max()),
                              radius_mean=float(cams.origin.norm(dim=-1).mean()), focal_mean=float(cams.focal.mean()))
    return DatasetSummary(name=ds.name, path=str(ds.path), num_images=ds.num_raw, resolution=ds.resolution,
                          has_labels=ds.has_labels, classes=ds.class_names, class_share=share,
                          label_problems=problems, poses=poses)


def pose_histogram(ds: ImageDataset, path: str | os.PathLike, bins: int = 36) -> Path:
    """A PNG with histograms of the labels' yaw and pitch (degrees); implausible labels are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ds.raw_labels
    if labels is None:
        from ..errors import DatasetError

        raise DatasetError(f"{ds.path} has no camera labels, so there is no pose histogram to draw")
    bad = {p.name for p in check_labels(labels, ds.image_names)}
    keep = [i for i, n in enumerate(ds.image_names) if n not in bad]
    yaw, pitch = (np.degrees(t.numpy()) for t in Camera.from_eg3d_label(labels[keep]).yaw_pitch())
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    for ax, values, what in ((axes[0], yaw, "yaw"), (axes[1], pitch, "pitch")):
        lim = max(5.0, math.ceil(float(np.abs(values).max(initial=0)) / 5) * 5)
        ax.hist(values, bins=bins, range=(-lim, lim), color="#4477aa")
        ax.set_xlabel(f"{what} (degrees)")
        ax.set_ylabel("images")
    fig.suptitle(f"{ds.name}: {len(keep)} camera labels")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
