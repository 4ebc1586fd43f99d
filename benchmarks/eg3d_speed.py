"""Speed and memory of gan3d's EG3D at the full ffhq512-128 architecture (random weights).

Prints the configuration, then for each device and batch size: images/s, seconds per image and peak
memory, for a full forward (backbone + rendering + super-resolution) and for a camera-only change
(tri-planes cached). Then the comparison with NVIDIA's implementation at batch 1 (synthesis from the
same ``w`` and camera):

* ``--official PATH`` (a checkout of https://github.com/NVlabs/eg3d): the official
  ``TriPlaneGenerator`` is built with the same architecture and given gan3d's seeded random weights
  (the key names are the official ones), both run deterministically (no ray jitter, ``linspace``
  importance samples, 'const' backbone noise), timed in turn ``--repeats`` times (best of each), and the
  row gives both times, the speed-up and the largest difference of the images (the goal: within 2e-4).
* without it the row gives gan3d's time beside the official time recorded in ``OFFICIAL_RECORDED``,
  labelled as recorded, not measured here.

    python benchmarks/eg3d_speed.py [--batch 1 4] [--repeats 2] [--device cpu cuda] [--nrr 128]
        [--official ~/src/eg3d]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import resource
import time
from pathlib import Path

import torch

import gan3d
from gan3d.errors import InputError
from gan3d_eg3d.cards import CARDS_BY_NAME
from gan3d_eg3d.generator import EG3DGenerator

from _official import exit_on_error, import_eg3d_triplane, interleaved_times, max_abs_diff

# printed without --official; --official measures the official time instead
OFFICIAL_RECORDED = {
    "s_per_image": 4.14,
    "source": "`--official` run on 2026-12-03: NVlabs/eg3d synthesis on an idle 2-core Xeon, 2 threads, batch 1, "
              "deterministic, the same seeded weights, best of 3 timed side by side with gan3d (1.77 s)",
}

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


def _deterministic_sampling(renderer) -> None:
    """Give this official ``ImportanceRenderer`` gan3d's deterministic sampling: no stratified jitter and
    ``linspace`` importance samples (``det=True``). The official code has no switch for the jitter, so the
    coarse depths are made here: the released configs' float ``ray_start``/``ray_end`` only."""
    pdf = renderer.sample_pdf

    def sample_pdf(bins, weights, n_importance, det=False, eps=1e-5):
        return pdf(bins, weights, n_importance, det=True, eps=eps)

    def sample_stratified(ray_origins, ray_start, ray_end, depth_resolution, disparity_space_sampling=False):
        if disparity_space_sampling or isinstance(ray_start, torch.Tensor):
            raise NotImplementedError("deterministic coarse depths need float ray_start/ray_end")
        N, M, _ = ray_origins.shape
        depths = torch.linspace(ray_start, ray_end, depth_resolution, device=ray_origins.device)
        return depths.reshape(1, 1, depth_resolution, 1).repeat(N, M, 1, 1)

    renderer.sample_pdf = sample_pdf
    renderer.sample_stratified = sample_stratified


def official_generator(path: str | Path, G: EG3DGenerator) -> torch.nn.Module:
    """NVlabs' ``TriPlaneGenerator`` from the checkout at ``path``, built with ``G``'s init kwargs and
    holding ``G``'s weights (strict: the names are the official ones), in eval mode, deterministic."""
    triplane = import_eg3d_triplane(path)
    kwargs = copy.deepcopy(G.init_kwargs)
    kwargs["rendering_kwargs"] = copy.deepcopy(G.rendering_kwargs)
    official = triplane.TriPlaneGenerator(**kwargs)
    # dataset_label_std is a buffer the official training loop adds; nothing reads it at inference
    state = {k: v for k, v in G.state_dict().items() if k != "dataset_label_std"}
    official.load_state_dict(state, strict=True)
    official.neural_rendering_resolution = G.neural_rendering_resolution
    _deterministic_sampling(official.renderer)
    return official.to(G.device).eval().requires_grad_(False)


