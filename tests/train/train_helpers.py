"""A tiny EG3D-format folder (PNG files + dataset.json camera labels) rendered from the toy sphere,
and a writer for training configs on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gan3d
from gan3d.images import to_uint8


def write_sphere_dataset(out: Path, num: int = 16, resolution: int = 16, labels: bool = True) -> Path:
    """``num`` toy spheres (seeds 0..num-1) seen from yaws in [-0.4, 0.4], as an EG3D folder."""
    from gan3d_toy.plugin import CARD, ToySphere

    G = ToySphere(CARD.model_copy(update={"resolution": resolution})).set_deterministic(True)
    rng = np.random.default_rng(0)
    yaws = rng.uniform(-0.4, 0.4, num).tolist()
    cams = CARD.camera.orbit(yaws, [0.0] * num)
    with torch.no_grad():
        img = G(gan3d.sample_latents(G, list(range(num))).z, cams).image
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, a in enumerate(to_uint8(img)):
        rel = f"00000/img{i:08d}.png"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(out / rel)
        entries.append([rel, cams[i].to_eg3d_label()[0].tolist()])
    if labels:
        (out / "dataset.json").write_text(json.dumps({"labels": entries}))
    return out


def toy_config(data: Path, out: Path, **over) -> dict:
    """A config of a few iterations: batch 4, tick every 2 iterations, a snapshot every tick."""
    cfg = {"method": "toy", "data": str(data), "batch": 4, "kimg": 0.008, "tick_kimg": 0.008, "snap_ticks": 1,
           "seed": 1, "out": str(out), "device": "cpu", "deterministic": True, "num_workers": 0,
           "grid_seeds": [0, 1], "grid_yaws": [-0.3, 0.0, 0.3]}
    cfg.update(over)
    return cfg


def write_toml(path: Path, cfg: dict) -> Path:
    """``cfg`` (flat values and an ``options`` table) as TOML."""
    def val(v):
        return json.dumps(v)  # strings, numbers, booleans and lists of them read the same in TOML

    lines = [f"{k} = {val(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines += [f"[{k}]"] + [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def final_state(run_dir: Path) -> dict:
    """The training state of a run's latest snapshot."""
    from gan3d.train.snapshot import latest_snapshot, read_state

    return read_state(latest_snapshot(run_dir))
