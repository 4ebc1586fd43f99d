"""LiftedGAN's ``gan3d video`` and ``gan3d inspect`` (method commands: the core dispatches on the model)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from gan3d.cli.args import (add_device_argument, add_weights_arguments, check_fps, check_positive, check_truncation,
                            default_out, load_model, output_dir)
from gan3d.errors import InputError
from gan3d.images import mark_weights, save_png
from gan3d.latents import parse_seeds, sample_latents
from gan3d.video import write_video

from .model import LiftedGAN, normal_to_image, pose_sweep_view, relight_vector


def official_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B,C,H,W]`` -> ``[B,H,W,C]`` uint8 as the official tools: clamp to [-1,1], x0.5+0.5, x255, truncate."""
    x = ((images.detach().float().clamp(-1, 1) * 0.5 + 0.5) * 255).to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def sweep(kind: str, relight: bool) -> list[float]:
    """The official angle lists: yaw -45..45 step 3, pitch -15..15 step 1, light -60..60 step 6 (degrees)."""
    if relight:
        return [float(a) for a in range(-60, 61, 6)]
    if kind == "yaw":
        return [float(a) for a in range(-45, 46, 3)]
    if kind == "pitch":
        return [float(a) for a in range(-15, 16, 1)]
    raise InputError(f"--path must be yaw or pitch, got {kind!r}")


def _model(args) -> LiftedGAN:
    G = load_model(args)
    if not isinstance(G, LiftedGAN):
        raise InputError(f"{args.model} is not a LiftedGAN model ({type(G).__name__}); these commands need "
                         f"LiftedGAN's light and view controls")
    return G


@torch.no_grad()
def run_video(args) -> int:
    check_fps(args.fps)
    check_positive(args.frames, "--frames", 2)
    check_truncation(args.trunc)
    angles = sweep(args.path, args.relight)
    if args.frames is not None:
        lo, hi = angles[0], angles[-1]
        angles = [lo + (hi - lo) * i / (args.frames - 1) for i in range(args.frames)]
    interp = parse_seeds(args.interp) if args.interp else None
    if interp is not None and len(interp) != 2:
        raise InputError(f"--interp takes two seeds, e.g. 3,7; got {args.interp!r}")
    seeds = parse_seeds(args.seeds)
    out = output_dir(args.out or default_out("video", args.model))
    G = _model(args)
    if interp:
        seeds = interp
        lat = sample_latents(G, seeds)
        w = G.mapping(lat.z.to(G.device), None, args.trunc)[:, 0]
        jobs = [(f"interp{seeds[0]}-{seeds[1]}", w[0:1], w[1:2])]
    else:
        lat = sample_latents(G, seeds)
        w = G.mapping(lat.z.to(G.device), None, args.trunc)[:, 0]
        jobs = [(f"seed{s:04d}", w[i:i + 1], None) for i, s in enumerate(lat.seeds)]
    label = "light" if args.relight else args.path
    written = []
    bar = tqdm(total=len(jobs) * len(angles), desc=f"video {G.card.name}", unit="frame")
    for name, wa, wb in jobs:
        est_a = G.estimate(wa)
        frames = []
        for k, a in enumerate(angles):
            est = est_a
            if wb is not None:  # interpolate the style while the face turns
                t = k / max(len(angles) - 1, 1)
                est = G.estimate(torch.lerp(wa, wb, t))
            if args.relight:
                o = G.render(est, light=relight_vector(a, 1).to(G.device))
            else:
                o = G.render(est, view=pose_sweep_view(args.path, a, 1).to(G.device))
            frames.append(mark_weights(official_uint8(o.image)[0], G))
            bar.update(1)
        written.append(write_video(frames, out / f"{name}_{label}.{args.format}", args.fps))
    bar.close()
    print(f"wrote {len(written)} video(s) of {len(angles)} frames to {out}")
    return 0


@torch.no_grad()
def run_inspect(args) -> int:
    check_truncation(args.trunc)
    seeds = parse_seeds(args.seeds)
    out = output_dir(args.out or default_out("inspect", args.model))
    G = _model(args)
    lat = sample_latents(G, seeds)
    w = G.mapping(lat.z.to(G.device), None, args.trunc)
    with tqdm(total=len(seeds), desc=f"inspect {G.card.name}", unit="seed") as bar:
        o = G.synthesize(w, own_pose=True)
        bar.update(len(seeds))
    ex = o.extras
    depth = ex["canon_depth"]
    lo, hi = G.config.min_depth, G.config.max_depth
    maps = {
        "render": o.image,
        "canonical": ex["canon_im_raw"],
        "albedo": ex["canon_albedo"],
        "shading": ex["canon_shading"] * 2 - 1,  # shading a + b max(0, n.d) lies in about [0, 1]
        "depth": ((hi - depth) / (hi - lo)) * 2 - 1,  # near = bright, fixed range so seeds compare
        "normal": normal_to_image(ex["canon_normal"]),
        "transformation": ex["trans_map"] * 2 - 1,
    }
    images = {k: official_uint8(v) for k, v in maps.items()}
    for i, s in enumerate(lat.seeds):
        for k, arr in images.items():
            save_png(arr[i], out / f"seed{s:04d}_{k}.png")
        save_png(mark_weights(np.concatenate([arr[i] for arr in images.values()], axis=1), G), out / f"seed{s:04d}.png")
    print(f"wrote {', '.join(maps)} maps for {len(lat.seeds)} seed(s) to {out}")
    return 0


def add_video_arguments(p) -> None:
    p.add_argument("model", help="liftedgan/ffhq256, liftedgan/afhqcat256 or a checkpoint path")
    p.add_argument("--seeds", default="0", help="seeds, e.g. 0-3 (default 0)")
    p.add_argument("--interp", default=None, metavar="A,B", help="interpolate from seed A to seed B while rotating")
    p.add_argument("--path", default="yaw", choices=("yaw", "pitch"), help="rotation sweep (default yaw)")
    p.add_argument("--relight", action="store_true", help="sweep the light direction instead of the pose")
    p.add_argument("--frames", type=int, default=None, help="resample the sweep to N frames")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--format", default="gif", choices=("gif", "mp4"))
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi (official 0.7)")
    add_device_argument(p)
    add_weights_arguments(p, "weight folder")
    p.add_argument("--out", default=None, help="output folder (default outputs/video/<model>)")


def add_inspect_arguments(p) -> None:
    p.add_argument("model")
    p.add_argument("--seeds", default="0-3")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi (official 0.7)")
    add_device_argument(p)
    add_weights_arguments(p, "weight folder")
    p.add_argument("--out", default=None, help="output folder (default outputs/inspect/<model>)")


def method_commands() -> list:
    """LiftedGAN's ``gan3d video`` and ``gan3d inspect`` (the core dispatches on the model's method)."""
    import gan3d

    return [
        gan3d.MethodCommand("video", "liftedgan", add_video_arguments, run_video,
                            "the official pose sweeps (--path yaw: -45..45 deg, pitch: -15..15 deg), --relight "
                            "(light -60..60 deg), --interp A,B while rotating; GIF or MP4"),
        gan3d.MethodCommand("inspect", "liftedgan", add_inspect_arguments, run_inspect,
                            "render, canonical image, depth, albedo, shading, normal and transformation maps"),
    ]


__all__ = ["method_commands", "official_uint8", "run_inspect", "run_video", "sweep"]
