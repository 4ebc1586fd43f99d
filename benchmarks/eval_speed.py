"""Evaluation overhead: each evaluator's time per 1000 images next to the generator's own time.

    python benchmarks/eval_speed.py --model toy/sphere --num 64 --metrics pose,smile,id --backend dlib
    python benchmarks/eval_speed.py --model eg3d/ffhq512-128 --device cuda --num 256 \\
        --metrics fid,id,pose,smile --ref /data/ffhq512.zip --fid-network path/to/inception.pt

The harness renders every requested sample once; the generator time counts those renders, and each
evaluator's time counts its own work (detection, embedding, features, distances) on the images it
received. The goal is evaluation overhead under 10% of generation on a GPU.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="toy/sphere")
    p.add_argument("--metrics", default="pose,smile,id")
    p.add_argument("--num", type=int, default=64, help="latents per metric")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="mtcnn", choices=("mtcnn", "dlib"), help="face backend for pose/smile")
    p.add_argument("--id-backend", default=None, choices=("facenet", "dlib"), help="default: dlib with --backend dlib")
    p.add_argument("--ref", help="reference images for fid")
    p.add_argument("--fid-network", help="TorchScript Inception for fid (default: NVIDIA's from the cache)")
    p.add_argument("--lpips-random", action="store_true", help="LPIPS with a random backbone (no download)")
    args = p.parse_args(argv)

    import gan3d
    from gan3d.eval import HarnessConfig, create_evaluator, evaluate
    from gan3d.eval.harness import resolve_device

    device = resolve_device(args.device)
    id_backend = args.id_backend or ("dlib" if args.backend == "dlib" else "facenet")
    options = {"pose": {"backend": args.backend}, "smile": {"backend": args.backend},
               "id": {"backend": id_backend}, "lpips_diversity": {"pnet_rand": args.lpips_random},
               "fid": {"ref": args.ref}}
    if args.fid_network:
        from gan3d.eval.fid import torchscript_extractor

        options["fid"]["extractor"] = torchscript_extractor(args.fid_network, device)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    evaluators = [create_evaluator(m, **options.get(m, {})) for m in metrics]
    G = gan3d.load(args.model, device=str(device))
    cfg = HarnessConfig(num=args.num, batch_size=args.batch, device=str(device), progress=False)

    print("config:")
    for k, v in {"model": args.model, "metrics": metrics, "num": args.num, "batch": args.batch, "device": str(device),
                 "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                 "face backend": args.backend, "id backend": id_backend, "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "python": platform.python_version()}.items():
        print(f"  {k:13s} {v}")
    t = time.perf_counter()
    report = evaluate(G, evaluators, cfg)
    wall = time.perf_counter() - t

    gen_per_1k = 1000 * report.generator_seconds / max(1, report.images)
    print(f"\n{'part':18s} {'images':>7s} {'s/1000 img':>11s} {'vs generator':>13s}")
    print(f"{'generator':18s} {report.images:7d} {gen_per_1k:11.2f} {'1.00x':>13s}")
    total_eval = 0.0
    for name, secs in report.evaluator_seconds.items():
        n = report.evaluator_images.get(name, 0)
        per_1k = 1000 * secs / max(1, n)
        total_eval += secs
        print(f"{name:18s} {n:7d} {per_1k:11.2f} {per_1k / gen_per_1k if gen_per_1k else float('nan'):12.2f}x")
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in report.setup_seconds.items())
    print(f"\nsetup (network loading, not counted above): {setup}")
    print(f"wall {wall:.1f} s; generator {report.generator_seconds:.1f} s; evaluators {total_eval:.1f} s "
          f"({100 * total_eval / max(report.generator_seconds, 1e-9):.0f}% of generation)")
    for r in report.results:
        print("  " + r.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
