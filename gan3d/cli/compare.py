"""``gan3d compare``: several models (or checkpoints) on identical latents and cameras."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..compare import (compare, grid_image, load_or_random, lpips_against_first, model_label, orbit_frames,
                       save_latents)
from ..errors import InputError
from ..images import save_png
from ..latents import Latents, parse_seeds
from ..registry import list_models, load
from ..video import write_video
from .args import pair_pitches, parse_angles


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="render several models on identical latents and cameras",
        description="Rows = models, columns = seeds x views. Models with the same latent size get the same z "
                    "for a seed; others get their own draw from the same seed (stated in the grid). Every "
                    "model receives the same cameras (built from the first model's card unless --radius/--fov); "
                    "views outside a model's trained pose range are rendered and marked.")
    p.add_argument("models", nargs="+", help="registered names or checkpoint paths")
    p.add_argument("--seeds", default=None, help="seeds, e.g. 0-7 (default 0-3, or the latent file's)")
    p.add_argument("--latents", default=None, help="a .pt/.npz latent file (used where its spec fits)")
    p.add_argument("--yaw", default="-1.2:1.2:7", help="radians: a list or start:stop:count (default -1.2:1.2:7)")
    p.add_argument("--pitch", default="0", help="one pitch or one per yaw (radians)")
    p.add_argument("--radius", type=float, default=None)
    p.add_argument("--fov", type=float, default=None, help="field of view in degrees")
    p.add_argument("--trunc", type=float, default=0.7)
    p.add_argument("--trunc-cutoff", type=int, default=None)
    p.add_argument("--lpips", action="store_true", help="per-seed LPIPS of each model against the first")
    p.add_argument("--lpips-net", default="alex", choices=("alex", "vgg", "squeeze"))
    p.add_argument("--lpips-weights", default=None, help="local torchvision backbone checkpoint for LPIPS")
    p.add_argument("--lpips-random-backbone", action="store_true",
                   help="LPIPS with a random backbone (offline smoke tests only; not a real distance)")
    p.add_argument("--frames", type=int, default=48, help="orbit video frames (0: no video)")
    p.add_argument("--tile", type=int, default=128, help="pixels per view in the grid")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--random-if-missing", action="store_true",
                   help="run models whose weights are missing with random weights (labelled), e.g. offline")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="outputs/compare")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.frames < 0 or args.tile < 16 or args.batch_size < 1:
        raise InputError("--frames must be >= 0, --tile >= 16 and --batch-size >= 1")
    yaws = parse_angles(args.yaw, "yaw")
    pitches = pair_pitches(yaws, parse_angles(args.pitch, "pitch"))
    latents = Latents.load(args.latents) if args.latents else None
    seeds = parse_seeds(args.seeds) if args.seeds is not None else (None if latents is not None else [0, 1, 2, 3])
    gens = [load_or_random(m, args.device) if args.random_if_missing and m in list_models() else
            load(m, device=args.device) for m in args.models]
    for G in gens:
        G.set_deterministic(True)  # a comparison should not vary with sampling noise
    labels = [model_label(G, m) for G, m in zip(gens, args.models)]
    card = gens[0].card.camera
    radius = card.radius if args.radius is None else args.radius
    if not (math.isfinite(radius) and radius > 0):
        raise InputError(f"--radius must be a positive number, got {args.radius}")
    cam_kw = {"radius": radius, "look_at": tuple(card.look_at)}
    cam_kw.update({"fov_degrees": args.fov} if args.fov is not None else {"focal": card.focal})

    cmp = compare(gens, labels, yaws, pitches, cam_kw, seeds=seeds, latents=latents,
                  truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff, batch_size=args.batch_size)
    if args.lpips:
        from ..eval.lpips import LpipsNet

        net = LpipsNet(args.lpips_net, device=args.device, weights=args.lpips_weights,
                       pnet_rand=args.lpips_random_backbone)
        cmp.lpips = lpips_against_first(cmp, net)
    out = Path(args.out)
    save_png(grid_image(cmp, args.tile), out / "grid.png")
    save_latents(cmp, out / "latents.pt")
    written = [out / "grid.png", out / "latents.pt"]
    if args.frames:
        write_video(orbit_frames(cmp, args.frames, args.trunc, args.trunc_cutoff, tile=args.tile),
                    out / "orbit.mp4", fps=24)
        written.append(out / "orbit.mp4")
    for e in cmp.entries:
        if e.note:
            print(f"{e.label}: {e.note}")
    if cmp.lpips is not None:
        for e, d in zip(cmp.entries[1:], cmp.lpips):
            print(f"LPIPS {cmp.entries[0].label} vs {e.label}: " + ", ".join(f"{x:.4f}" for x in d))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
