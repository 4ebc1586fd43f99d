"""CNeRF generation speed and peak memory (CPU and GPU), with ray chunking.

    python benchmarks/cnerf_speed.py [--device cuda] [--batch 1] [--points 524288]
        [--checkpoint final_model.pt] [--iters 3]

Without a checkpoint the official full-size architecture is built with random weights (speed does not
depend on the values). ``--points`` is the number of (sample point, class) pairs evaluated per pass of the local
generators per ray chunk; memory grows with it. On CPU the field itself runs in blocks of
``gan3d_cnerf.renderer.QUERY_BLOCK`` points whatever the chunk, so there the figure barely depends on it.
The first line is the configuration (so figures from different machines and versions compare).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

import gan3d
from gan3d_cnerf.cards import FFHQ512
from gan3d_cnerf.generator import CNeRFGenerator
from gan3d_cnerf.renderer import QUERY_BLOCK


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--points", type=int, nargs="+", default=[2 ** 17, 2 ** 19])
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--low-res-only", action="store_true", help="volume rendering only (no 2D decoder)")
    args = p.parse_args()

    dev = torch.device(args.device)
    if args.checkpoint:
        G = gan3d.load(args.checkpoint, device=args.device)
    else:
        torch.manual_seed(0)
        G = CNeRFGenerator(FFHQ512).to(dev).eval().requires_grad_(False)
        G.compute_mean_latents(n=1000)
    z = gan3d.sample_latents(G, list(range(args.batch))).z.to(dev)
    cam = G.default_camera()
    cfg = G.config
    print(json.dumps({
        "model": args.checkpoint or "cnerf ffhq512 architecture (random weights)",
        "render": f"{cfg.render_resolution}x{cfg.render_resolution}, {cfg.num_samples} samples/ray, "
                  f"{cfg.num_classes} local generators of width {cfg.width}",
        "output": cfg.size if not args.low_res_only else cfg.render_resolution, "truncation_psi": 0.7,
        "query_block": QUERY_BLOCK, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "gan3d": gan3d.__version__,
    }))
    results = []
    for points in args.points:
        G.points_per_pass = points
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            G(z, cam, truncation_psi=0.7, decode=not args.low_res_only)  # warm-up
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.iters):
                G(z, cam, truncation_psi=0.7, decode=not args.low_res_only)
            if dev.type == "cuda":
                torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / args.iters
        row = {"device": str(dev), "batch": args.batch, "points_per_pass": points,
               "seconds_per_batch": round(dt, 4), "images_per_second": round(args.batch / dt, 3),
               "threads": torch.get_num_threads()}
        if dev.type == "cuda":
            row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
            row["gpu"] = torch.cuda.get_device_name()
        row["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # process-wide
        results.append(row)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
