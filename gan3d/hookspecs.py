"""Hook specifications: the one place that says what a gan3d plugin can contribute.

A plugin is a module (or object) with functions marked ``@gan3d.hookimpl`` and named after these
specifications, exposed through an entry point in the group ``gan3d``::

    [project.entry-points.gan3d]
    eg3d = "gan3d_eg3d.plugin"

The core never imports a plugin by name; :mod:`gan3d.registry` finds them through that group.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pluggy

hookspec = pluggy.HookspecMarker("gan3d")
hookimpl = pluggy.HookimplMarker("gan3d")


@hookspec
def gan3d_register_models() -> list:
    """Return a list of :class:`gan3d.registry.ModelEntry` (a model card and its generator factory)."""


@hookspec
def gan3d_register_evaluators() -> list:
    """Return a list of :class:`gan3d.registry.EvaluatorEntry`."""


@hookspec(firstresult=True)
def gan3d_load_checkpoint(path: Path, device: str):
    """Return a :class:`gan3d.Generator` built from ``path`` if this plugin recognises its format, else None.

    ``path`` is a file or a directory given to :func:`gan3d.load`. Return None quickly for files of
    other methods; raise :class:`gan3d.errors.CheckpointError` for a file of yours that is broken.
    """


@hookspec
def gan3d_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``gan3d`` command line (``parser.set_defaults(func=callable(args))``)."""


@hookspec
def gan3d_method_commands() -> list:
    """Return :class:`gan3d.registry.MethodCommand` items: one command name (``video``, ``inspect``) whose
    options and behaviour are the method's own. ``gan3d video MODEL ...`` dispatches on MODEL's method,
    so every method offers ``gan3d video`` without the plugins' command names clashing."""


@hookspec
def gan3d_register_trainers() -> list:
    """Return :class:`gan3d.train.TrainerEntry` items: a method's trainer for ``gan3d train`` (its options
    model, presets and ``build(options, data_info, device) -> gan3d.train.Trainer``)."""
