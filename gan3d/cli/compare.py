"""``gan3d compare``: several models (or checkpoints) on identical latents and cameras."""

from __future__ import annotations

import math

from ..compare import compare, grid_image, lpips_against_first, model_label, orbit_frames, save_latents
from ..errors import InputError
from ..images import save_png
from ..latents import Latents, parse_seeds
from ..video import write_video
from .args import (RANDOM_WEIGHTS_HELP, add_device_argument, check_fov, check_positive, check_truncation, load_model,
                   output_dir, pair_pitches, parse_angles, warn_pose_range)


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="render several models on identical latents and cameras",
        description="Rows = models, columns = seeds x views. Models with the same latent size get the same z "
                    "for a seed; others get their own draw from the same seed (stated in the grid). Every "
                    "model is seen from the same directions (yaw, pitch), each at its own card's distance, pivot "
                    "and focal length (--radius/--fov override them for every model; --absolute-cameras gives "
                    "every model the first model's very cameras); views outside a model's trained pose range are "
                    "rendered and marked, and a camera that would show a model nothing is an error.")
    p.add_argument("models", nargs="+", help="registered names or checkpoint paths")
    p.add_argument("--seeds", default=None, help="seeds, e.g. 0-7 (default 0-3, or the latent file's)")
    p.add_argument("--latents", default=None, help="a .pt/.npz latent file (used where its spec fits)")
    p.add_argument("--yaw", default="-1.2:1.2:7", help="radians: a list or start:stop:count (default -1.2:1.2:7)")
    p.add_argument("--pitch", default="0", help="one pitch or one per yaw (radians)")
    p.add_argument("--radius", type=float, default=None, help="camera distance for every model (default: each card's)")
    p.add_argument("--fov", type=float, default=None, help="field of view in degrees for every model (default: each card's)")
    p.add_argument("--absolute-cameras", action="store_true",
                   help="every model gets the first model's cameras (same distance and focal, not only direction)")
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
    p.add_argument("--random-weights", action="store_true", help=RANDOM_WEIGHTS_HELP)
    p.add_argument("--random-if-missing", action="store_true",
                   help="run models whose weights are missing with random weights (labelled), e.g. offline")
    add_device_argument(p)
    p.add_argument("--out", default="outputs/compare")
    p.set_defaults(func=run)


def run(args) -> int:
    check_positive(args.frames, "--frames", 0)
    check_positive(args.tile, "--tile", 16)
    check_positive(args.batch_size, "--batch-size", 1)
    check_truncation(args.trunc, args.trunc_cutoff)
    check_fov(args.fov)
    if args.radius is not None and not (math.isfinite(args.radius) and args.radius > 0):
        raise InputError(f"--radius must be a positive number, got {args.radius}")
    yaws = parse_angles(args.yaw, "yaw")
    pitches = pair_pitches(yaws, parse_angles(args.pitch, "pitch"))
    latents = Latents.load_all(args.latents) if args.latents else None
    seeds = parse_seeds(args.seeds) if args.seeds is not None else (None if latents is not None else [0, 1, 2, 3])
    out = output_dir(args.out)
    gens = [load_model(args, m) for m in args.models]
    for G in gens:
        G.set_deterministic(True)  # a comparison should not vary with sampling noise
    for card in {G.card.name: G.card for G in gens}.values():
        warn_pose_range(card, yaws, pitches)
    labels = [model_label(G, m) for G, m in zip(gens, args.models)]
    cam_kw = {} if args.radius is None else {"radius": args.radius}
    if args.fov is not None:
        cam_kw["fov_degrees"] = args.fov

    cmp = compare(gens, labels, yaws, pitches, cam_kw, seeds=seeds, latents=latents,
                  truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff, batch_size=args.batch_size,
                  absolute_cameras=args.absolute_cameras)
    if args.lpips:
        from ..eval.lpips import LpipsNet

        net = LpipsNet(args.lpips_net, device=args.device, weights=args.lpips_weights,
                       pnet_rand=args.lpips_random_backbone)
        cmp.lpips = lpips_against_first(cmp, net)
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
