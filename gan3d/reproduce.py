"""Re-training shipped models from their recipes (``gan3d reproduce``, ``make reproduce-synth``).

Each recipe (a training config kept in a plugin's ``recipes/`` folder) is trained from scratch with
``gan3d train``'s own loop, optionally on a smaller budget (``kimg``), and the FID its run measured is
set against the FID on the card of the shipped model packed from the same recipe (matched by the
recipe's content, or failing that its path), at the shipped snapshot's kimg when the run reached it.
A recipe whose options name another run (``teacher = "run:NAME"``) trains after the recipe called NAME,
into the same ``out``, and uses that new run.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .cards import ModelCard
from .errors import InputError
from .io import sha256_file

# e.g. synth64.toml and stylegan2-synth64.toml; not recipes/ablations/ (the pattern is not recursive)
SYNTH_RECIPES = "*synth64*.toml"


def synth_recipes(pattern: str = SYNTH_RECIPES) -> list[Path]:
    """The recipes matching ``pattern`` directly in the ``recipes/`` folder of every installed plugin package."""
    from .registry import ENTRY_POINT_GROUP

    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = ep.value.split(":")[0].split(".")[0]
        try:
            folder = importlib.resources.files(package).joinpath("recipes")
        except ModuleNotFoundError:
            continue
        if isinstance(folder, Path) and folder.is_dir():
            found += sorted(folder.glob(pattern))
    return found


def shipped_card(recipe: Path) -> ModelCard | None:
    """The card of the shipped model trained from ``recipe``: the same content, else the same path."""
    from .pack import repo_path
    from .registry import model_card
    from .zoo import shipped_models

    cards = [model_card(n) for n in shipped_models()]
    cards = [c for c in cards if c.training is not None]
    digest, where = sha256_file(recipe), repo_path(recipe)
    return (next((c for c in cards if c.training.recipe_sha256 == digest), None)
            or next((c for c in cards if c.training.recipe == where), None))


@dataclass(frozen=True)
class Reproduction:
    """One recipe trained again, and its FID against the shipped model's."""

    recipe: Path
    run: Path
    kimg: float
    seconds: float
    fid: float | None                 # the run's FID at ``fid_kimg``
    fid_kimg: float | None
    shipped: ModelCard | None

    def summary(self) -> str:
        head = f"{self.recipe.name}: {self.kimg:g} kimg in {self.seconds:.0f} s -> {self.run}"
        if self.fid is None:
            return head + "\n  no FID measured (the recipe lists no fid metric, or no snapshot was scored)"
        line = head + f"\n  FID {self.fid:.2f} at {self.fid_kimg:g} kimg"
        ship = self.shipped
        if ship is None:
            return line + "; no shipped model was packed from this recipe yet"
        if ship.training.fid is None:
            return line + f"; {ship.name}'s card records no FID"
        ref = ship.training.fid
        gap = self.fid - ref.value
        when = "" if abs(ref.kimg - (self.fid_kimg or 0)) < 1e-6 else \
            f" (the shipped FID is at {ref.kimg:g} kimg: not the same training length)"
        return line + f"; {ship.name} shipped with FID {ref.value:.2f}: {gap:+.2f}{when}"


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def training_order(paths: list[Path], raws: list[dict]) -> list[int]:
    """Indices of the recipes in the order they train: a recipe naming ``run:NAME`` in its options after
    every recipe of the list whose run is called NAME, otherwise in the given order.

    A reference to a NAME that no recipe of the list trains is left to :func:`resolve_config` (the run
    must exist already under ``out``); a cycle is an :class:`InputError`.
    """
    from .train.config import config_run_name, run_references

    names = [config_run_name(r) for r in raws]
    needs = [sorted({j for name in run_references(r).values() for j, n in enumerate(names) if n == name})
             for r in raws]
    order: list[int] = []
    while len(order) < len(raws):
        ready = [i for i in range(len(raws)) if i not in order and all(j in order for j in needs[i])]
        if not ready:
            stuck = [i for i in range(len(raws)) if i not in order]
            links = "; ".join(f"{paths[i]} needs {', '.join(repr(names[j]) for j in needs[i] if j not in order)}"
                              for i in stuck)
            raise InputError(f"the recipes' run:NAME references form a cycle ({links}); no order trains each "
                             f"run before the recipes that use it: break the cycle")
        order.append(ready[0])
    return order


def reproduce(recipes: list[str | os.PathLike] | None = None, kimg: float | None = None,
              out: str | os.PathLike = "training-runs/reproduce", overrides: dict | None = None,
              progress: bool = True, log=print) -> list[Reproduction]:
    """Train every recipe (default: :func:`synth_recipes`) into ``out`` and compare its FID with the shipped one.

    ``kimg`` shortens every run (the budget); ``overrides`` are merged into each recipe (a test's tiny
    data set and metric sizes).
    """
    from .train.config import config_run_name, load_train_config, resolve_config, run_references
    from .train.logs import metric_curve
    from .train.loop import train

    paths = [Path(r) for r in recipes] if recipes else synth_recipes()
    if not paths:
        raise InputError("no recipes to reproduce: no installed plugin has recipes/*synth64*.toml; name the "
                         "training configs to run")
    if kimg is not None and not kimg > 0:
        raise InputError(f"the budget must be a positive number of kimg, got {kimg}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"recipe(s) not found: {', '.join(missing)}")
    raws = []
    for p in paths:
        raw = _merge(load_train_config(p), overrides or {})
        raw["out"] = str(out)
        if kimg is not None:
            raw["kimg"] = kimg
        raws.append(raw)
    order = training_order(paths, raws)
    trained_here = {config_run_name(r) for r in raws}
    # every recipe is checked before the first one trains for hours; a reference to a run that an earlier
    # recipe trains is resolved (and the method's data check done) just before its own training
    resolved = {i: resolve_config(raws[i], str(paths[i]), defer_runs=trained_here) for i in order}
    done = []
    for i in order:
        p, cfg = paths[i], resolved[i]
        if set(run_references(raws[i]).values()) & trained_here:
            cfg = resolve_config(raws[i], str(p))
        log(f"reproducing {p} ({cfg.config.method}, {cfg.kimg:g} kimg) ...")
        t0 = time.perf_counter()
        run = train(cfg, progress=progress)
        seconds = time.perf_counter() - t0
        ship = shipped_card(p)
        curve = dict(metric_curve(run, "fid"))
        at = ship.training.fid.kimg if ship is not None and ship.training.fid is not None else None
        fid_kimg = at if at is not None and any(abs(k - at) < 1e-6 for k in curve) else max(curve, default=None)
        fid = next((v for k, v in curve.items() if fid_kimg is not None and abs(k - fid_kimg) < 1e-6), None)
        rep = Reproduction(p, run, cfg.kimg, seconds, fid, fid_kimg, ship)
        log(rep.summary())
        done.append(rep)
    return done
