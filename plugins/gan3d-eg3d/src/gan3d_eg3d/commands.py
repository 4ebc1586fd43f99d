"""EG3D's command-line tools: ``gan3d video``, ``gan3d shape``, ``gan3d sweep``, ``gan3d inspect``.

They reproduce what the authors' scripts and the reproductions did: the gen_videos.py orbit and
keyframe interpolation, the gen_samples.py density grid (marching cubes at level 10), a study of
single z dimensions, and a look inside the neural renderer at steep angles.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import gan3d
from gan3d.cli.args import (add_device_argument, add_weights_arguments, check_fps, check_positive, check_truncation,
                            default_out, load_model, output_dir, warn_pose_range)
from gan3d.errors import InputError
from gan3d.images import hstack, mark_weights, normalize_map, save_png, to_uint8
from gan3d.io import atomic_write
from gan3d.video import write_video

# gen_videos.py's orbit: yaw 0.35 sin(2 pi t), pitch -0.05 + 0.25 cos(2 pi t) (gan3d orbit angles)
ORBIT_YAW, ORBIT_PITCH, ORBIT_PITCH_OFFSET = 0.35, 0.25, -0.05
SHAPE_LEVEL = 10.0        # the iso-level of gen_samples.py / shape_utils.py (and the README's ChimeraX hint)
SHAPE_PAD_VALUE = -1000.0  # value gen_samples.py writes into the trimmed border


# ---------------------------------------------------------------------------------------------- shared
def _floats(text: str, what: str, n: int | None = None) -> list[float]:
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise InputError(f"bad {what} {text!r}; give comma-separated numbers") from None
    if not vals or not all(math.isfinite(v) for v in vals):
        raise InputError(f"{what} must be finite numbers, got {text!r}")
    if n is not None and len(vals) != n:
        raise InputError(f"{what} needs {n} numbers, got {len(vals)} ({text!r})")
    return vals


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise InputError(f"bad {what} {text!r}; give comma-separated integers") from None
    if not vals:
        raise InputError(f"empty {what} list")
    return vals


def _common(p, seeds: bool = True) -> None:
    p.add_argument("model", help="registered name (e.g. eg3d/ffhq512-128) or a checkpoint path")
    if seeds:
        p.add_argument("--seeds", default="0", help="seeds, e.g. 0-3,7")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation psi (1 = none)")
    p.add_argument("--trunc-cutoff", type=int, default=None, help="truncate only the first N ws (default all)")
    add_weights_arguments(p, "weight file")
    add_device_argument(p)
    p.add_argument("--nrr", type=int, default=None, help="neural rendering resolution (default: the checkpoint's)")
    p.add_argument("--out", default=None, help="output folder (default outputs/<command>/<model>)")


def _load(args, command: str):
    """Check the options every command shares and the output folder, then load the model."""
    check_truncation(args.trunc, args.trunc_cutoff)
    check_positive(args.nrr, "--nrr")
    args.out = output_dir(args.out or default_out(command, args.model))
    return load_model(args)


def _outdir(args, command: str, G) -> Path:
    return output_dir(args.out or default_out(command, G.card.name))


def _synth_kwargs(G, args) -> dict:
    kw = {}
    if args.nrr is not None:
        kw["neural_rendering_resolution"] = args.nrr
    return kw


def _require_eg3d(G, command: str):
    from .generator import EG3DGenerator

    if not isinstance(G, EG3DGenerator):
        raise InputError(f"`gan3d {command}` needs an EG3D model (tri-plane field), got {G.card.name}")


def _frame(out: gan3d.GeneratorOutput, mode: str) -> torch.Tensor:
    """One output map as a ``[B,3,H,W]`` image in [-1,1]: the SR image, image_raw or depth."""
    if mode == "image":
        return out.image
    if mode == "raw":
        return out.image_raw
    if mode == "depth":  # as gen_videos.py: negated, min-max normalised per frame
        if out.depth is None:
            raise InputError("this model returns no depth")
        return normalize_map(-out.depth).repeat(1, 3, 1, 1)
    raise InputError(f"unknown mode {mode!r}")


# ---------------------------------------------------------------------------------------------- video
def _interp_ws(ws: torch.Tensor, frames_per_key: int) -> np.ndarray:
    """gen_videos.py's keyframe interpolation: periodic cubic spline through ``ws [K,14,512]``.

    The keyframes are tiled twice on each side (``wraps=2``) so the loop closes smoothly; returns
    ``[K*frames_per_key,14,512]`` sampled at ``t = i / frames_per_key``.
    """
    from scipy.interpolate import interp1d

    K = ws.shape[0]
    if K == 1:
        return np.repeat(ws.cpu().numpy(), K * frames_per_key, axis=0)
    wraps = 2
    x = np.arange(-K * wraps, K * (wraps + 1))
    y = np.tile(ws.cpu().numpy(), [wraps * 2 + 1, 1, 1])
    f = interp1d(x, y, kind="cubic", axis=0)
    return np.stack([f(i / frames_per_key) for i in range(K * frames_per_key)]).astype(np.float32)


def run_video(args) -> int:
    check_positive(args.frames, "--frames")
    check_fps(args.fps)
    if not args.sample_mult > 0:
        raise InputError("--sample-mult must be positive")
    G = _load(args, "video")
    G.set_deterministic(args.deterministic)
    lat = gan3d.sample_latents(G, args.seeds)
    out = _outdir(args, "video", G)
    kw = _synth_kwargs(G, args)
    from .generator import EG3DGenerator

    if isinstance(G, EG3DGenerator):  # other generators may be filmed too, without these options
        kw["noise_mode"] = "const"  # gen_videos.py renders with constant noise
        if args.sample_mult != 1:
            kw["sample_mult"] = args.sample_mult
    # gen_videos.py: psi 1 means cutoff 14 (all); cutoff 0 means no truncation
    psi, cutoff = args.trunc, args.trunc_cutoff
    if cutoff == 0:
        psi = 1.0
    groups = [lat.seeds] if args.interpolate else [[s] for s in lat.seeds]
    written = []
    with torch.no_grad():
        for seeds in groups:
            z = gan3d.sample_latents(G, seeds).z.to(G.device)
            ws = G.mapping(z, None, psi, cutoff)  # frontal conditioning, as the script
            track = _interp_ws(ws, args.frames)
            n = track.shape[0]
            frames = []
            for i in tqdm(range(n), desc=f"video {'-'.join(map(str, seeds))}", unit="frame"):
                t = i / n
                cam = G.default_camera(ORBIT_YAW * math.sin(2 * math.pi * t),
                                       ORBIT_PITCH_OFFSET + ORBIT_PITCH * math.cos(2 * math.pi * t))
                o = G.synthesize(torch.from_numpy(track[i:i + 1]).to(G.device), cam, **kw)
                frames.append(mark_weights(to_uint8(_frame(o, args.mode))[0], G))
            name = ("interpolation" if args.interpolate else f"seed{seeds[0]:04d}") + f"_{args.mode}.mp4"
            write_video(frames, out / name, fps=args.fps)
            written.append(out / name)
    print(f"wrote {', '.join(map(str, written))}")
    return 0


# ---------------------------------------------------------------------------------------------- shapes
def create_samples(N: int, cube_length: float) -> torch.Tensor:
    """gen_samples.py's sample grid ``[N**3,3]`` over ``[-L/2, L/2]^3``, x slowest, z fastest.

    As in the official script the x and y indices are computed with float division and no floor
    (``(i/N) % N``), so they carry a sub-voxel fraction of the faster indices; reproduced as is.
    """
    if N < 2:
        raise InputError("--res must be at least 2")
    origin = -cube_length / 2
    size = cube_length / (N - 1)
    idx = torch.arange(N ** 3, dtype=torch.int64)
    s = torch.empty(N ** 3, 3)
    s[:, 2] = (idx % N).float()
    s[:, 1] = (idx.float() / N) % N
    s[:, 0] = ((idx.float() / N) / N) % N
    return s * size + origin


def density_grid(G, z: torch.Tensor, res: int, psi: float, cutoff: int | None, batch: int = 1_000_000,
                 desc: str = "shape") -> np.ndarray:
    """The density volume ``[res,res,res]`` exactly as gen_samples.py builds it.

    Raw sigma at every grid point (noise 'const', frontal conditioning), reshaped, flipped on axis 0
    and with a border of ``int(30*res/256)`` voxels set to -1000.
    """
    box = float(G.rendering_kwargs["box_warp"])
    pts = create_samples(res, box)
    with torch.no_grad():
        ws = G.mapping(z, None, psi, cutoff)
        sig = torch.empty(pts.shape[0])
        for head in tqdm(range(0, pts.shape[0], batch), desc=desc, unit="batch"):
            p = pts[head:head + batch].to(G.device)[None]
            d = torch.zeros_like(p)
            d[..., 2] = -1
            sig[head:head + batch] = G.sample_mixed(p, d, ws, noise_mode="const")["sigma"][0, :, 0].cpu()
    vol = np.flip(sig.reshape(res, res, res).numpy(), 0).copy()
    pad = int(30 * res / 256)
    if pad > 0:
        for ax in range(3):
            sl = [slice(None)] * 3
            sl[ax] = slice(0, pad)
            vol[tuple(sl)] = SHAPE_PAD_VALUE
            sl[ax] = slice(res - pad, res)
            vol[tuple(sl)] = SHAPE_PAD_VALUE
    return vol


def crop_slices(crop: list[float], res: int, box: float) -> tuple[slice, slice, slice]:
    """World box ``x0,x1,y0,y1,z0,z1`` -> index slices of the (x-flipped) density volume."""
    x0, x1, y0, y1, z0, z1 = crop
    if not (x0 < x1 and y0 < y1 and z0 < z1):
        raise InputError(f"--crop needs x0<x1, y0<y1, z0<z1, got {crop}")
    size = box / (res - 1)

    def idx(v):  # world coordinate -> grid index (clamped)
        return min(max(int(round((v + box / 2) / size)), 0), res - 1)

    # axis 0 is flipped: index k holds x = box/2 - k*size
    xs = slice(res - 1 - idx(x1), res - idx(x0))
    return xs, slice(idx(y0), idx(y1) + 1), slice(idx(z0), idx(z1) + 1)


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    """Binary little-endian PLY with float32 vertices and int32 triangle indices."""
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(verts)}\n"
              f"property float x\nproperty float y\nproperty float z\nelement face {len(faces)}\n"
              f"property list uchar int vertex_indices\nend_header\n").encode()
    face_rec = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["i"] = faces
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(np.ascontiguousarray(verts, dtype="<f4").tobytes())
            f.write(face_rec.tobytes())


def mesh(vol: np.ndarray, level: float = SHAPE_LEVEL, offset=(0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes on ``vol`` transposed to (z,y,x) as shape_utils.py does; voxel units."""
    from skimage.measure import marching_cubes

    t = np.transpose(vol, (2, 1, 0))
    if not (t.min() < level < t.max()):
        raise InputError(f"the density never crosses level {level} in the meshed region "
                         f"(values {t.min():.3g}..{t.max():.3g}); try another crop or --level")
    verts, faces, _, _ = marching_cubes(t, level=level, spacing=(1.0, 1.0, 1.0))
    verts += np.array([offset[2], offset[1], offset[0]], dtype=verts.dtype)
    return verts, faces


