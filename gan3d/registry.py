"""Plugin discovery and the model/evaluator registry (one registry, like timm's)."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.metadata
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pluggy
import torch

from . import hookspecs
from .cards import ModelCard
from .errors import CheckpointError, InputError, UnknownEvaluatorError, UnknownModelError

ENTRY_POINT_GROUP = "gan3d"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its card and ``build(card, files, device) -> Generator``.

    ``files`` maps each of the card's weight file names to a local path (empty for weight-free models),
    or is ``None`` to ask for the architecture with random-initialised weights (``gan3d.load(name,
    weights="random")``, used to run the pipeline offline; such generators are labelled).
    """

    card: ModelCard
    build: Callable
    plugin: str = ""


@dataclass(frozen=True)
class EvaluatorEntry:
    """A registered evaluator: ``create(**options) -> gan3d.eval.Evaluator`` (call :meth:`build`)."""

    name: str
    create: Callable
    description: str = ""
    plugin: str = ""

    def build(self, **options):
        """The evaluator with ``options``; an option it does not take is an :class:`InputError` naming it."""
        try:
            return self.create(**options)
        except TypeError as e:
            m = re.search(r"unexpected keyword argument '(\w+)'", str(e))
            if m is None:
                raise
            raise InputError(f"metric {self.name!r} has no option {m.group(1)!r}; check its spelling "
                             f"(`gan3d evaluate --help` lists the options)") from None


@dataclass(frozen=True)
class MethodCommand:
    """A method's implementation of a shared command (``gan3d video``, ``gan3d inspect``).

    ``add_arguments(parser)`` adds the method's options (the ``model`` positional included);
    ``run(args) -> int`` does the work. ``args.generator`` holds the model when the core had to load it
    to learn its method (a checkpoint path); ``run`` should use it rather than loading again.
    """

    name: str
    method: str
    add_arguments: Callable
    run: Callable
    help: str = ""


@dataclass
class _State:
    pm: pluggy.PluginManager
    models: dict[str, ModelEntry] = field(default_factory=dict)
    evaluators: dict[str, EvaluatorEntry] = field(default_factory=dict)
    commands: dict[tuple[str, str], MethodCommand] = field(default_factory=dict)
    trainers: dict = field(default_factory=dict)  # method -> gan3d.train.TrainerEntry
    failed: dict[str, str] = field(default_factory=dict)


_STATE: _State | None = None


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("gan3d")
    pm.add_hookspecs(hookspecs)
    return pm


