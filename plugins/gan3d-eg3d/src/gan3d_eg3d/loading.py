"""Turning files into :class:`EG3DGenerator` objects: official pickles and gan3d's safe form.

Safe form (written by ``Generator.save_pretrained`` / ``gan3d weights convert``): a folder with
``config.json`` (``{"format": "gan3d", "method": "eg3d", "card": {...}, "config": {...}}``) and
``weights.pt`` (a state_dict read with ``torch.load(weights_only=True)``). A ``.pt`` file given
directly is paired with the ``config.json`` beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import gan3d
from gan3d.errors import CheckpointError
from gan3d.unpickle import load_state_dict

from .cards import card_for_checkpoint
from .generator import EG3DGenerator
from .pickle_io import EG3DCheckpoint, load_eg3d_pickle

METHOD = "eg3d"


def from_checkpoint(ckpt: EG3DCheckpoint, card: gan3d.ModelCard | None = None, stem: str = "checkpoint",
                    device: str = "cpu") -> EG3DGenerator:
    """Build the generator a pickle describes and load its weights strictly."""
    card = card or card_for_checkpoint(stem, ckpt.init_kwargs, ckpt.rendering_kwargs)
    gen = EG3DGenerator(card, ckpt.init_kwargs, ckpt.rendering_kwargs, ckpt.neural_rendering_resolution,
                        dataset_label_std="dataset_label_std" in ckpt.state_dict, sr_antialias=ckpt.sr_antialias)
    gen.load_weights(ckpt.state_dict, source=ckpt.source or "checkpoint")
    return gen.eval().requires_grad_(False).to(device)


def load_pickle_file(path: str | os.PathLike, card: gan3d.ModelCard | None = None, device: str = "cpu") -> EG3DGenerator:
    """An official EG3D ``.pkl`` (its ``G_ema``) as a generator."""
    path = Path(path)
    return from_checkpoint(load_eg3d_pickle(path), card, path.stem, device)


def find_config(path: Path) -> Path | None:
    """The ``config.json`` of a safe-form checkpoint given as folder, config file or weights file."""
    if path.is_dir():
        cfg = path / "config.json"
    elif path.name == "config.json" or path.suffix == ".json":
        cfg = path
    elif path.suffix in (".pt", ".pth"):
        cfg = path.parent / "config.json"
    else:
        return None
    return cfg if cfg.is_file() else None


def read_config(cfg: Path) -> dict | None:
    """The parsed config if it is an EG3D safe-form config, else None (another method's or not ours)."""
    try:
        meta = json.loads(cfg.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or meta.get("method") != METHOD:
        return None
    return meta


def load_safe_form(path: str | os.PathLike, card: gan3d.ModelCard | None = None, device: str = "cpu",
                   meta: dict | None = None) -> EG3DGenerator:
    """A ``config.json`` + ``weights.pt`` checkpoint (folder, config path or weights path)."""
    path = Path(path)
    cfg = find_config(path)
    if cfg is None:
        raise CheckpointError(f"{str(path)!r} has no config.json beside it; an EG3D safe-form checkpoint is a folder "
                              f"with config.json and weights.pt (gan3d weights convert X.pkl OUT)")
    meta = meta or read_config(cfg)
    if meta is None:
        raise CheckpointError(f"{str(cfg)!r} is not an EG3D config (its 'method' is not 'eg3d'); it belongs to "
                              f"another method or is not a gan3d checkpoint")
    weights = path if path.suffix in (".pt", ".pth") else cfg.parent / "weights.pt"
    try:
        card = card or gan3d.ModelCard.model_validate(meta["card"])
        gen = EG3DGenerator.from_config(card, meta["config"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{str(cfg)!r} is not a valid EG3D config ({type(e).__name__}: {e})") from None
    gen.load_weights(load_state_dict(weights), source=f"{str(weights)!r}")
    return gen.eval().requires_grad_(False).to(device)


def load_any(path: str | os.PathLike, card: gan3d.ModelCard | None = None, device: str = "cpu") -> EG3DGenerator:
    """A pickle or a safe-form checkpoint, whichever ``path`` is."""
    path = Path(path)
    if find_config(path) is not None:
        return load_safe_form(path, card, device)
    return load_pickle_file(path, card, device)
