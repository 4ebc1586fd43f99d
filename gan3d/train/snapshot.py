"""Run folders and snapshots.

A run folder ``OUT/NNNNN-NAME/`` holds ``train-config.json`` (the checked config, preset merged),
``machine.json`` (what it trains on, for packed models' cards), ``log.jsonl``, TensorBoard event files,
``grids/`` and ``snapshots/<kimg>/`` with

* ``generator/``: the EMA generator in gan3d's safe form (``gan3d.load`` reads it like any model);
* ``grid.png``: the fixed seeds and cameras;
* ``training-state.pt``: everything to continue (networks, EMA, optimizers, sampler position, draws,
  random states, counters, the trainer's own state), readable with ``torch.load(weights_only=True)``.

Each file is written atomically and the ``latest`` pointer (the name of the newest complete snapshot)
is written last, so a run killed at any moment resumes from a complete snapshot.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import atomic_write, write_text_atomic

CONFIG = "train-config.json"
STATE = "training-state.pt"
GENERATOR = "generator"
LATEST = "latest"
MACHINE = "machine.json"
SNAPSHOTS = "snapshots"


class NotARunError(InputError):
    """A folder given to ``--resume`` is not a training run folder (or has no snapshot yet)."""


def snapshot_name(cur_nimg: int) -> str:
    """The snapshot folder's name: kimg with three decimals, zero-padded so names sort by progress."""
    return f"{cur_nimg / 1000:010.3f}"


def safe_run_name(name: str) -> str:
    """``name`` as it appears in run folder names (characters outside ``A-Za-z0-9._+-`` become ``-``)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-") or "run"


def create_run_dir(out: Path, name: str) -> Path:
    """A new ``out/NNNNN-name`` folder, numbered after the highest existing one."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in out.iterdir() if (m := re.match(r"^(\d+)-", p.name))]
    run = out / f"{max(numbers, default=-1) + 1:05d}-{safe_run_name(name)}"
    run.mkdir()
    return run


def runs_named(out: Path, name: str) -> list[Path]:
    """The run folders ``out/NNNNN-name``, newest (highest NNNNN) first."""
    out, safe = Path(out), safe_run_name(name)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir()
             if p.is_dir() and (m := re.match(r"^(\d+)-(.+)$", p.name)) and m.group(2) == safe]
    return [p for _, p in sorted(found, key=lambda x: x[0], reverse=True)]


def machine_description() -> str:
    """This machine in words: CPU, core count, GPU if any, OS and torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{os.cpu_count()} CPU cores ({cpu}){gpu}, {platform.system()}, torch {torch.__version__}"


def write_machine(run_dir: Path, processes: int, device: torch.device) -> None:
    """``machine.json``: what the run trains on (packed models' cards quote it)."""
    write_text_atomic(Path(run_dir) / MACHINE, json.dumps({"machine": machine_description(), "processes": processes,
                                                           "device": str(device)}))


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` if it is a run folder with at least one complete snapshot, else :class:`NotARunError`."""
    run = Path(run_dir).expanduser()
    if not run.is_dir():
        raise NotARunError(f"--resume {str(run_dir)!r}: no such folder; give a run folder made by `gan3d train` "
                           f"(e.g. training-runs/00000-eg3d-synth64)")
    if not (run / CONFIG).is_file():
        raise NotARunError(f"--resume {str(run_dir)!r} is not a training run folder (it has no {CONFIG}); give the "
                           f"folder `gan3d train` printed when the run started")
    if latest_snapshot(run) is None:
        raise NotARunError(f"--resume {str(run_dir)!r}: the run has no complete snapshot yet, nothing to resume; "
                           f"start it again with `gan3d train CONFIG`")
    return run


def latest_snapshot(run_dir: Path) -> Path | None:
    """The newest complete snapshot folder (named by ``latest``), or None."""
    pointer = Path(run_dir) / LATEST
    if not pointer.is_file():
        return None
    snap = Path(run_dir) / SNAPSHOTS / pointer.read_text().strip()
    return snap if (snap / STATE).is_file() else None


def generator_folder(path: str | os.PathLike) -> Path:
    """The generator folder a path means: a run folder -> its latest snapshot's ``generator/``, a snapshot
    folder -> its ``generator/``; anything else is returned as given. So ``gan3d.load`` and every command
    take a run folder directly (``gan3d generate training-runs/00000-eg3d-synth64``)."""
    p = Path(path).expanduser()
    if p.is_dir() and ((p / LATEST).is_file() or (p / CONFIG).is_file() and (p / SNAPSHOTS).is_dir()):
        snap = latest_snapshot(p)
        if snap is None:
            raise NotARunError(f"the training run {str(path)!r} has no complete snapshot yet; wait for its first "
                               "snapshot, or give a snapshot's generator folder")
        return snap / GENERATOR
    if p.is_dir() and (p / GENERATOR).is_dir() and (p / STATE).is_file():
        return p / GENERATOR
    return p


def write_snapshot(run_dir: Path, name: str, generator, state: dict) -> Path:
    """Write ``snapshots/<name>/`` (EMA generator, training state), then point ``latest`` at it."""
    snap = Path(run_dir) / SNAPSHOTS / name
    generator.save_pretrained(snap / GENERATOR)
    with atomic_write(snap / STATE) as tmp:
        torch.save(state, tmp)
    write_text_atomic(Path(run_dir) / LATEST, name + "\n")
    return snap


def read_state(snapshot: Path) -> dict:
    """A snapshot's training state (weights-only: reading it runs no code)."""
    path = Path(snapshot) / STATE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise InputError(f"cannot read {path}: {type(e).__name__}: {str(e).splitlines()[0]}; resume from an "
                         f"earlier snapshot by writing its folder name into {Path(snapshot).parent.parent / LATEST}"
                         ) from None


def rng_states(device: torch.device) -> dict:
    """torch (CPU and the training GPU), numpy and Python random states, as weights-only data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out = {"torch": torch.get_rng_state(), "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                                                     "pos": int(pos), "has_gauss": int(has_gauss),
                                                     "cached": float(cached)},
           "python": random.getstate()}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def set_rng_states(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