def _load_entry_points(pm: pluggy.PluginManager, failed: dict[str, str]) -> None:
    if os.environ.get("GAN3D_DISABLE_PLUGINS"):
        return
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as e:  # noqa: BLE001 - a broken plugin must not take the others down
            failed[ep.name] = f"{type(e).__name__}: {e}"
            warnings.warn(f"gan3d plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                          f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)


def _collect(state: _State) -> None:
    try:
        state.pm.check_pending()
    except pluggy.PluginValidationError as e:
        warnings.warn(f"gan3d plugin {e.plugin!r} has a hook implementation that matches no gan3d hook "
                      f"(misspelled?): {e}", RuntimeWarning, stacklevel=2)
    state.models.clear()
    state.evaluators.clear()
    state.commands.clear()
    for impl in state.pm.hook.gan3d_method_commands.get_hookimpls():
        for mc in impl.function() or []:
            state.commands.setdefault((mc.name, mc.method), mc)
    for impl in state.pm.hook.gan3d_register_models.get_hookimpls():
        plugin = state.pm.get_name(impl.plugin) or ""
        for entry in impl.function() or []:
            entry = ModelEntry(entry.card, entry.build, entry.plugin or plugin)
            if entry.card.name in state.models:
                warnings.warn(f"model {entry.card.name!r} is registered twice ({state.models[entry.card.name].plugin}"
                              f" and {plugin}); keeping the first", RuntimeWarning, stacklevel=2)
                continue
            state.models[entry.card.name] = entry
    for impl in state.pm.hook.gan3d_register_evaluators.get_hookimpls():
        plugin = state.pm.get_name(impl.plugin) or ""
        for entry in impl.function() or []:
            state.evaluators.setdefault(entry.name, EvaluatorEntry(entry.name, entry.create, entry.description,
                                                                   entry.plugin or plugin))
    state.trainers.clear()
    for impl in state.pm.hook.gan3d_register_trainers.get_hookimpls():
        plugin = state.pm.get_name(impl.plugin) or ""
        for entry in impl.function() or []:
            if entry.method in state.trainers:
                warnings.warn(f"trainer {entry.method!r} is registered twice ({state.trainers[entry.method].plugin} "
                              f"and {plugin}); keeping the first", RuntimeWarning, stacklevel=2)
                continue
            state.trainers[entry.method] = dataclasses.replace(entry, plugin=entry.plugin or plugin)


def _state() -> _State:
    global _STATE
    if _STATE is None:
        state = _State(_new_manager())
        from . import builtin  # the core's own evaluators register like any plugin

        state.pm.register(builtin, name="gan3d-core")
        _load_entry_points(state.pm, state.failed)
        _collect(state)
        _STATE = state
    return _STATE


def plugin_manager() -> pluggy.PluginManager:
    return _state().pm


def register(plugin, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks); entry points are the normal way."""
    state = _state()
    state.pm.register(plugin, name=name)
    _collect(state)


def unregister(name: str) -> None:
    state = _state()
    state.pm.unregister(name=name)
    _collect(state)


def reset() -> None:
    """Forget every plugin; the next call rediscovers them."""
    global _STATE
    _STATE = None


def failed_plugins() -> dict[str, str]:
    """Plugins whose import failed, with the error."""
    return dict(_state().failed)


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if not close:
        # also match on the variant or method alone ("ffhq512-128" -> "eg3d/ffhq512-128")
        close = [k for k in known if name in k][:3]
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def list_models(pattern: str | None = None) -> list[str]:
    """Names of registered models (``method/variant``), sorted; ``pattern`` is an fnmatch filter."""
    import fnmatch

    names = sorted(_state().models)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def model_entry(name: str) -> ModelEntry:
    models = _state().models
    if name not in models:
        from .catalog import install_hint

        method = name.split("/", 1)[0]
        installed = {m.card.method for m in models.values()}
        # install advice only for a method no installed plugin provides; a typo gets the closest names
        if method not in installed and (missing := install_hint(name)) is not None:
            raise UnknownModelError(missing)
        if name in installed:
            raise UnknownModelError(f"{name!r} is a method, not a model; give one of its models: "
                                    f"{', '.join(n for n in sorted(models) if models[n].card.method == name)}")
        hint = _suggest(name, models)
        msg = f"unknown model {name!r}{hint}"
        if not hint:
            msg += f"; installed models: {', '.join(sorted(models)) or 'none'} (see `gan3d models`)"
        raise UnknownModelError(msg)
    return models[name]


def model_card(name: str) -> ModelCard:
    """The card of a registered model."""
    return model_entry(name).card


def method_commands() -> dict[tuple[str, str], MethodCommand]:
    """``{(command, method): MethodCommand}`` from every plugin."""
    return dict(_state().commands)


def list_evaluators() -> list[str]:
    return sorted(_state().evaluators)


def evaluator_entry(name: str) -> EvaluatorEntry:
    evs = _state().evaluators
    if name not in evs:
        raise UnknownEvaluatorError(f"unknown metric {name!r}{_suggest(name, evs)}; "
                                    f"available: {', '.join(sorted(evs)) or 'none'}")
    return evs[name]


def list_trainers() -> list[str]:
    """Methods with a registered trainer (``gan3d train --list``), sorted."""
    return sorted(_state().trainers)


def trainer_entry(method: str):
    """The :class:`gan3d.train.TrainerEntry` of ``method``; an unknown method lists the registered ones."""
    trainers = _state().trainers
    if method not in trainers:
        raise InputError(f"no trainer for method {method!r}{_suggest(method, trainers)}; registered trainers: "
                         f"{', '.join(sorted(trainers)) or 'none (install a method plugin)'} (see `gan3d train --list`)")
    return trainers[method]


def _looks_like_path(s: str) -> bool:
    # "method/variant" names also contain a slash, so only an existing path, a checkpoint suffix or an
    # explicit ./ ~ / prefix make a string a path.
    return (Path(s).exists() or s.startswith((".", "/", "~")) or s.count(os.sep) > 1
            or Path(s).suffix in {".pkl", ".pt", ".pth", ".json", ".safetensors"})


def check_device(device) -> str:
    """A usable torch device string, or a clear error (unknown name, CUDA/MPS absent, index out of range).

    ``"auto"`` is CUDA when available, else the CPU.
    """
    import torch

    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise InputError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError(f"device {device!r} asked for, but Apple's MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise InputError(f"device {device!r} is not supported; use cpu, cuda, cuda:N, mps or auto")
    return str(dev)


def _name_seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"gan3d random weights|{name}".encode()).digest()[:8], "little") >> 1


def load_checkpoint(path: str | os.PathLike, device: str = "cpu"):
    """The generator in the file or folder ``path``, built by the plugin that recognises its format."""
    from .train.snapshot import generator_folder

    key = os.fspath(path)
    path = Path(key).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint {key!r} does not exist")
    path = generator_folder(path)  # a training run or snapshot folder: its (latest) generator
    gen = _state().pm.hook.gan3d_load_checkpoint(path=path, device=device)
    if gen is None:
        plugins = [n for n, _ in _state().pm.list_name_plugin()]
        raise CheckpointError(f"no installed plugin recognises the format of {key!r} "
                              f"(installed: {', '.join(sorted(plugins))})")
    return gen


def load(name_or_path: str | os.PathLike, device: str = "cpu", weights: str | os.PathLike | None = None):
    """A generator, ready for inference (``eval()``, no grad) on ``device``.

    * ``"eg3d/ffhq512-128"``: a registered name; weights resolve through the cache (downloaded and
      sha256-checked where the card has a URL), or ``weights`` (a file or folder) overrides them.
    * ``"path/to/checkpoint.pkl"``: a file or folder in a method's own format, handed to the plugin
      that recognises it; a ``gan3d train`` run folder (its latest snapshot) or snapshot folder.

    ``weights="random"`` builds a registered model with random-initialised weights; the generator's
    ``weights_note`` then reads ``"random weights"`` and comparisons and leaderboards show it. They are
    drawn from a seed derived from the model's name, so every load (a demo's grid and its scores, the
    processes of a sharded run, a resumed run) gets the same network.
    """
    from . import cache

    device = check_device(device)
    key = os.fspath(name_or_path)
    if key in _state().models:
        entry = _state().models[key]
        if isinstance(weights, str) and weights == "random":
            with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is left as it was
                torch.default_generator.manual_seed(_name_seed(key))  # the CPU stream only: CUDA's stay as they are
                gen = entry.build(entry.card, None, "cpu")  # CPU init: the same numbers whatever the device
            gen.weights_note = "random weights"
        else:
            gen = entry.build(entry.card, cache.resolve(entry.card, override=weights), device)
    elif _looks_like_path(key):
        gen = load_checkpoint(key, device)
    else:
        model_entry(key)  # raises with suggestions
        raise AssertionError("unreachable")
    gen.eval().requires_grad_(False)
    return gen.to(device)
