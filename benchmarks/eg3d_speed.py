"""Speed and memory of gan3d's EG3D at the full ffhq512-128 architecture (random weights).

Prints the configuration, then for each device and batch size: images/s, seconds per image and peak
memory, for a full forward (backbone + rendering + super-resolution) and for a camera-only change
(tri-planes cached). The reference point is NVIDIA's implementation at about 7.3 s per image at
batch 1 on a 2-core CPU (full size, stochastic sampling).

    python benchmarks/eg3d_speed.py [--batch 1 4] [--repeats 2] [--device cpu cuda] [--nrr 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

import gan3d
from gan3d_eg3d.cards import CARDS_BY_NAME
from gan3d_eg3d.generator import EG3DGenerator

FFHQ512_128 = {
    "z_dim": 512, "w_dim": 512, "mapping_kwargs": {"num_layers": 2}, "channel_base": 32768, "channel_max": 512,
    "fused_modconv_default": "inference_only",
    "rendering_kwargs": {
        "image_resolution": 512, "disparity_space_sampling": False, "clamp_mode": "softplus",
        "superresolution_module": "training.superresolution.SuperresolutionHybrid8XDC",
        "c_gen_conditioning_zero": False, "gpc_reg_prob": 0.5, "c_scale": 1.0, "superresolution_noise_mode": "none",
        "density_reg": 0.25, "density_reg_p_dist": 0.004, "reg_type": "l1", "decoder_lr_mul": 1.0,
        "sr_antialias": True, "depth_resolution": 48, "depth_resolution_importance": 48, "ray_start": 2.25,
        "ray_end": 3.3, "box_warp": 1, "avg_camera_radius": 2.7, "avg_camera_pivot": [0, 0, 0.2],
    },
    "num_fp16_res": 0, "sr_num_fp16_res": 4,
    "sr_kwargs": {"channel_base": 32768, "channel_max": 512, "fused_modconv_default": "inference_only"},
    "conv_clamp": None, "c_dim": 25, "img_resolution": 512, "img_channels": 3,
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench(G: EG3DGenerator, device: str, batch: int, repeats: int, cached: bool) -> dict:
    z = torch.randn(batch, 512, generator=torch.Generator().manual_seed(0)).to(device)
    cams = [G.default_camera(yaw) for yaw in (0.3, -0.3, 0.1, -0.1, 0.2, -0.2)]
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        ws = G.mapping(z, None, 0.7, 14)
        G.clear_cache()
        G.synthesize(ws, cams[0])  # warm-up (and fills the plane cache)
        sync(device)
        times = []
        for i in range(repeats):
            if not cached:
                G.clear_cache()
            t = time.perf_counter()
            out = G.synthesize(ws, cams[(i + 1) % len(cams)])
            sync(device)
            times.append(time.perf_counter() - t)
    assert torch.isfinite(out.image).all()
    sec = min(times)
    res = {"device": device, "batch": batch, "planes_cached": cached, "s_per_batch": round(sec, 3),
           "s_per_image": round(sec / batch, 3), "images_per_s": round(batch / sec, 3)}
    if device.startswith("cuda"):
        res["peak_gpu_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    res["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    ap.add_argument("--nrr", type=int, default=128, help="neural rendering resolution")
    ap.add_argument("--stochastic", action="store_true", help="official stochastic sampling (default: deterministic)")
    ap.add_argument("--unfused", action="store_true", help="activation-scaling modulated conv instead of grouped")
    args = ap.parse_args()

    torch.manual_seed(0)
    card = CARDS_BY_NAME["eg3d/ffhq512-128"]
    G = EG3DGenerator(card, FFHQ512_128, neural_rendering_resolution=args.nrr).eval().requires_grad_(False)
    G.set_deterministic(not args.stochastic)
    G.fused_modconv = not args.unfused
    n_params = sum(p.numel() for p in G.parameters())
    print(json.dumps({
        "model": "eg3d ffhq512-128 architecture (random weights)", "params": n_params,
        "neural_rendering_resolution": args.nrr,
        "samples_per_ray": f"{FFHQ512_128['rendering_kwargs']['depth_resolution']}+"
                           f"{FFHQ512_128['rendering_kwargs']['depth_resolution_importance']}",
        "deterministic": not args.stochastic, "fused_modconv": G.fused_modconv, "chunk_points": G.chunk_points,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "gan3d": gan3d.__version__,
    }, indent=1))
    for device in args.device:
        G.to(device)
        if device.startswith("cuda"):
            print(f"# {torch.cuda.get_device_name()}")
        for batch in args.batch:
            for cached in (False, True):
                print(json.dumps(bench(G, device, batch, args.repeats, cached)), flush=True)


if __name__ == "__main__":
    main()
