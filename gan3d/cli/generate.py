"""``gan3d generate``: one PNG per seed with the views side by side, plus a grid of all seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..camera import Camera
from ..errors import InputError
from ..images import caption, colorize_labels, grid, hstack, normalize_map, save_png, to_uint8
from ..io import sha256_file, write_text_atomic
from ..latents import Latents, sample_latents
from .args import (add_device_argument, add_weights_arguments, check_fov, check_positive, check_truncation, default_out,
                   load_model, output_dir, pair_pitches, parse_angles, warn_pose_range)


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="render seeds from several views",
        description="Render each seed from the given yaw/pitch views (radians; positive yaw moves the camera "
                    "to the image's right, see gan3d.Camera). Defaults reproduce EG3D's three-view layout. "
                    "Without --deterministic, models with random rendering (EG3D's ray jitter) draw it from "
                    "each batch's first seed: the same command gives the same images, another --batch-size "
                    "may differ slightly.")
    p.add_argument("model", help="registered name (gan3d models) or a checkpoint path")
    p.add_argument("--seeds", default=None, help="seeds, e.g. 0-3,7 (default 0-3)")
    p.add_argument("--latents", default=None, help="a .pt/.npz latent file (e.g. a `gan3d compare` latents.pt) "
                                                   "instead of --seeds")
    p.add_argument("--yaw", default="0.4,0,-0.4", help="yaw angles in radians: a list (-0.4,0,0.4) or start:stop:count")
    p.add_argument("--pitch", default="-0.2", help="one pitch for all views, or one per yaw (radians)")
    p.add_argument("--radius", type=float, default=None, help="camera distance (default: the model card's)")
    p.add_argument("--fov", type=float, default=None, help="field of view in degrees (default: the card's)")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi (1 = none; default 0.7)")
    p.add_argument("--trunc-cutoff", type=int, default=None, help="truncate only the first N ws")
    p.add_argument("--depth", action="store_true", help="add a row of depth maps under each seed's views")
    p.add_argument("--semantic", action="store_true", help="add a row of semantic label maps (models with masks)")
    p.add_argument("--deterministic", action="store_true", help="deterministic rendering (no sampling noise)")
    p.add_argument("--batch-size", type=int, default=4)
    add_device_argument(p)
    add_weights_arguments(p)
    p.add_argument("--out", default=None, help="output folder (default: outputs/generate/<model>)")
    p.set_defaults(func=run)


def _cameras(args, card) -> Camera:
    yaws = parse_angles(args.yaw, "yaw")
    pitches = pair_pitches(yaws, parse_angles(args.pitch, "pitch"))
    warn_pose_range(card, yaws, pitches)
    radius = card.camera.radius if args.radius is None else args.radius
    if not (math.isfinite(radius) and radius > 0):
        raise InputError(f"--radius must be a positive number, got {args.radius}")
    if args.fov is not None:
        return Camera.orbit(yaws, pitches, radius=radius, fov_degrees=args.fov, look_at=card.camera.look_at)
    return Camera.orbit(yaws, pitches, radius=radius, focal=card.camera.focal, look_at=card.camera.look_at)


def run(args) -> int:
    check_positive(args.batch_size, "--batch-size")
    check_truncation(args.trunc, args.trunc_cutoff)
    check_fov(args.fov)
    if args.latents and args.seeds is not None:
        raise InputError("give --seeds or --latents, not both (a latent file brings its own seeds)")
    if args.radius is not None and not (math.isfinite(args.radius) and args.radius > 0):
        raise InputError(f"--radius must be a positive number, got {args.radius}")
    lat_file = Latents.load_all(args.latents) if args.latents else None  # a bad file fails before the model loads
    out = output_dir(args.out or default_out("generate", args.model))
    G = load_model(args)
    G.set_deterministic(args.deterministic)
    card = G.card
    cams = _cameras(args, card)
    miss = G.camera_misses(cams)
    if miss:
        raise InputError(miss.replace("use a camera distance", "use a --radius"))
    lat = Latents.load(args.latents, expect=G) if lat_file else sample_latents(G, "0-3" if args.seeds is None else args.seeds)
    seeds = lat.seeds or list(range(len(lat)))

    # Resume: images of an identical earlier run are kept; any change of settings redoes everything.
    settings = {"model": args.model, "card": card.name, "yaw": args.yaw, "pitch": args.pitch, "radius": args.radius,
                "fov": args.fov, "trunc": args.trunc, "trunc_cutoff": args.trunc_cutoff, "depth": args.depth, "semantic": args.semantic,
                "deterministic": args.deterministic, "weights": args.weights, "latents": args.latents,
                "weights_note": G.weights_note}
    for key in ("latents", "weights"):  # a file edited in place is another setting
        path = Path(settings[key]) if settings[key] and settings[key] != "random" else None
        if path is not None and path.is_file():
            settings[key] = f"{settings[key]} sha256:{sha256_file(path)}"
    G.check_truncation(args.trunc, args.trunc_cutoff, getattr(G, "num_ws", 10**6))
    run_file = out / "run.json"
    try:
        previous = json.loads(run_file.read_text()) if run_file.is_file() else None
    except ValueError:
        previous = None
    reuse = previous is not None and previous.get("settings") == settings
    if not reuse:  # images of other settings must not be mistaken for finished ones
        for old in out.glob("seed*.png"):
            old.unlink()
    write_text_atomic(run_file, json.dumps({"settings": settings, "seeds": seeds}, indent=2))

    def path_of(seed: int) -> Path:
        return out / f"seed{seed:04d}.png"

    todo = [i for i, s in enumerate(seeds) if not (reuse and path_of(s).is_file())]
    bar = tqdm(total=len(seeds), desc=f"generate {card.name}", unit="seed", initial=len(seeds) - len(todo))
    with torch.no_grad():
        for start in range(0, len(todo), args.batch_size):
            idx = todo[start:start + args.batch_size]
            z = G.check_latents(lat.z[idx])
            w = G.mapping(z, None, args.trunc, args.trunc_cutoff)
            views, depths, sems = [], [], []
            for v in range(len(cams)):
                with torch.random.fork_rng(devices=[G.device] if G.device.type == "cuda" else []):
                    torch.manual_seed(seeds[idx[0]] * 1009 + v)  # random rendering, reproducible per command
                    o = G.synthesize(w, cams[v].to(G.device))
                views.append(to_uint8(o.image))
                if args.depth and o.depth is not None:
                    d = o.depth
                    if o.mask is not None:  # show empty space as far away, not as a guessed surface
                        d = torch.where(o.mask > 0.5, d, d.amax(dim=(1, 2, 3), keepdim=True))
                    d = torch.nn.functional.interpolate(d, size=o.image.shape[-2:], mode="nearest")
                    depths.append(to_uint8(-normalize_map(d)).repeat(3, axis=-1))
                if args.semantic:
                    if o.semantic is None:
                        raise InputError(f"{card.name} outputs no semantic masks; drop --semantic")
                    sems.append(colorize_labels(o.semantic, tuple(o.image.shape[-2:])))
            for k, i in enumerate(idx):
                row = hstack([view[k] for view in views])
                if sems:
                    row = np.concatenate([row, hstack([m[k] for m in sems])], axis=0)
                if depths:
                    row = np.concatenate([row, hstack([d[k] for d in depths])], axis=0)
                if G.weights_note:
                    row = caption(row, f"{card.name} [{G.weights_note}] seed {seeds[i]}")
                save_png(row, path_of(seeds[i]))
                bar.update(1)
    bar.close()
    rows = [np.asarray(Image.open(path_of(s)).convert("RGB")) for s in seeds]
    save_png(grid(rows), out / "grid.png")
    print(f"wrote {len(seeds)} images and {out / 'grid.png'}")
    return 0
