"""``gan3d demo``: every installed method compared on the same seeds and cameras, scored, and tabled.

Where a model's official weights are cached (or downloadable) they are used; otherwise the demo says
so loudly and runs the architecture with random weights, so the whole pipeline still runs offline.
Such images and rows are labelled "random weights" everywhere.
"""

from __future__ import annotations

import time
from pathlib import Path

from .compare import compare, grid_image, load_or_random, model_label
from .errors import Gan3dError
from .images import save_png
from .registry import list_models, model_card


def pick_models(include_toy: bool = False) -> list[str]:
    """One model per installed method: a variant with cached weights, else the method's flagship (the
    first variant the catalogue lists), else the first by name."""
    from . import cache
    from .catalog import KNOWN

    by_method: dict[str, list[str]] = {}
    for name in list_models():
        by_method.setdefault(model_card(name).method, []).append(name)
    if not include_toy and len(by_method) > 1:
        by_method.pop("toy", None)
    picks = []
    for names in by_method.values():
        cached = [n for n in names if model_card(n).weights and
                  all(f.status in ("verified", "unverified") for f in cache.status(model_card(n)))]
        method = model_card(names[0]).method
        flagship = [f"{method}/{v}" for v in KNOWN.get(method, ("", ()))[1][:1] if f"{method}/{v}" in names]
        picks.append((cached or flagship or names)[0])
    return picks


def run_demo(out: str | Path = "outputs/demo", models: list[str] | None = None, seeds: str = "0-3",
             yaws: tuple[float, ...] = (-0.5, 0.0, 0.5), pitch: float = -0.1, num: int = 2,
             metrics: tuple[str, ...] = ("pose", "smile", "id", "lpips_diversity", "fid"),
             device: str = "cpu", tile: int = 128, reference: str | None = None, smile_frames: int = 3,
             log=print) -> dict[str, Path]:
    """The whole demo; returns the paths it wrote (``grid``, ``store``, ``leaderboard``)."""
    from . import leaderboard
    from .latents import parse_seeds
    from .runs import execute, parse_config
    from .store import ResultStore

    if num < 1:
        raise Gan3dError(f"the demo's evaluation needs at least 1 latent per metric, got num={num}")
    out = Path(out)
    names = models or pick_models()
    if not names:
        raise Gan3dError("no models installed; install a plugin, e.g. pip install ./plugins/gan3d-eg3d")
    t0 = time.perf_counter()
    gens = [load_or_random(n, device, log) for n in names]
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
                                batch_size=4,
                                metric_options={"smile": {"frames": smile_frames}} if "smile" in usable else {}),
                           "demo run")
        execute(cfg, progress=True)
    with ResultStore(store) as st:
        results = st.results()
    page = leaderboard.write(results, out / "leaderboard.html", "html", images=[grid])
    log(f"leaderboard: {page}\nresults store: {store}\ntotal {time.perf_counter() - t0:.0f} s")
    return {"grid": grid, "store": store, "leaderboard": page}


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