def compare_official(G: EG3DGenerator, path: str | Path | None, repeats: int) -> dict:
    """Batch-1 synthesis time of gan3d beside the official code's (measured with ``path``, else recorded).

    Both render the same ``w`` (psi 0.7) from the same camera, deterministically, the backbone included
    (gan3d's tri-plane cache is cleared before every call, the official code has none by default)."""
    was_deterministic = G.deterministic
    G.set_deterministic(True)
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)).to(G.device)
    camera = G.default_camera(0.3, -0.1)
    label = camera.to_eg3d_label()
    row: dict = {"what": "synthesis from w, batch 1, deterministic (official comparison)", "device": str(G.device),
                 "threads": torch.get_num_threads()}
    with torch.no_grad():
        ws = G.mapping(z, None, 0.7, G.num_ws)

        def ours():
            G.clear_cache()
            return G.synthesize(ws, camera)

        if path is None:
            ours()  # warm-up
            best = min(interleaved_times({"gan3d": ours}, repeats, str(G.device))["gan3d"])
            row.update({"gan3d_s": round(best, 3), "official_s": OFFICIAL_RECORDED["s_per_image"],
                        "official_s_is": "recorded, not measured here (pass --official PATH to measure it)",
                        "official_source": OFFICIAL_RECORDED["source"],
                        "speedup_vs_recorded": round(OFFICIAL_RECORDED["s_per_image"] / best, 2)})
        else:
            official = official_generator(path, G)

            def theirs():
                return official.synthesis(ws, label, noise_mode="const")

            a, b = ours(), theirs()  # warm-up, and the outputs compared
            times = interleaved_times({"gan3d": ours, "official": theirs}, repeats, str(G.device))
            official_ws = official.mapping(z, G.default_camera().to_eg3d_label(), truncation_psi=0.7,
                                           truncation_cutoff=G.num_ws)
            g, o = min(times["gan3d"]), min(times["official"])
            row.update({
                "official_checkout": str(path), "repeats": repeats,
                "gan3d_s": [round(t, 3) for t in times["gan3d"]],
                "official_s": [round(t, 3) for t in times["official"]],
                "gan3d_best_s": round(g, 3), "official_best_s": round(o, 3), "speedup": round(o / g, 2),
                "max_abs_diff": {"ws": max_abs_diff(ws, official_ws), "image": max_abs_diff(a.image, b["image"]),
                                 "image_raw": max_abs_diff(a.image_raw, b["image_raw"]),
                                 "depth": max_abs_diff(a.depth, b["image_depth"])},
            })
            row["official_image_std"] = round(float(b["image"].std()), 4)  # the compared image is not flat
            row["image_within_2e-4"] = row["max_abs_diff"]["image"] <= 2e-4
    G.set_deterministic(was_deterministic)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    ap.add_argument("--nrr", type=int, default=128, help="neural rendering resolution")
    ap.add_argument("--stochastic", action="store_true", help="official stochastic sampling (default: deterministic)")
    ap.add_argument("--unfused", action="store_true", help="activation-scaling modulated conv instead of grouped")
    ap.add_argument("--official", metavar="PATH", default=None,
                    help="a checkout of https://github.com/NVlabs/eg3d: time it beside gan3d on CPU (batch 1, "
                         "deterministic) and compare the images; without it the recorded official time is printed")
    ap.add_argument("--only-official", action="store_true", help="skip the batch/cache rows: the comparison alone")
    args = ap.parse_args()
    if args.official is not None:
        try:  # a wrong path fails now, not after the gan3d rows
            import_eg3d_triplane(args.official)
        except InputError as e:
            exit_on_error("eg3d_speed.py", e)

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
    for device in args.device if not args.only_official else []:
        G.to(device)
        if device.startswith("cuda"):
            print(f"# {torch.cuda.get_device_name()}")
        for batch in args.batch:
            for cached in (False, True):
                print(json.dumps(bench(G, device, batch, args.repeats, cached)), flush=True)
    # on CPU: the official code runs its super-resolution in fp16 on CUDA, so outputs would differ there
    try:
        row = compare_official(G.to("cpu"), args.official, args.repeats)
    except InputError as e:
        exit_on_error("eg3d_speed.py", e)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
