"""gan3d's safe checkpoint form, written and read in one place for every plugin.

A folder with two files::

    config.json   {"format": "gan3d", "method": "eg3d", "card": {...}, "config": {...},
                   "weights_sha256": "<sha256 of weights.pt>"}
    weights.pt    a state_dict, read with torch.load(weights_only=True)

``"weights_dtype": "float16"`` in ``config.json`` marks weights stored in half precision (shipped models,
:mod:`gan3d.pack`); :meth:`SafeForm.state_dict` returns them as float32.

Neither file can run code when read. :func:`save` writes ``weights.pt`` first and ``config.json`` last,
each in one atomic rename, and ``config.json`` records the sha256 of the weights it goes with: a pair
that was not written together (an overwrite interrupted between the two files, a swapped or edited
weights file) is refused on reading with a message saying so, instead of loading mismatched weights.
Folders written before the hash was recorded still load (without that check).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .cards import ModelCard
from .errors import CheckpointError
from .io import atomic_write, sha256_file, write_text_atomic
from .unpickle import load_state_dict

if TYPE_CHECKING:
    from .generator import Generator

CONFIG = "config.json"
WEIGHTS = "weights.pt"


def save(generator: "Generator", directory: str | os.PathLike) -> Path:
    """Write ``generator`` (card, :meth:`~gan3d.Generator.export_config`, state_dict) into ``directory``."""
    return write(directory, generator.card, generator.export_config(), generator.state_dict())


def write(directory: str | os.PathLike, card: ModelCard, config: dict[str, Any],
          state_dict: dict[str, torch.Tensor], half: bool = False) -> Path:
    """The safe form from its parts; ``half`` stores floating tensors as float16 (read back as float32).

    ``config.json`` then says ``"weights_dtype": "float16"``, so readers upcast without knowing why.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu() for k, v in state_dict.items()}
    if half:
        tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()}
    with atomic_write(out / WEIGHTS) as tmp:
        torch.save(tensors, tmp)
    meta = {"format": "gan3d", "method": card.method, "card": card.model_dump(mode="json"), "config": config,
            "weights_sha256": sha256_file(out / WEIGHTS)}
    if half:
        meta["weights_dtype"] = "float16"
    write_text_atomic(out / CONFIG, json.dumps(meta, indent=2))
    return out


def find(path: str | os.PathLike) -> Path | None:
    """The ``config.json`` of a safe-form checkpoint given as its folder, its config or a ``.pt`` beside it."""
    path = Path(path)
    if path.is_dir():
        cfg = path / CONFIG
    elif path.suffix == ".json":
        cfg = path
    elif path.suffix in (".pt", ".pth"):
        cfg = path.parent / CONFIG
    else:
        return None
    return cfg if cfg.is_file() else None


@dataclass(frozen=True)
class SafeForm:
    """A safe-form checkpoint that names ``method``; nothing but ``config.json`` has been read yet."""

    config_path: Path
    weights_path: Path
    method: str
    meta: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        """The method's own settings (what its ``export_config`` wrote)."""
        cfg = self.meta.get("config")
        if not isinstance(cfg, dict):
            raise CheckpointError(f"{str(self.config_path)!r} has no 'config' object; write it again with "
                                  f"Generator.save_pretrained or `gan3d weights convert`")
        return cfg

    def card(self) -> ModelCard:
        try:
            return ModelCard.model_validate(self.meta["card"])
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{str(self.config_path)!r} has no valid model card "
                                  f"({type(e).__name__}: {str(e).splitlines()[0]})") from None

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``weights.pt``, after checking it is the file ``config.json`` was written with."""
        if not self.weights_path.is_file():
            raise CheckpointError(f"{str(self.config_path)!r} has no {self.weights_path.name} beside it; a safe-form "
                                  f"checkpoint is a folder with {CONFIG} and {WEIGHTS}")
        expected = self.meta.get("weights_sha256")
        if expected:
            found = sha256_file(self.weights_path)
            if found != expected:
                raise CheckpointError(
                    f"{str(self.weights_path)!r} is not the weights file its {CONFIG} was written with (sha256 "
                    f"{found[:12]}..., recorded {expected[:12]}...): the pair was not saved together (an "
                    f"interrupted overwrite?) or a file was replaced; save or convert the checkpoint again")
        tensors = load_state_dict(self.weights_path)
        if self.meta.get("weights_dtype") == "float16":  # stored small (a shipped model): computed in float32
            tensors = {k: v.float() if v.dtype == torch.float16 else v for k, v in tensors.items()}
        return tensors


def read(path: str | os.PathLike, method: str) -> SafeForm | None:
    """The safe form at ``path`` if it is one of ``method``'s, else None (no config.json, or another method's).

    For plugins' ``gan3d_load_checkpoint`` hooks: None lets the next plugin try. A ``.pt`` path is paired
    with the ``config.json`` beside it.
    """
    path = Path(path)
    cfg = find(path)
    if cfg is None:
        return None
    try:
        meta = json.loads(cfg.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # not a gan3d config (some other JSON, or unreadable): not ours to judge
    if not isinstance(meta, dict) or meta.get("method") != method:
        return None
    weights = path if path.suffix in (".pt", ".pth") else cfg.parent / WEIGHTS
    return SafeForm(cfg, weights, method, meta)
