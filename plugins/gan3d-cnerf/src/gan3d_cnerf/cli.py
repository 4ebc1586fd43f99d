"""CNeRF's commands: ``regions`` (each region alone), ``edit`` (swap or move one region's codes) and
``cnerf-sweep`` (the official 10-view azimuth sweep with colour-coded masks).

Names that another plugin already took get a ``cnerf-`` prefix instead of failing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from tqdm.auto import tqdm

import gan3d
from gan3d.cli.args import (add_device_argument, add_weights_arguments, check_positive, check_truncation, default_out,
                            load_model, output_dir, warn_pose_range)
from gan3d.errors import InputError
from gan3d.images import mark_weights, save_png, to_uint8

from .camera import camera_from_angles
from .classes import CLASS_NAMES, colorize, region_index
from .editing import (PARTS, edit_locality, final_semantic, load_direction, move_region, parse_steps,
                      swap_region)

# inference_Full.py: azimuth 0.3 * linspace(-1.5, 1.5, 10), elevation 0.15 * 0.8
SWEEP_AZIMUTHS = (0.3 * np.linspace(-1.5, 1.5, 10)).tolist()
SWEEP_ELEVATION = 0.15 * 0.8


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def labelled_grid(tiles: list[list[np.ndarray]], labels: list[list[str]], tile: int) -> np.ndarray:
    """Rows of ``[H,W,3]`` uint8 images, each resized to ``tile`` pixels with a caption under it."""
    rows, cols = len(tiles), max(len(r) for r in tiles)
    cap = 16
    canvas = Image.new("RGB", (cols * tile, rows * (tile + cap)), "white")
    draw, font = ImageDraw.Draw(canvas), _font(11)
    for i, row in enumerate(tiles):
        for j, img in enumerate(row):
            im = Image.fromarray(img)
            if im.size != (tile, tile):
                im = im.resize((tile, tile), Image.NEAREST if im.size[0] < tile else Image.LANCZOS)
            canvas.paste(im, (j * tile, i * (tile + cap)))
            draw.text((j * tile + 3, i * (tile + cap) + tile + 2), labels[i][j], fill="black", font=font)
    return np.asarray(canvas)


def _add_common(p, seed_default: int = 3) -> None:
    p.add_argument("model", help="a registered CNeRF model (gan3d models) or a checkpoint path")
    p.add_argument("--seed", type=int, default=seed_default, help=f"the identity (default {seed_default})")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi as the official inference (default 0.7)")
    p.add_argument("--yaw", type=float, default=0.0, help="camera yaw in radians (gan3d.Camera convention)")
    p.add_argument("--pitch", type=float, default=0.0, help="camera pitch in radians")
    p.add_argument("--tile", type=int, default=192, help="pixels per image in the grid")
    add_device_argument(p)
    add_weights_arguments(p)


def _name(sub, name: str) -> str:
    return f"cnerf-{name}" if name in sub.choices else name


def register(sub) -> None:
    """Add the commands to the ``gan3d`` parser (hook ``gan3d_add_commands``)."""
    p = sub.add_parser(_name(sub, "regions"), help="CNeRF: every semantic region rendered alone",
                       description="Render one identity, then each of CNeRF's nine regions alone: the decoder fed "
                                   "with that region's features only (top) and the region's own low-res colour "
                                   "(bottom), captioned with the region's name.")
    _add_common(p)
    p.add_argument("--out", default=None, help="output folder (default outputs/regions/<model>)")
    p.set_defaults(func=run_regions)

    p = sub.add_parser(_name(sub, "edit"), help="CNeRF: edit one region's shape/texture codes",
                       description="Swap one region's codes with another seed's (--from-seed) or move them along a "
                                   "direction (--direction FILE|self with --steps). Prints how local each edit was: "
                                   "mean change inside/outside the region's mask and their ratio.")
    _add_common(p)
    p.add_argument("--region", required=True, help=f"one of: {', '.join(CLASS_NAMES)}")
    p.add_argument("--from-seed", type=int, default=None, help="take the region's codes from this seed")
    p.add_argument("--direction", default=None, help="'self' (the code's own direction) or a .pt/.npy/.npz file")
    p.add_argument("--steps", default="-3:3:7", help="step sizes along the direction: start:stop:count or a list")
    p.add_argument("--part", default=None, choices=PARTS,
                   help="which codes to edit (default: both for --from-seed, shape for --direction)")
    p.add_argument("--out", default=None, help="output folder (default outputs/edit/<model>)")
    p.set_defaults(func=run_edit)

    p = sub.add_parser("cnerf-sweep", help="CNeRF: the official 10-view azimuth sweep with masks",
                       description="For each seed, the 10 views of inference_Full.py (azimuth 0.3*linspace(-1.5,1.5,10), "
                                   "elevation 0.12) and their colour-coded semantic masks.")
    _sweep_arguments(p, "cnerf-sweep")
    p.add_argument("--video", action="store_true", help="also write sweep.mp4 (image | mask per frame)")
    p.set_defaults(func=run_sweep)


def _sweep_arguments(p, command: str) -> None:
    p.add_argument("model", help="a registered CNeRF model (gan3d models) or a checkpoint path")
    p.add_argument("--seeds", default="0-2", help="seeds, e.g. 0-2 (default 0-2)")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi as the official inference (default 0.7)")
    p.add_argument("--tile", type=int, default=128, help="pixels per image in the grids")
    add_device_argument(p)
    add_weights_arguments(p)
    p.add_argument("--out", default=None, help=f"output folder (default outputs/{command}/<model>)")


def add_sweep_arguments(p) -> None:
    """``gan3d video cnerf/...``'s options: the sweep's, and the MP4 is always written."""
    _sweep_arguments(p, "video")


def run_video(args) -> int:
    """``gan3d video cnerf/...``: the sweep, always with its MP4."""
    args.video = True
    return run_sweep(args, "video")


def method_commands() -> list:
    return [gan3d.MethodCommand("video", "cnerf", add_sweep_arguments, run_video,
                                "the official 10-view azimuth sweep (inference_Full.py) with semantic masks, MP4")]


def _load(args, kind: str):
    """Check the shared options and the output folder (``args.out``), then load the model."""
    from .generator import CNeRFGenerator

    check_truncation(args.trunc)
    check_positive(getattr(args, "tile", None), "--tile", 16)
    args.out = output_dir(args.out or default_out(kind, args.model))
    G = load_model(args)
    if not isinstance(G, CNeRFGenerator):
        raise InputError(f"{args.model} is a {G.card.method} model; this command needs a CNeRF model")
    if hasattr(args, "yaw"):
        warn_pose_range(G.card, [args.yaw], [args.pitch])
    return G


def _w_for_seed(G, seed: int, psi: float) -> torch.Tensor:
    z = gan3d.sample_latents(G, [seed]).z.to(G.device)
    return G.mapping(z, truncation_psi=psi)


def _camera(G, args) -> gan3d.Camera:
    return G.card.camera.orbit(args.yaw, args.pitch).to(G.device)


@torch.no_grad()
def run_regions(args) -> int:
    G = _load(args, "regions")
    cam = _camera(G, args)
    w = _w_for_seed(G, args.seed, args.trunc)
    with tqdm(total=1, desc=f"regions seed {args.seed}", unit="render") as bar:
        full, alone = G.render_regions(w, cam)  # one volume rendering for all regions
        bar.update(1)
    sem = final_semantic(full)
    top, bottom = [to_uint8(full.image)[0], to_uint8(colorize(sem))[0]], [to_uint8(full.image_raw)[0],
                                                                          to_uint8(colorize(full.semantic))[0]]
    top_l, bottom_l = ["image", "semantic mask"], ["low-res image", "low-res mask"]
    for k in range(G.num_classes):
        name = CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class {k}"
        top.append(to_uint8(alone[:, k])[0])
        bottom.append(to_uint8(full.extras["regions"][:, k])[0])
        top_l.append(f"{k} {name}")
        bottom_l.append(f"{name} (own colour)")
    path = save_png(mark_weights(labelled_grid([top, bottom], [top_l, bottom_l], args.tile), G),
                    Path(args.out) / f"seed{args.seed:04d}_regions.png")
    print(f"wrote {path}")
    return 0


@torch.no_grad()
def run_edit(args) -> int:
    if (args.from_seed is None) == (args.direction is None):
        raise InputError("give exactly one of --from-seed SEED or --direction FILE|self")
    k = region_index(args.region)
    if args.direction is not None and args.direction != "self":
        load_direction(args.direction, None)  # a bad file fails before the model loads
    G = _load(args, "edit")
    cam = _camera(G, args)
    w = _w_for_seed(G, args.seed, args.trunc)
    if args.from_seed is not None:
        part = args.part or "both"
        edits = swap_region(w, _w_for_seed(G, args.from_seed, args.trunc), k, part)
        labels = [f"{CLASS_NAMES[k]} {part} from seed {args.from_seed}"]
    else:
        part = args.part or "shape"
        steps = parse_steps(args.steps)
        direction = "self" if args.direction == "self" else load_direction(args.direction, G.config.style_dim)
        edits = move_region(w, k, steps, direction, part)
        labels = [f"{CLASS_NAMES[k]} {part} {s:+.2f}" for s in steps]
    before = G.synthesize(w, cam)
    after = gan3d.GeneratorOutput.cat([G.synthesize(edits[i:i + 1], cam)
                                       for i in tqdm(range(edits.shape[0]), desc=f"edit {CLASS_NAMES[k]}", unit="edit")])
    sem_b, sem_a = final_semantic(before), final_semantic(after)
    loc = edit_locality(before, after, k)
    empty = loc["empty"]
    scores = ["n/a (region empty)" if e else f"{float(s):.3f}" for e, s in zip(empty.tolist(), loc["score"])]
    tiles = [[to_uint8(before.image)[0]] + list(to_uint8(after.image)),
             [to_uint8(colorize(sem_b))[0]] + list(to_uint8(colorize(sem_a)))]
    names = [[f"seed {args.seed}"] + labels, ["mask"] + [f"locality {s}" for s in scores]]
    out = Path(args.out)
    tag = f"from{args.from_seed}" if args.from_seed is not None else "direction"
    path = save_png(mark_weights(labelled_grid(tiles, names, args.tile), G),
                    out / f"seed{args.seed:04d}_{CLASS_NAMES[k]}_{tag}.png")
    if bool(empty.any()):
        print(f"warning: the {CLASS_NAMES[k]} region is empty for seed {args.seed} from this camera (before and after "
              f"{'every' if bool(empty.all()) else 'some'} edit), so its locality cannot be measured; try another "
              f"--seed, --region or --yaw", file=sys.stderr)
    for lab, i, o, s in zip(labels, loc["inside"], loc["outside"], scores):
        print(f"{lab}: change inside {CLASS_NAMES[k]} {float(i):.4f}, outside {float(o):.4f}, locality {s}")
    print(f"wrote {path}")
    return 0


@torch.no_grad()
def run_sweep(args, command: str = "cnerf-sweep") -> int:
    seeds = gan3d.parse_seeds(args.seeds)
    G = _load(args, command)
    cams = camera_from_angles(SWEEP_AZIMUTHS, [SWEEP_ELEVATION] * len(SWEEP_AZIMUTHS),
                              G.config.half_fov_degrees).to(G.device)
    out = Path(args.out)
    frames = []
    bar = tqdm(total=len(seeds) * len(cams), desc=f"{command} {G.card.name}", unit="view")
    for seed in seeds:
        w = _w_for_seed(G, seed, args.trunc)
        views = []
        for v in range(len(cams)):
            views.append(G.synthesize(w, cams[v]))
            bar.update(1)
        o = gan3d.GeneratorOutput.cat(views)
        sem = final_semantic(o)
        imgs, masks = to_uint8(o.image.clamp(-1, 1)), to_uint8(colorize(sem))
        tiles = [list(imgs), list(masks)]
        labels = [[f"azim {a:+.2f}" for a in SWEEP_AZIMUTHS], [""] * len(SWEEP_AZIMUTHS)]
        save_png(mark_weights(labelled_grid(tiles, labels, args.tile), G), out / f"seed{seed:04d}_sweep.png")
        frames += [mark_weights(np.concatenate([i, m], axis=1), G) for i, m in zip(imgs, masks)]
    bar.close()
    msg = f"wrote {len(seeds)} sweeps to {out}"
    if args.video:
        from gan3d.video import write_video

        write_video(frames, out / "sweep.mp4", fps=5)
        msg += f" and {out / 'sweep.mp4'}"
    print(msg)
    return 0
