"""LiftedGAN speed: the core mesh rasteriser on the 130k-triangle grid mesh, and the whole model.

    python benchmarks/liftedgan_speed.py                  # CPU, and the GPU when there is one
    python benchmarks/liftedgan_speed.py --device cpu --batch 1 4 --repeats 5
    python benchmarks/liftedgan_speed.py --model liftedgan/ffhq256   # real weights from the cache

Prints the configuration first (torch, threads, devices), then per device:
* rasteriser time for one 256x256 image of LiftedGAN's grid mesh (65,536 vertices, 130,050 faces), for a
  fronto-parallel plane and for the same plane turned 30 degrees about the pivot (median of repeats);
* the whole model (mapping, estimate, shading, warp, rasterisation) in images/s and peak memory per
  batch size. Without ``--model`` the official full-size architecture with random weights is timed
  (random depth maps are rougher than trained ones, so the rasteriser has more work than usual).
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from gan3d.render.mesh import Mesh, MeshRenderer, grid_faces  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> list[float]:
    fn()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def grid_plane(size: int = 256, depth: float = 1.0, yaw_deg: float = 0.0) -> torch.Tensor:
    """LiftedGAN's lift of a constant depth map ``[1, size^2, 3]``, optionally turned about (0,0,1)."""
    f = (size - 1) / 2 / math.tan(math.radians(5))
    c = (size - 1) / 2
    v, u = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    pts = torch.stack(((u - c) / f * depth, (v - c) / f * depth, torch.full_like(u, depth)), -1).reshape(1, -1, 3)
    a = math.radians(yaw_deg)
    R = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    centre = torch.tensor([0.0, 0.0, 1.0])
    return (pts - centre) @ R.T + centre + torch.tensor([1e-4, 2e-4, 0.0])  # off the exact identity grid


def bench_rasteriser(device: torch.device, repeats: int) -> None:
    faces = grid_faces(256, 256, device)
    renderer = MeshRenderer()
    colours = torch.rand(1, 256 * 256, 3, device=device)
    for name, yaw in (("fronto-parallel plane", 0.0), ("plane turned 30 deg", 30.0)):
        mesh = Mesh(grid_plane(yaw_deg=yaw).to(device), faces, colours)
        with torch.no_grad():
            times = timed(lambda: renderer.render_camera_space(mesh, 10.0, 256), device, repeats)
        print(f"  rasteriser 256x256, 130,050 faces, {name:22s}: median {statistics.median(times) * 1e3:8.1f} ms"
              f"  (min {min(times) * 1e3:.1f} ms, {repeats} runs)")


def build_model(spec: str | None, device: torch.device):
    if spec:
        import gan3d

        return gan3d.load(spec, device=str(device))
    from gan3d_liftedgan.cards import FFHQ
    from gan3d_liftedgan.model import LiftedGAN

    torch.manual_seed(0)
    return LiftedGAN(FFHQ).to(device).eval().requires_grad_(False)


def bench_model(device: torch.device, spec: str | None, batches: list[int], repeats: int) -> None:
    try:
        G = build_model(spec, device)
    except ImportError:
        print("  whole model: gan3d-liftedgan is not installed (pip install -e plugins/gan3d-liftedgan)")
        return
    n_params = sum(p.numel() for p in G.parameters())
    print(f"  model: {'random full-size LiftedGAN' if not spec else spec} ({n_params / 1e6:.2f} M parameters)")
    for B in batches:
        z = torch.randn(B, G.card.latent.dim, generator=torch.Generator().manual_seed(B)).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with torch.no_grad():
            times = timed(lambda: G.synthesize(G.mapping(z, None, 0.7), own_pose=True), device, repeats)
        med = statistics.median(times)
        if device.type == "cuda":
            peak = f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**20:8.1f} MiB"
        else:
            peak = f"peak process RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MiB"
        print(f"  whole model, batch {B:3d}: {B / med:8.2f} images/s  ({med * 1e3:8.1f} ms per batch)  {peak}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="all", choices=("all", "cpu", "cuda"))
    p.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--model", default=None, help="registered name or checkpoint path (default: random weights)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("all", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            print("no CUDA device available")
            return 1
    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()} "
          f"{platform.processor() or ''}".rstrip())
    print(f"CPU threads {torch.get_num_threads()}, CUDA {'available: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'not available'}")
    print(f"batches {args.batch}, repeats {args.repeats}, truncation 0.7, 256x256 output")
    for dev in devices:
        print(f"[{dev.type}]")
        bench_rasteriser(dev, args.repeats)
        bench_model(dev, args.model, args.batch, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
