"""``gan3d dataset synth``: render the procedural head world into an EG3D zip."""

from __future__ import annotations


def add_synth_parser(subparsers) -> None:
    """Add the ``synth`` action to ``gan3d dataset``'s sub-commands."""
    p = subparsers.add_parser(
        "synth", help="render the procedural 3D head world (images, cameras, masks, depth, truth)",
        description="Render samples 0..NUM-1 of the procedural head world into an EG3D zip: images with their "
                    "camera labels, CNeRF-order semantic masks (masks/), 16-bit depth maps (depth/) and the true "
                    "identity, smile and light of every sample (dataset.json). The same seed and count give a "
                    "byte-identical file; a larger count extends a smaller one.")
    p.add_argument("--num", type=int, required=True, help="number of images")
    p.add_argument("--res", type=int, default=64, help="resolution: 64, 128 or 256 (default 64)")
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument("--out", required=True, help="the zip to write")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.set_defaults(func=run_synth)


def run_synth(args) -> int:
    import time

    from ..data.synth import write_dataset
    from ..data.synth.writer import check_resolution
    from ..data.write import check_output
    from ..errors import InputError

    check_resolution(args.res)
    if args.num < 1:
        raise InputError(f"--num must be a positive number of images, got {args.num}")
    if args.seed < 0:
        raise InputError(f"--seed must be non-negative, got {args.seed}")
    out = check_output(args.out, args.force)
    t = time.perf_counter()
    write_dataset(out, args.num, args.res, args.seed)
    dt = time.perf_counter() - t
    print(f"wrote {out} ({args.num} images at {args.res}x{args.res}, {args.num / dt:.0f} images/s)")
    return 0
