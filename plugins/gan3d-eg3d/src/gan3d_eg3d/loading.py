"""Turning files into :class:`EG3DGenerator` objects: official pickles and gan3d's safe form.

Safe form (:mod:`gan3d.pretrained`, written by ``Generator.save_pretrained`` / ``gan3d weights
convert``): a folder with ``config.json`` (``"method": "eg3d"``) and ``weights.pt``. A ``.pt`` file
given directly is paired with the ``config.json`` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import gan3d
from gan3d import pretrained
from gan3d.errors import CheckpointError

from .cards import card_for_checkpoint
from .generator import EG3DGenerator
from .pickle_io import EG3DCheckpoint, load_eg3d_pickle

METHOD = "eg3d"


def from_checkpoint(ckpt: EG3DCheckpoint, card: gan3d.ModelCard | None = None, stem: str = "checkpoint",
                    device: str = "cpu") -> EG3DGenerator:
    """Build the generator a pickle describes and load its weights strictly."""
    card = card or card_for_checkpoint(stem, ckpt.init_kwargs, ckpt.rendering_kwargs,
                                       ckpt.source or "checkpoint")
    gen = EG3DGenerator(card, ckpt.init_kwargs, ckpt.rendering_kwargs, ckpt.neural_rendering_resolution,
                        dataset_label_std="dataset_label_std" in ckpt.state_dict, sr_antialias=ckpt.sr_antialias)
    gen.load_weights(ckpt.state_dict, source=ckpt.source or "checkpoint")
    return gen.eval().requires_grad_(False).to(device)


def load_pickle_file(path: str | os.PathLike, card: gan3d.ModelCard | None = None, device: str = "cpu") -> EG3DGenerator:
    """An official EG3D ``.pkl`` (its ``G_ema``) as a generator."""
    path = Path(path)
    return from_checkpoint(load_eg3d_pickle(path), card, path.stem, device)


def load_safe_form(path: str | os.PathLike, card: gan3d.ModelCard | None = None,
                   device: str = "cpu") -> EG3DGenerator:
    """A ``config.json`` + ``weights.pt`` checkpoint (folder, config path or weights path)."""
    path = Path(path)
    if pretrained.find(path) is None:
        raise CheckpointError(f"{str(path)!r} has no config.json beside it; an EG3D safe-form checkpoint is a folder "
                              f"with config.json and weights.pt (gan3d weights convert X.pkl OUT)")
    form = pretrained.read(path, METHOD)
    if form is None:
        raise CheckpointError(f"{str(pretrained.find(path))!r} is not an EG3D config (its 'method' is not 'eg3d'); "
                              f"it belongs to another method or is not a gan3d checkpoint")
    card = card or form.card()
    try:
        gen = EG3DGenerator.from_config(card, form.config)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{str(form.config_path)!r} is not a valid EG3D config ({type(e).__name__}: {e})") from None
    gen.load_weights(form.state_dict(), source=f"{str(form.weights_path)!r}")
    return gen.eval().requires_grad_(False).to(device)


def load_any(path: str | os.PathLike, card: gan3d.ModelCard | None = None, device: str = "cpu") -> EG3DGenerator:
    """A pickle or a safe-form checkpoint, whichever ``path`` is."""
    path = Path(path)
    if pretrained.find(path) is not None:
        return load_safe_form(path, card, device)
    return load_pickle_file(path, card, device)
