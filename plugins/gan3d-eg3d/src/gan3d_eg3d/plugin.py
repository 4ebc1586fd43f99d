"""gan3d hook implementations of the EG3D plugin (entry point ``eg3d`` in the group ``gan3d``)."""

from __future__ import annotations

from pathlib import Path

import gan3d
from gan3d import pretrained
from gan3d.errors import CheckpointError
from gan3d.zoo import packaged_models

from .architectures import official_architecture
from .cards import CARDS
from .generator import EG3DGenerator
from .loading import load_any, load_pickle_file, load_safe_form
from .pickle_io import looks_like_eg3d_pickle


def build(card: gan3d.ModelCard, files: dict[str, Path] | None, device: str = "cpu"):
    """Registry factory: the card's single weight file (official .pkl, or a safe-form folder/file).

    ``files=None`` builds the official architecture with random weights.
    """
    if files is None:
        init_kwargs, nrr = official_architecture(card.variant)
        return EG3DGenerator(card, init_kwargs, neural_rendering_resolution=nrr).to(device)
    if not card.weights:
        raise CheckpointError(f"{card.name} lists no weight file")
    name = card.weights[0].filename
    path = files.get(name) or next(iter(files.values()), None)
    if path is None:
        raise CheckpointError(f"{card.name}: weight file {name} was not resolved")
    return load_any(Path(path), card=card, device=device)


@gan3d.hookimpl
def gan3d_register_models() -> list:
    # the official cards, and the trained models this package ships in zoo/ (gan3d weights pack)
    return [gan3d.ModelEntry(card, build) for card in CARDS] + packaged_models("gan3d_eg3d")


@gan3d.hookimpl
def gan3d_load_checkpoint(path: Path, device: str):
    """Official EG3D pickles, and folders/files of the safe form whose config says ``"method": "eg3d"``."""
    path = Path(path)
    if pretrained.find(path) is not None:
        return load_safe_form(path, device=device) if pretrained.read(path, "eg3d") is not None else None
    if path.is_file() and looks_like_eg3d_pickle(path):
        return load_pickle_file(path, device=device)
    return None


@gan3d.hookimpl
def gan3d_add_commands(subparsers) -> None:
    from . import commands

    commands.register(subparsers)


@gan3d.hookimpl
def gan3d_method_commands() -> list:
    from . import commands

    return commands.method_commands()


@gan3d.hookimpl
def gan3d_register_trainers() -> list:
    from .train import trainer_entry

    return [trainer_entry()]
