"""``gan3d models`` and ``gan3d info``."""

from __future__ import annotations

import fnmatch
import json
import math

from .. import cache
from ..registry import failed_plugins, list_models, model_card


def register(sub) -> None:
    p = sub.add_parser("models", help="list registered models and whether their weights are cached",
                       description="Table of every registered model with its cached-weights status, catalogued models whose "
                                   "plugin is not installed, and the installed plugins.")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'eg3d/*'")
    p.set_defaults(func=run_models)

    p = sub.add_parser("info", help="show a model's card", description="Print a model card (text or JSON).")
    p.add_argument("name", help="registered model name, e.g. eg3d/ffhq512-128")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(func=run_info)


def _weights_status(card) -> str:
    if not card.weights:
        return "none needed"
    from ..zoo import is_shipped

    states = [f.status for f in cache.status(card)]
    if all(s in ("verified", "unverified") for s in states):
        return ("shipped" if is_shipped(card) else "cached") + (" (verified)" if all(s == "verified" for s in states)
                                                                 else "")
    if any(s == "MISMATCH" for s in states):
        return "CHECKSUM MISMATCH"
    n = sum(s != "missing" for s in states)
    return "not cached" if n == 0 else f"{n}/{len(states)} files"


def run_models(args) -> int:
    from ..catalog import known_names

    names = list_models(args.pattern)
    rows = [("NAME", "DATASET", "RES", "LATENT", "WEIGHTS")]
    for n in names:
        c = model_card(n)
        rows.append((n, c.dataset, str(c.resolution), c.latent.describe(), _weights_status(c)))
    for n, dist in sorted(known_names().items()):  # catalogued models whose plugin is missing
        if n not in names and (args.pattern is None or fnmatch.fnmatch(n, args.pattern)):
            rows.append((n, "-", "-", "-", f"plugin not installed: pip install ./plugins/{dist}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print(f"plugins: {', '.join(_installed_plugins()) or 'none installed'}")
    for name, err in failed_plugins().items():
        print(f"plugin {name} failed to load: {err}")
    return 0


def _installed_plugins() -> list[str]:
    """``name (distribution version)`` of every loaded plugin (those registered from entry points)."""
    import importlib.metadata

    from ..registry import ENTRY_POINT_GROUP, plugin_manager

    dists = {ep.name: ep.dist for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    out = []
    for name, _ in sorted(plugin_manager().list_name_plugin()):
        dist = dists.get(name)
        if dist is not None:
            out.append(f"{name} ({dist.metadata['Name']} {dist.version})")
        elif name != "gan3d-core":  # registered at run time (tests, notebooks)
            out.append(name)
    return out


def run_info(args) -> int:
    card = model_card(args.name)
    if args.json:
        print(json.dumps(card.model_dump(mode="json"), indent=2))
        return 0
    cam = card.camera
    print(f"{card.name}  ({card.method}, {card.dataset}, {card.resolution}px)")
    if card.description:
        print(f"  {card.description}")
    print(f"  latent:     {card.latent.describe()}")
    true_fov = 2 * math.degrees(math.atan(0.5 / cam.focal))
    print(f"  camera:     radius {cam.radius}, look-at {tuple(cam.look_at)}, focal {cam.focal:.4f} "
          f"(horizontal fov {true_fov:.2f} deg; EG3D's fov_degrees {cam.fov_degrees:.3f})")
    print(f"  pose range: yaw {card.pose_range.yaw}, pitch {card.pose_range.pitch} (radians)")
    for wf, st in zip(card.weights, cache.status(card)):
        print(f"  weights:    {wf.filename} [{st.status}]" + (f" {st.path}" if st.path else ""))
        for u in wf.urls:
            print(f"              {u}")
        if wf.sha256:
            print(f"              sha256 {wf.sha256}")
    if card.training:
        t = card.training
        fid = (f"FID {t.fid.value:.2f} at {t.fid.kimg:g} kimg ({t.fid.network}, {t.fid.num} samples)" if t.fid
               else "no FID")
        print(f"  trained:    {t.kimg:g} of {t.recipe_kimg:g} kimg on {t.data}, seed {t.seed}, batch {t.batch}, "
              f"{t.seconds / 3600:.2f} h on {t.machine}; {fid}")
        print(f"              recipe {t.recipe} (run {t.run})")
    if card.packed:
        print(f"  stored:     {card.packed.dtype}" + (f"; {card.packed.note}" if card.packed.note else ""))
    if card.license:
        print(f"  licence:    {card.license}")
    if card.citation:
        print(f"  paper:      {card.citation.title}" + (f" (arXiv {card.citation.arxiv})" if card.citation.arxiv else ""))
        if card.citation.bibtex:
            print("\n" + card.citation.bibtex.strip())
    return 0
