"""``gan3d demo``: every installed method compared on the same seeds and cameras, scored, and tabled.

The models shown, in this order: the trained models that plugins ship (package data, :mod:`gan3d.zoo`),
then one model per method whose official weights are in the cache. A method with neither is listed
with the command that adds its weights instead of being rendered as noise; ``random_weights=True``
(``--random-weights``) renders its flagship with random weights, labelled "random weights" in every
image and row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .compare import compare, grid_image, model_label
from .errors import Gan3dError
from .images import save_png
from . import registry
from .registry import list_models, model_card


@dataclass
class DemoPlan:
    """What the demo renders: ``models`` (trained or with their weights), ``random`` (their architecture
    with random weights, asked for) and ``missing`` (name -> how to get the weights; not rendered)."""

    models: list[str] = field(default_factory=list)
    random: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return self.models + self.random


def _runnable(name: str) -> bool:
    """Its weights are here (shipped in a package, or cached and not corrupt), or it needs none."""
    from . import cache

    card = model_card(name)
    return all(f.status in ("verified", "unverified") for f in cache.status(card))


def _how_to_add(name: str) -> str:
    card = model_card(name)
    where = next((u for wf in card.weights for u in wf.urls), None)
    return f"gan3d weights add FILE --model {name}" + (f"   (FILE from {where})" if where else "")


def plan_models(models: list[str] | None = None, include_toy: bool = False,
                random_weights: bool = False) -> DemoPlan:
    """The demo's models: ``models`` as given, else shipped trained models first, then per method one
    model whose weights are cached, else its flagship (the catalogue's first variant) as missing, or with
    random weights when ``random_weights``."""
    from .catalog import KNOWN
    from .zoo import is_shipped

    plan = DemoPlan()
    if models:
        for n in models:
            model_card(n)  # an unknown name is an error with suggestions
            if _runnable(n):
                plan.models.append(n)
            elif random_weights:
                plan.random.append(n)
            else:
                plan.missing[n] = _how_to_add(n)
        return plan
    by_method: dict[str, list[str]] = {}
    for name in list_models():
        by_method.setdefault(model_card(name).method, []).append(name)
    if not include_toy and len(by_method) > 1:
        by_method.pop("toy", None)
    packaged = [n for names in by_method.values() for n in names if is_shipped(model_card(n))]
    shipped = [n for n in packaged if _runnable(n)]
    plan.models += shipped
    for n in packaged:
        if n not in shipped:
            plan.missing[n] = "its shipped weights are missing or fail their sha256 check: reinstall its plugin"
    for method, names in by_method.items():
        official = [n for n in names if n not in packaged]
        order = [f"{method}/{v}" for v in KNOWN.get(method, ("", ()))[1] if f"{method}/{v}" in official]
        order += [n for n in official if n not in order]
        ready = [n for n in order if _runnable(n)]
        if ready:
            plan.models.append(ready[0])
        elif order:
            shown = any(model_card(n).method == method for n in shipped)
            if random_weights and not shown:
                plan.random.append(order[0])
            else:  # listed even beside a shipped model of its method: the official weights are worth adding
                plan.missing[order[0]] = _how_to_add(order[0])
    return plan


def run_demo(out: str | Path = "outputs/demo", models: list[str] | None = None, seeds: str = "0-3",
             yaws: tuple[float, ...] = (-0.5, 0.0, 0.5), pitch: float = -0.1, num: int = 2,
             metrics: tuple[str, ...] = ("pose", "smile", "id", "lpips_diversity", "fid"),
             device: str = "cpu", tile: int = 128, reference: str | None = None, smile_frames: int = 3,
             random_weights: bool = False, resolution: int | None = 256, log=print) -> dict[str, Path]:
    """The whole demo; returns the paths it wrote (``grid``, ``store``, ``leaderboard``), none when no
    model could be shown (every method's weights missing, and ``random_weights`` not asked for).

    ``resolution``: every model is scored at this image size (None: each at its own), so that methods of
    different native resolution share one leaderboard column per metric."""
    from . import leaderboard
    from .latents import parse_seeds
    from .runs import execute, parse_config
    from .store import ResultStore

    if num < 1:
        raise Gan3dError(f"the demo's evaluation needs at least 1 latent per metric, got num={num}")
    out = Path(out)
    if not list_models():
        raise Gan3dError("no models installed; install a plugin, e.g. pip install ./plugins/gan3d-eg3d")
    plan = plan_models(models, random_weights=random_weights)
    if plan.missing:
        width = max(map(len, plan.missing))
        log("not shown, their weights are not here (add them, then run the demo again):\n"
            + "\n".join(f"  {n:{width}s}  {how}" for n, how in plan.missing.items()))
    names = plan.names
    if not names:
        log("nothing to show: no trained model ships with the installed plugins and no weights are cached; "
            "add weights as listed, or see the pipeline on untrained networks with --random-weights")
        return {}
    t0 = time.perf_counter()
    gens = [registry.load(n, device=device) for n in plan.models] + [_random(n, device, log) for n in plan.random]
    for G in gens:
        G.set_deterministic(True)
    # the same directions for every model, each at its own card's distance and focal (scene scales differ)
    cmp = compare(gens, [model_label(G, n) for G, n in zip(gens, names)], list(yaws), [pitch] * len(yaws), {},
                  seeds=parse_seeds(seeds), truncation_psi=0.7, batch_size=2)
    grid = save_png(grid_image(cmp, tile), out / "compare" / "grid.png")
    log(f"comparison grid: {grid}  ({time.perf_counter() - t0:.0f} s)")

    # the evaluation run: metrics whose networks are available offline run, the others are skipped loudly
    usable = [m for m in metrics if _metric_available(m, gens[0], reference, log)]
    store = out / "results.sqlite"
    random_models = [n for n, G in zip(names, gens) if G.weights_note]
    del gens, cmp
    if usable:
        cfg = parse_config(dict(name="demo", models=names, metrics=usable, num=num, store=str(store),
                                reference=reference, allow_random_weights=bool(random_models), device=device,
                                batch_size=4, resolution=resolution,
                                metric_options={"smile": {"frames": smile_frames}} if "smile" in usable else {}),
                           "demo run")
        execute(cfg, progress=True)
    with ResultStore(store) as st:
        results = st.results()
    page = leaderboard.write(results, out / "leaderboard.html", "html", images=[grid])
    log(f"leaderboard: {page}\nresults store: {store}\ntotal {time.perf_counter() - t0:.0f} s")
    return {"grid": grid, "store": store, "leaderboard": page}


def _random(name: str, device: str, log):
    """``name`` with random weights, asked for with --random-weights: said loudly, labelled everywhere."""
    log("\n" + "!" * 78 + f"\n!! {name}: RANDOM WEIGHTS (--random-weights): its images and numbers show the "
        f"pipeline only.\n!! Add the real weights with: {_how_to_add(name)}\n" + "!" * 78)
    return registry.load(name, device=device, weights="random")


def _metric_available(metric: str, G, reference: str | None, log) -> bool:
    """Whether a metric's networks (and data) can be had here: its evaluator is built and set up once."""
    from .eval.harness import EvalContext, HarnessConfig
    from .registry import evaluator_entry

    if metric == "fid" and reference is None:
        log("!! skipping metric 'fid': it needs reference images (gan3d demo --ref FOLDER_OR_DATASET_ZIP)")
        return False
    try:
        ev = evaluator_entry(metric).build(**({"ref": reference} if metric == "fid" else {}))
        ev.begin(EvalContext(G, HarnessConfig(num=1, progress=False), G.device))
        return True
    except Gan3dError as e:
        log(f"!! skipping metric {metric!r}: {str(e).splitlines()[0]}")
        return False
