"""CNeRF generation speed and peak memory (CPU and GPU), with ray chunking.

    python benchmarks/cnerf_speed.py [--device cuda] [--batch 1] [--points 524288]
        [--checkpoint final_model.pt] [--iters 3]

Without a checkpoint the official full-size architecture is built with random weights (speed does not
depend on the values). ``--points`` is the number of (sample point, class) pairs evaluated per pass of the local
generators per ray chunk; memory grows with it. On CPU the field itself runs in blocks of
``gan3d_cnerf.renderer.QUERY_BLOCK`` points whatever the chunk, so there the figure barely depends on it.
The first line is the configuration (so figures from different machines and versions compare).

The last row compares gan3d with the authors' code at full size on CPU, batch 1, from ``z`` to the
512x512 image with ``inference_Full.py``'s recipe (psi 0.7, fixed decoder noise, 64 samples per ray):

* ``--official PATH`` (a checkout of https://github.com/TianxiangMa/CNeRF): the official ``Generator`` is
  built with the same architecture and given gan3d's weights (seeded random ones, or ``--checkpoint``'s;
  the key names are the official ones), both use mean latents from the same 10 000 seeded z, run in
  turn ``--iters`` times (best of each), and the row gives both times, the speed-up and the largest
  difference of the images (the goal: identical output, within 2e-4).
* without it the row gives gan3d's time beside the official time recorded in ``OFFICIAL_RECORDED``,
  labelled as recorded, not measured here.

    python benchmarks/cnerf_speed.py --only-official [--official ~/src/CNeRF] [--iters 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

import gan3d
from gan3d.errors import InputError
from gan3d_cnerf.camera import camera_from_angles
from gan3d_cnerf.cards import FFHQ512
from gan3d_cnerf.config import CNeRFConfig
from gan3d_cnerf.generator import MEAN_LATENT_SAMPLES, MEAN_LATENT_SEED, CNeRFGenerator
from gan3d_cnerf.renderer import QUERY_BLOCK

from _official import Options, exit_on_error, import_cnerf_model, interleaved_times, max_abs_diff

# printed without --official; --official measures the official time instead
OFFICIAL_RECORDED = {
    "s_per_image": 14.01,
    "source": "`--official` run on 2026-12-03: TianxiangMa/CNeRF z -> 512 px (64 samples per ray, psi 0.7) on an "
              "idle 2-core Xeon, 2 threads, batch 1, the same seeded weights, best of 3 timed side by side with "
              "gan3d (3.40 s)",
}
AZIMUTH, ELEVATION = 0.2, 0.1  # radians: the compared view


def official_options(config: CNeRFConfig) -> tuple[Options, Options]:
    """The official ``(model_opt, renderer_opt)`` for ``config`` as ``inference_Full.py`` sets them
    (test mode, SDF, z-normalisation, offset sampling, no ray jitter, no density noise)."""
    model = Options(size=config.size, style_dim=config.style_dim, channel_multiplier=config.channel_multiplier,
                    n_mlp=8, lr_mapping=config.lr_mapping, renderer_spatial_output_dim=config.render_resolution,
                    project_noise=False, n_wcode=config.num_classes, is_test=True, freeze_renderer=False)
    rendering = Options(n_render=config.num_classes, depth=config.depth, width=config.width, no_sdf=False,
                        no_z_normalize=not config.z_normalize, static_viewdirs=config.static_viewdirs,
                        N_samples=config.num_samples, no_offset_sampling=False, perturb=0.0, raw_noise_std=0.0,
                        force_background=True, return_xyz=False, return_sdf=False, no_features_output=False)
    return model, rendering


def compare_official(G: CNeRFGenerator, path: str | Path | None, iters: int) -> dict:
    """Batch-1 z -> image time of gan3d beside the official code's (measured with ``path``, else recorded)."""
    cfg = G.config
    if not cfg.full_pipeline or cfg.decoder_channel_divisor != 1:
        raise InputError("the official comparison needs the full CNeRF pipeline with the official decoder widths")
    z = torch.randn(1, cfg.style_dim, generator=torch.Generator().manual_seed(1))
    camera = camera_from_angles(AZIMUTH, ELEVATION, cfg.half_fov_degrees)
    psi = 0.7
    row: dict = {"what": f"z -> {cfg.size}px image, batch 1, psi {psi} (official comparison)", "device": "cpu",
                 "threads": torch.get_num_threads(), "num_samples": cfg.num_samples}

    def ours():
        return G(z, camera, truncation_psi=psi)

    with torch.no_grad():
        if path is None:
            ours()  # warm-up
            best = min(interleaved_times({"gan3d": ours}, iters)["gan3d"])
            row.update({"gan3d_s": round(best, 3), "official_s": OFFICIAL_RECORDED["s_per_image"],
                        "official_s_is": "recorded, not measured here (pass --official PATH to measure it)",
                        "official_source": OFFICIAL_RECORDED["source"],
                        "speedup_vs_recorded": round(OFFICIAL_RECORDED["s_per_image"] / best, 2)})
            return row
        model, utils = import_cnerf_model(path)
        official = model.Generator(*official_options(cfg))
        # gan3d's extra buffers (its stored mean latents) are not official keys
        official.load_state_dict({k: v for k, v in G.state_dict().items() if k in official.state_dict()}, strict=True)
        official.eval().requires_grad_(False)
        # the official script's mean latents from the same z as gan3d's (both draw from this seed)
        G.compute_mean_latents(MEAN_LATENT_SAMPLES, MEAN_LATENT_SEED)
        torch.manual_seed(MEAN_LATENT_SEED)
        mean = official.mean_latent(MEAN_LATENT_SAMPLES, "cpu")
        extrinsics, focal, near, far, _ = utils.generate_camera_params(
            cfg.render_resolution, "cpu", locations=torch.tensor([[AZIMUTH, ELEVATION]]),
            fov_ang=torch.tensor([[cfg.half_fov_degrees]]), dist_radius=cfg.dist_radius)

        def theirs():  # inference_Full.py's steps for one identity and one view
            w = official.style(z)
            w = psi * w + (1 - psi) * mean[0]
            out = official([w.unsqueeze(1).repeat(1, official.n_latent, 1)], extrinsics, focal, near, far,
                           truncation=psi, truncation_latent=mean, input_is_latent=True, randomize_noise=False,
                           styles_global=[w])
            return out[0][0], out[1]  # image, low-resolution image

        a, (image, thumb) = ours(), theirs()  # warm-up, and the outputs compared
        times = interleaved_times({"gan3d": ours, "official": theirs}, iters)
    g, o = min(times["gan3d"]), min(times["official"])
    row.update({
        "official_checkout": str(path), "iters": iters,
        "gan3d_s": [round(t, 3) for t in times["gan3d"]], "official_s": [round(t, 3) for t in times["official"]],
        "gan3d_best_s": round(g, 3), "official_best_s": round(o, 3), "speedup": round(o / g, 2),
        "max_abs_diff": {"mean_latent_renderer": max_abs_diff(G.mean_latent_renderer, mean[0]),
                         "mean_latent_decoder": max_abs_diff(G.mean_latent_decoder, mean[1]),
                         "image": max_abs_diff(a.image, image), "image_raw": max_abs_diff(a.image_raw, thumb)},
    })
    row["official_image_std"] = round(float(image.std()), 4)  # the compared image is not flat
    row["image_within_2e-4"] = row["max_abs_diff"]["image"] <= 2e-4
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--points", type=int, nargs="+", default=[2 ** 17, 2 ** 19])
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--low-res-only", action="store_true", help="volume rendering only (no 2D decoder)")
    p.add_argument("--official", metavar="PATH", default=None,
                   help="a checkout of https://github.com/TianxiangMa/CNeRF: time it beside gan3d on CPU and compare "
                        "the images; without it the recorded official time is printed")
    p.add_argument("--only-official", action="store_true", help="skip the chunk-size rows: the comparison alone")
    args = p.parse_args()
    if args.official is not None:
        try:  # a wrong path fails now, not after the gan3d rows
            import_cnerf_model(args.official)
        except InputError as e:
            exit_on_error("cnerf_speed.py", e)

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
    default_points = G.points_per_pass
    for points in args.points if not args.only_official else []:
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
    # on CPU, where the official custom ops take their PyTorch paths
    G.points_per_pass = default_points
    try:
        row = compare_official(G.to("cpu"), args.official, args.iters)
    except InputError as e:
        exit_on_error("cnerf_speed.py", e)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
