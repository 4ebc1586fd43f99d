"""``gan3d demo``: every installed method compared on the same seeds and cameras, scored, and tabled.

The models shown, in this order: the trained models that plugins ship (package data, :mod:`gan3d.zoo`),
then one model per method whose official weights are in the cache. A method with neither is listed
with the command that adds its weights instead of being rendered as noise; ``random_weights=True``
(``--random-weights``) renders its flagship with random weights, labelled "random weights" in every
image and row. A 2D model (its card's ``is_3d`` False, e.g. the StyleGAN2 teacher LiftedGAN ships with) is
listed, not compared: it has no camera or depth.

Written under the output folder: ``compare/grid.png`` (identical latents and cameras, yaw sweep),
``videos/<method>/<variant>.mp4`` (a short orbit per model, random weights aside), ``results.sqlite``
(the evaluation run) and ``leaderboard.html`` (with the shipped models' FID-during-training curves from
their cards).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

from .compare import Comparison, compare, grid_image, model_label, orbit_frames
from .errors import Gan3dError
from .images import save_png
from . import registry
from .registry import list_models, model_card

DEMO_PSI = 0.7       # truncation of the grid and the videos
VIDEO_FRAMES = 24    # one second at 24 fps: each model's orbit stays cheap on a CPU (64 px: ~0.1-0.5 s a frame)

@dataclass
class DemoPlan:
    """What the demo renders: ``models`` (trained or with their weights), ``random`` (their architecture
    with random weights, asked for), ``missing`` (name -> how to get the weights; not rendered) and
    ``not_compared`` (name -> why: 2D models, which a 3D comparison cannot turn)."""

    models: list[str] = field(default_factory=list)
    random: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)

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


def not_compared_reason(name: str) -> str:
    """Why the 2D model ``name`` stays out of the comparison, naming the models whose training used its run
    (their cards' :attr:`~gan3d.cards.TrainingRecord.inputs`), e.g. "2D teacher of liftedgan/synth64"."""
    run = model_card(name).training
    roles = []
    if run is not None:
        for other in list_models():
            t = model_card(other).training
            roles += [f"{i.option} of {other}" for i in (t.inputs if t else ()) if i.run == run.run]
    return (f"2D {' and '.join(roles) if roles else 'model'}, not compared "
            f"(a 2D GAN: no camera, no depth, so no turn and no multi-view metrics)")


def plan_models(models: list[str] | None = None, include_toy: bool = False,
                random_weights: bool = False) -> DemoPlan:
    """The demo's models: ``models`` as given, else shipped trained models first, then per method one
    model whose weights are cached, else its flagship (the catalogue's first variant) as missing, or with
    random weights when ``random_weights``. 2D models (card ``is_3d`` False) go to ``not_compared``."""
    from .catalog import KNOWN
    from .zoo import is_shipped

    plan = DemoPlan()
    if models:
        for n in models:
            if not model_card(n).is_3d:  # an unknown name is an error with suggestions
                plan.not_compared[n] = not_compared_reason(n)
            elif _runnable(n):
                plan.models.append(n)
            elif random_weights:
                plan.random.append(n)
            else:
                plan.missing[n] = _how_to_add(n)
        return plan
    by_method: dict[str, list[str]] = {}
    for name in list_models():
        if not model_card(name).is_3d:
            plan.not_compared[name] = not_compared_reason(name)
            continue
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
             random_weights: bool = False, resolution: int | None = 256, video_frames: int = VIDEO_FRAMES,
             log=print) -> dict[str, Path]:
    """The whole demo; returns the paths it wrote (``grid``, ``videos`` (their folder, when ``video_frames``
    and a model with real weights is shown), ``store``, ``leaderboard``), none when no model could be shown
    (every method's weights missing, and ``random_weights`` not asked for).

    ``resolution``: every model is scored at this image size (None: each at its own), so that methods of
    different native resolution share one leaderboard column per metric. ``video_frames``: frames of each
    model's orbit video (0: none)."""
    from . import leaderboard
    from .latents import parse_seeds
    from .runs import execute, parse_config
    from .store import ResultStore

    if num < 1:
        raise Gan3dError(f"the demo's evaluation needs at least 1 latent per metric, got num={num}")
    out = Path(out)
    if not list_models():
        raise Gan3dError("no models installed; install a plugin, e.g. pip install ./plugins/gan3d-eg3d")
    if video_frames < 0:
        raise Gan3dError(f"the orbit videos need 0 (none) or more frames, got {video_frames}")
    plan = plan_models(models, random_weights=random_weights)
    if plan.not_compared:
        width = max(map(len, plan.not_compared))
        log("not compared:\n" + "\n".join(f"  {n:{width}s}  {why}" for n, why in plan.not_compared.items()))
    if plan.missing:
        width = max(map(len, plan.missing))
        log("not shown, their weights are not here (add them, then run the demo again):\n"
            + "\n".join(f"  {n:{width}s}  {how}" for n, how in plan.missing.items()))
    names = plan.names
    if not names:
        if plan.not_compared and not plan.missing:
            log("nothing to compare: the demo turns 3D-aware models; name some with --models")
        else:
            log("nothing to show: no trained model ships with the installed plugins and no weights are cached; "
                "add weights as listed, or see the pipeline on untrained networks with --random-weights")
        return {}
    t0 = time.perf_counter()
    gens = [registry.load(n, device=device) for n in plan.models] + [_random(n, device, log) for n in plan.random]
    for G in gens:
        G.set_deterministic(True)
    # the same directions for every model, each at its own card's distance and focal (scene scales differ)
    cmp = compare(gens, [model_label(G, n) for G, n in zip(gens, names)], list(yaws), [pitch] * len(yaws), {},
                  seeds=parse_seeds(seeds), truncation_psi=DEMO_PSI, batch_size=2)
    grid = save_png(grid_image(cmp, tile), out / "compare" / "grid.png")
    log(f"comparison grid: {grid}  ({time.perf_counter() - t0:.0f} s)")
    paths: dict[str, Path] = {"grid": grid}
    if video_frames:
        t1 = time.perf_counter()
        videos = orbit_videos(cmp, out / "videos", video_frames, tile)
        unfilmed = [e.generator.card.name for e in cmp.entries if e.generator.card.name not in videos]
        if videos:
            log("orbit videos:\n" + "".join(f"  {p}\n" for p in videos.values())
                + f"  ({time.perf_counter() - t1:.0f} s)")
            paths["videos"] = out / "videos"
        if unfilmed:
            log(f"no orbit video of {', '.join(unfilmed)}: random weights")
    cards = [G.card for G in gens]

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
    page = leaderboard.write(results, out / "leaderboard.html", "html", images=[grid], cards=cards)
    log(f"leaderboard: {page}\nresults store: {store}\ntotal {time.perf_counter() - t0:.0f} s")
    return {**paths, "store": store, "leaderboard": page}


def orbit_videos(cmp: Comparison, folder: Path, frames: int = VIDEO_FRAMES, tile: int = 128,
                 fps: int = 24) -> dict[str, Path]:
    """A short orbit video per compared model on the comparison's first seed: the frames of ``gan3d
    compare``'s orbit (:func:`gan3d.compare.orbit_frames`, yaw swinging over the compared sweep), one model
    each, ``tile`` pixels square; ``FOLDER/<method>/<variant>.mp4`` (``.gif`` without imageio-ffmpeg).
    Models with random weights are not filmed: turning noise shows nothing and costs the most (the
    flagships render at up to 512 px). Returns model name -> file."""
    from .video import write_video

    suffix = ".mp4" if importlib.util.find_spec("imageio_ffmpeg") else ".gif"
    written = {}
    for e in cmp.entries:
        G = e.generator
        if G.weights_note:
            continue
        one = Comparison([e], e.cameras, cmp.yaws, cmp.pitches, camera_kwargs=e.camera_kwargs)
        film = orbit_frames(one, frames, DEMO_PSI, None, max_seeds=1, tile=tile)
        written[G.card.name] = write_video(film, folder / f"{G.card.name}{suffix}", fps=fps)
    return written


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
