"""gan3d hooks of the CNeRF plugin (models, checkpoints, commands)."""

from __future__ import annotations

import gan3d
from gan3d.zoo import packaged_models

from .cards import CARDS
from .checkpoint import build_from_files, load_checkpoint


@gan3d.hookimpl
def gan3d_register_models():
    # the official cards, and the trained models this package ships in zoo/ (gan3d weights pack)
    return [gan3d.ModelEntry(card, build_from_files) for card in CARDS] + packaged_models("gan3d_cnerf")


@gan3d.hookimpl
def gan3d_load_checkpoint(path, device):
    return load_checkpoint(path, device)


@gan3d.hookimpl
def gan3d_add_commands(subparsers):
    from .cli import register

    register(subparsers)


@gan3d.hookimpl
def gan3d_method_commands() -> list:
    from .cli import method_commands

    return method_commands()


@gan3d.hookimpl
def gan3d_register_trainers() -> list:
    from .train.entries import ENTRIES

    return ENTRIES
