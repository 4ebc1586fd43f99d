"""CNeRF's commands: ``regions`` (each region alone), ``edit`` (swap or move one region's codes) and
``cnerf-sweep`` (the official 10-view azimuth sweep with colour-coded masks).

Names that another plugin already took get a ``cnerf-`` prefix instead of failing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

import gan3d
from gan3d.errors import InputError
from gan3d.images import save_png, to_uint8

from .camera import camera_from_angles
from .classes import CLASS_NAMES, colorize, region_index
from .editing import PARTS, load_direction, locality, move_region, parse_steps, region_mask, swap_region

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
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--weights", default=None, help="weight file/folder overriding the cache")


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
    add_sweep_arguments(p)
    p.set_defaults(func=run_sweep)


def add_sweep_arguments(p) -> None:
    p.add_argument("model")
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--trunc", type=float, default=0.7)
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("--video", action="store_true", help="also write sweep.mp4 (image | mask per frame)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--weights", default=None)
    p.add_argument("--out", default=None, help="output folder (default outputs/cnerf-sweep/<model>)")


def run_video(args) -> int:
    """``gan3d video cnerf/...``: the sweep, always with its MP4."""
    args.video = True
    return run_sweep(args)


def method_commands() -> list:
    return [gan3d.MethodCommand("video", "cnerf", add_sweep_arguments, run_video,
                                "the official 10-view azimuth sweep (inference_Full.py) with semantic masks, MP4")]


def _load(args):
    from .generator import CNeRFGenerator

    if not math.isfinite(args.trunc) or not -1 <= args.trunc <= 2:
        raise InputError(f"--trunc must be a number in [-1, 2], got {args.trunc}")
    if getattr(args, "tile", 64) < 16:
        raise InputError("--tile must be at least 16 pixels")
    G = getattr(args, "generator", None) or gan3d.load(args.model, device=args.device, weights=args.weights)
    G = G.to(args.device)
    if not isinstance(G, CNeRFGenerator):
        raise InputError(f"{args.model} is a {G.card.method} model; this command needs a CNeRF model")
    return G


def _out(args, kind: str, G) -> Path:
    out = Path(args.out or Path("outputs") / kind / G.card.name.replace("/", "_"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _w_for_seed(G, seed: int, psi: float) -> torch.Tensor:
    z = gan3d.sample_latents(G, [seed]).z.to(G.device)
    return G.mapping(z, truncation_psi=psi)


def _camera(G, args) -> gan3d.Camera:
    return G.card.camera.orbit(args.yaw, args.pitch).to(G.device)


@torch.no_grad()
def run_regions(args) -> int:
    G = _load(args)
    cam = _camera(G, args)
    w = _w_for_seed(G, args.seed, args.trunc)
    full, alone = G.render_regions(w, cam)  # one volume rendering for all regions
    sem = full.extras.get("semantic_high", full.semantic)
    top, bottom = [to_uint8(full.image)[0], to_uint8(colorize(sem))[0]], [to_uint8(full.image_raw)[0],
                                                                          to_uint8(colorize(full.semantic))[0]]
    top_l, bottom_l = ["image", "semantic mask"], ["low-res image", "low-res mask"]
    for k in range(G.num_classes):
        name = CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class {k}"
        top.append(to_uint8(alone[:, k])[0])
        bottom.append(to_uint8(full.extras["regions"][:, k])[0])
        top_l.append(f"{k} {name}")
        bottom_l.append(f"{name} (own colour)")
    out = _out(args, "regions", G)
    path = save_png(labelled_grid([top, bottom], [top_l, bottom_l], args.tile), out / f"seed{args.seed:04d}_regions.png")
    print(f"wrote {path}")
    return 0


@torch.no_grad()
def run_edit(args) -> int:
    if (args.from_seed is None) == (args.direction is None):
        raise InputError("give exactly one of --from-seed SEED or --direction FILE|self")
    k = region_index(args.region)
    G = _load(args)
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
    after = gan3d.GeneratorOutput.cat([G.synthesize(edits[i:i + 1], cam) for i in range(edits.shape[0])])
    sem_b = before.extras.get("semantic_high", before.semantic)
    sem_a = after.extras.get("semantic_high", after.semantic)
    # the region before or after the edit (a swapped mouth may be larger than the original)
    mask = torch.clamp(region_mask(sem_b, k).expand(len(edits), -1, -1, -1) + region_mask(sem_a, k), max=1)
    loc = locality(before.image.expand_as(after.image), after.image, mask)
    tiles = [[to_uint8(before.image)[0]] + list(to_uint8(after.image)),
             [to_uint8(colorize(sem_b))[0]] + list(to_uint8(colorize(sem_a)))]
    names = [[f"seed {args.seed}"] + labels, ["mask"] + [f"locality {float(s):.2f}" for s in loc["score"]]]
    out = _out(args, "edit", G)
    tag = f"from{args.from_seed}" if args.from_seed is not None else "direction"
    path = save_png(labelled_grid(tiles, names, args.tile), out / f"seed{args.seed:04d}_{CLASS_NAMES[k]}_{tag}.png")
    for lab, i, o, s in zip(labels, loc["inside"], loc["outside"], loc["score"]):
        print(f"{lab}: change inside {CLASS_NAMES[k]} {float(i):.4f}, outside {float(o):.4f}, "
              f"locality {float(s):.3f}")
    print(f"wrote {path}")
    return 0


@torch.no_grad()
def run_sweep(args) -> int:
    G = _load(args)
    seeds = gan3d.parse_seeds(args.seeds)
    cams = camera_from_angles(SWEEP_AZIMUTHS, [SWEEP_ELEVATION] * len(SWEEP_AZIMUTHS),
                              G.config.half_fov_degrees).to(G.device)
    out = _out(args, "cnerf-sweep", G)
    frames = []
    for seed in seeds:
        w = _w_for_seed(G, seed, args.trunc)
        o = gan3d.GeneratorOutput.cat([G.synthesize(w, cams[v]) for v in range(len(cams))])
        sem = o.extras.get("semantic_high", o.semantic)
        imgs, masks = to_uint8(o.image.clamp(-1, 1)), to_uint8(colorize(sem))
        tiles = [list(imgs), list(masks)]
        labels = [[f"azim {a:+.2f}" for a in SWEEP_AZIMUTHS], [""] * len(SWEEP_AZIMUTHS)]
        save_png(labelled_grid(tiles, labels, args.tile), out / f"seed{seed:04d}_sweep.png")
        frames += [np.concatenate([i, m], axis=1) for i, m in zip(imgs, masks)]
    msg = f"wrote {len(seeds)} sweeps to {out}"
    if args.video:
        from gan3d.video import write_video

        write_video(frames, out / "sweep.mp4", fps=5)
        msg += f" and {out / 'sweep.mp4'}"
    print(msg)
    return 0
