"""``gan3d dataset``: make, inspect and mirror training data sets (and ``synth``, the procedural world)."""

from __future__ import annotations

import argparse

from ..errors import InputError


def register(sub) -> None:
    p = sub.add_parser("dataset", help="make, inspect and mirror training data sets",
                       description="Training data in EG3D's format: a zip of images with dataset.json camera labels, "
                                   "optionally with semantic masks at masks/<image path>.")
    ds = p.add_subparsers(dest="dataset_command", metavar="ACTION", parser_class=type(p))

    m = ds.add_parser("make", help="an EG3D zip from an image folder and camera labels",
                      description="Write an EG3D zip (00000/img00000000.png ..., dataset.json) from a folder or zip "
                                  "of images. Masks at masks/<image path> come along.")
    m.add_argument("images", help="folder (or zip) of images")
    m.add_argument("--labels", default=None,
                   help="camera labels JSON: {relpath: [25 numbers]} or dataset.json's "
                        "{\"labels\": [[relpath, [25]]]} (default: the source's own dataset.json; without one: "
                        "an unlabelled zip)")
    m.add_argument("--out", required=True, help="the zip to write")
    m.add_argument("--res", type=int, default=None, help="resize to RxR (Lanczos; masks nearest)")
    m.add_argument("--crop", choices=("center", "none"), default="center",
                   help="non-square images: centre-crop (intrinsics adjusted) or refuse (default center)")
    m.add_argument("--force", action="store_true", help="overwrite --out")
    m.set_defaults(func=run_make)

    i = ds.add_parser("info", help="count, resolution, classes, label sanity and poses of a data set")
    i.add_argument("path", help="zip, folder or synth:num=N,res=R,seed=S")
    i.add_argument("--png", default=None, help="write a histogram of the labels' yaw and pitch here")
    i.add_argument("--json", action="store_true", help="print the findings as JSON")
    i.set_defaults(func=run_info)

    r = ds.add_parser("mirror", help="add x-flipped copies with mirrored camera labels",
                      description="Write a zip with the input plus a mirrored copy of every image "
                                  "(<name>_mirror.png), its label mirrored as EG3D's mirror_dataset.py does "
                                  "(masks and depth flipped too).")
    r.add_argument("input", help="labelled zip or folder")
    r.add_argument("--out", required=True, help="the zip to write")
    r.add_argument("--force", action="store_true", help="overwrite --out")
    r.set_defaults(func=run_mirror)

    c = ds.add_parser("celebamask", help="a mask-pair zip from CelebAMask-HQ",
                      description="Write a zip of CelebA-HQ images with their CelebAMask-HQ class maps (masks/...); "
                                  "the reader maps the 19 classes to CNeRF's nine.")
    c.add_argument("root", help="the CelebAMask-HQ folder (holding CelebA-HQ-img/ and CelebAMask-HQ-mask-anno/)")
    c.add_argument("--out", required=True, help="the zip to write")
    c.add_argument("--res", type=int, default=512, help="resolution of images and masks (default 512)")
    c.add_argument("--max-images", type=int, default=None, help="only the first N images")
    c.add_argument("--force", action="store_true", help="overwrite --out")
    c.set_defaults(func=run_celebamask)

    try:
        from .dataset_synth import add_synth_parser
    except ModuleNotFoundError as e:  # the procedural world is an optional part; a broken one is not hidden
        if e.name != f"{__package__}.dataset_synth":
            raise
    else:
        add_synth_parser(ds)

    p.set_defaults(func=lambda args: _no_action(p))


def _no_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_make(args) -> int:
    from ..data.write import load_label_file, make_dataset

    labels = load_label_file(args.labels) if args.labels else None
    problems = make_dataset(args.images, args.out, labels=labels, resolution=args.res, crop=args.crop,
                            force=args.force)
    print(f"wrote {args.out}")
    _print_problems(problems)
    return 0


def run_info(args) -> int:
    from ..data import open_dataset
    from ..data.summary import pose_histogram, summarize
    from .args import output_file

    if args.png:  # before every mask is read, not after
        output_file(args.png, "--png")
    ds = open_dataset(args.path)
    if args.png and not ds.has_labels:
        raise InputError(f"{ds.path} has no camera labels, so there is no pose histogram to draw; drop --png")
    s = summarize(ds)
    png = pose_histogram(ds, args.png) if args.png else None
    if args.json:
        print(s.model_dump_json(indent=2))
        return 0
    print(f"{s.name}: {s.path}")
    print(f"  images      {s.num_images}")
    print(f"  resolution  {s.resolution}x{s.resolution}")
    print(f"  labels      {'yes (EG3D cameras)' if s.has_labels else 'none'}")
    if s.classes is None:
        print("  masks       none")
    else:
        print(f"  masks       {len(s.classes)} classes, share of pixels:")
        for k, (name, share) in enumerate(zip(s.classes, s.class_share)):
            print(f"    {k} {name:12s} {100 * share:6.2f}%")
    if s.poses is not None:
        q = s.poses
        print(f"  yaw         {q.yaw_min:.1f} .. {q.yaw_max:.1f} deg (mean |yaw| {q.yaw_mean_abs:.1f})")
        print(f"  pitch       {q.pitch_min:.1f} .. {q.pitch_max:.1f} deg")
        print(f"  radius      {q.radius_mean:.3f}   focal {q.focal_mean:.4f} (normalised)")
    if s.has_labels:
        _print_problems(s.label_problems)
        if not s.label_problems:
            print("  label check all cameras plausible")
    if png is not None:
        print(f"wrote {png}")
    return 0


def _print_problems(problems) -> None:
    if problems:
        print(f"  {len(problems)} implausible camera labels:")
        for p in problems:
            print(f"    {p.name}: {p.problem}")


def run_mirror(args) -> int:
    from ..data.write import mirror_dataset

    n = mirror_dataset(args.input, args.out, force=args.force)
    print(f"wrote {args.out} ({n} mirrored copies added)")
    return 0


def run_celebamask(args) -> int:
    from ..data.write import convert_celebamask

    if args.res is not None and args.res < 1:
        raise InputError(f"--res must be a positive number of pixels, got {args.res}")
    n = convert_celebamask(args.root, args.out, resolution=args.res, max_images=args.max_images, force=args.force)
    print(f"wrote {args.out} ({n} images with masks)")
    return 0