def _histogram(vol: np.ndarray, path: Path, level: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = vol[vol != SHAPE_PAD_VALUE].ravel()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.hist(v, bins=200, log=True, color="#4477aa")
    ax.axvline(level, color="#cc3311", lw=1, label=f"iso-level {level:g}")
    ax.set_xlabel("raw density (sigma)")
    ax.set_ylabel("voxels (log)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def run_shape(args) -> int:
    if args.res < 2:
        raise InputError("--res must be at least 2")
    if not math.isfinite(args.level):
        raise InputError(f"--level must be a finite number (the density iso-level), got {args.level}")
    crop = _floats(args.crop, "--crop (x0,x1,y0,y1,z0,z1)", 6) if args.crop else None
    G = _load(args, "shape")
    _require_eg3d(G, "shape")
    lat = gan3d.sample_latents(G, args.seeds)
    out = _outdir(args, "shape", G)
    box = float(G.rendering_kwargs["box_warp"])
    for i, seed in enumerate(lat.seeds):
        vol = density_grid(G, lat.z[i:i + 1].to(G.device), args.res, args.trunc, args.trunc_cutoff,
                           desc=f"shape seed {seed}")
        sl = crop_slices(crop, args.res, box) if crop else (slice(None),) * 3
        region = vol[sl]
        stem = out / f"seed{seed:04d}"
        if args.format == "mrc":
            import mrcfile

            with atomic_write(stem.with_suffix(".mrc")) as tmp:
                with mrcfile.new(tmp, overwrite=True) as mrc:
                    mrc.set_data(np.ascontiguousarray(region, dtype=np.float32))
            print(f"wrote {stem.with_suffix('.mrc')} ({'x'.join(map(str, region.shape))} float32)")
        else:
            offset = tuple(s.start or 0 for s in sl)
            verts, faces = mesh(region, args.level, offset)
            write_ply(stem.with_suffix(".ply"), verts, faces)
            print(f"wrote {stem.with_suffix('.ply')} ({len(verts)} vertices, {len(faces)} faces)")
        if args.histogram:
            _histogram(region, stem.with_name(stem.name + "_hist.png"), args.level,
                       f"{G.card.name} seed {seed}: density grid {args.res}^3" + (" (crop)" if crop else ""))
    return 0


# ---------------------------------------------------------------------------------------------- sweep
def run_sweep(args) -> int:
    dims, deltas = _ints(args.dims, "--dims"), _floats(args.deltas, "--deltas")
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    G = _load(args, "sweep")
    G.set_deterministic(True)  # only z changes between cells
    warn_pose_range(G.card, [args.yaw], [args.pitch])
    dim = G.card.latent.dim
    bad = [d for d in dims if not 0 <= d < dim]
    if bad:
        raise InputError(f"--dims {bad} out of range; z has {dim} dimensions (0..{dim - 1})")
    z0 = gan3d.sample_latents(G, [args.seed]).z
    cam = G.default_camera(args.yaw, args.pitch)
    kw = _synth_kwargs(G, args)
    rows = []
    with torch.no_grad():
        base = to_uint8(G(z0.to(G.device), cam, truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff,
                          **kw).image)[0]
        bar = tqdm(total=len(dims) * len(deltas), desc=f"sweep seed {args.seed}", unit="image")
        for d in dims:
            zs = z0.repeat(len(deltas), 1)
            zs[:, d] += torch.tensor(deltas)
            imgs = []
            for k in range(0, len(deltas), args.batch_size):
                o = G(zs[k:k + args.batch_size].to(G.device), cam, truncation_psi=args.trunc,
                      truncation_cutoff=args.trunc_cutoff, **kw)
                imgs.extend(to_uint8(o.image))
                bar.update(len(o.image))
            rows.append(hstack([base] + imgs))
        bar.close()
    out = _outdir(args, "sweep", G)
    path = out / f"seed{args.seed:04d}_dims{'-'.join(map(str, dims))}.png"
    save_png(mark_weights(np.concatenate(rows, axis=0), G), path)
    print(f"wrote {path}: rows = z dims {dims}, columns = original then deltas {deltas}")
    return 0


# ---------------------------------------------------------------------------------------------- inspect
def run_inspect(args) -> int:
    G = _load(args, "inspect")
    G.set_deterministic(True)
    warn_pose_range(G.card, [args.yaw], [args.pitch])
    z = gan3d.sample_latents(G, [args.seed]).z.to(G.device)
    cam = G.default_camera(args.yaw, args.pitch)
    with torch.no_grad():
        for _ in tqdm(range(1), desc=f"inspect seed {args.seed}", unit="render"):
            o = G(z, cam, truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff, **_synth_kwargs(G, args))
    size = o.image.shape[-2:]

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x.float(), size=size, mode="nearest")

    panels = {}
    if o.mask is not None:  # accumulated opacity: where the renderer found density
        panels["opacity"] = up(o.mask * 2 - 1).repeat(1, 3, 1, 1)
    if o.depth is not None:
        panels["depth"] = up(normalize_map(-o.depth)).repeat(1, 3, 1, 1)
    feats = o.extras.get("features")
    if feats is not None:
        c0 = args.channel
        if not 0 <= c0 <= feats.shape[1] - 3:
            raise InputError(f"--channel must be in [0, {feats.shape[1] - 3}]")
        panels[f"features{c0}-{c0 + 2}"] = up(normalize_map_per_channel(feats[:, c0:c0 + 3]))
    if o.image_raw is not None:
        panels["image_raw"] = up(o.image_raw)
    panels["image"] = o.image
    out = _outdir(args, "inspect", G)
    stem = f"seed{args.seed:04d}_yaw{args.yaw:+.2f}_pitch{args.pitch:+.2f}"
    for name, img in panels.items():
        save_png(to_uint8(img)[0], out / f"{stem}_{name}.png")
    save_png(mark_weights(hstack([to_uint8(p)[0] for p in panels.values()]), G), out / f"{stem}.png")
    print(f"wrote {out / (stem + '.png')}: panels {', '.join(panels)}")
    return 0


def normalize_map_per_channel(x: torch.Tensor) -> torch.Tensor:
    """Min-max each channel of ``[B,C,H,W]`` to [-1,1] independently (features have unrelated scales)."""
    flat = x.flatten(2)
    lo, hi = flat.min(-1).values[..., None, None], flat.max(-1).values[..., None, None]
    return (x - lo) / (hi - lo).clamp_min(1e-8) * 2 - 1


# ---------------------------------------------------------------------------------------------- registration
def register(sub) -> None:
    existing = set(getattr(sub, "choices", {}) or {})

    if "shape" not in existing:
        p = sub.add_parser("shape", help="density grid -> .ply mesh (default; marching cubes at level 10) or .mrc volume",
                           description="gen_samples.py's density grid (box_warp cube, flipped x, trimmed border), "
                                       "written as a PLY mesh (the default) or an MRC volume. PLY vertex coordinates "
                                       "are in voxel units of the --res grid (as shape_utils.py writes them), while "
                                       "--crop takes world units; --histogram plots the grid values.")
        _common(p)
        p.add_argument("--res", type=int, default=256, help="grid resolution per axis")
        p.add_argument("--format", choices=["mrc", "ply"], default="ply", help="ply mesh (default) or mrc volume")
        p.add_argument("--crop", default=None,
                       help="world-unit box x0,x1,y0,y1,z0,z1 to keep (e.g. the eyes); the mesh stays in voxel units")
        p.add_argument("--level", type=float, default=SHAPE_LEVEL, help="iso-level for .ply (default 10)")
        p.add_argument("--histogram", action="store_true", help="also write a PNG histogram of the grid values")
        p.set_defaults(func=run_shape)

    if "sweep" not in existing:
        p = sub.add_parser("sweep", help="add deltas to single z dimensions and grid the images",
                           description="Rows: one z dimension each; columns: the original, then z[dim]+delta.")
        _common(p, seeds=False)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--dims", default="9,30,100", help="z dimensions to perturb")
        p.add_argument("--deltas", default="-10,-5,-1,1,5,10", help="values added to the dimension")
        p.add_argument("--yaw", type=float, default=0.0)
        p.add_argument("--pitch", type=float, default=0.0)
        p.add_argument("--batch-size", type=int, default=4)
        p.set_defaults(func=run_sweep)


def add_video_arguments(p) -> None:
    _common(p)
    p.add_argument("--mode", choices=["image", "depth", "raw"], default="image")
    p.add_argument("--interpolate", action="store_true", help="one video through all seeds (cubic, looped)")
    p.add_argument("--frames", type=int, default=120, help="frames per keyframe/seed (gen_videos --w-frames)")
    p.add_argument("--fps", type=int, default=60)
    p.add_argument("--sample-mult", type=float, default=2.0, help="depth sample multiplier (gen_videos default 2)")
    p.add_argument("--deterministic", action="store_true", help="no stratified jitter / random pdf samples")


def add_inspect_arguments(p) -> None:
    _common(p, seeds=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--yaw", type=float, default=0.0)
    p.add_argument("--pitch", type=float, default=0.0)
    p.add_argument("--channel", type=int, default=3, help="first of the three feature channels shown")


def method_commands() -> list:
    """EG3D's ``gan3d video`` and ``gan3d inspect`` (the core dispatches on the model's method)."""
    return [
        gan3d.MethodCommand("video", "eg3d", add_video_arguments, run_video,
                            "gen_videos.py's orbit (yaw 0.35 sin, pitch -0.05+0.25 cos), MP4 per seed; "
                            "--interpolate through the seeds; --mode image|depth|raw"),
        gan3d.MethodCommand("inspect", "eg3d", add_inspect_arguments, run_inspect,
                            "opacity, depth and feature channels next to image_raw and the image"),
    ]
