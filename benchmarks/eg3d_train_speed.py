"""EG3D training speed: seconds per iteration at the parity fixture's size, seconds per kimg for synth64.

    python benchmarks/eg3d_train_speed.py [--threads 2] [--iters 3] [--only fixture|synth64] [--device cpu]

``fixture``: the network of ``fixtures/eg3d-train`` (128 px, 2X SR, backbone channel_base 512 /
channel_max 16, 12+12 samples), batch 4, ``cur_nimg = 10000`` (neural rendering at 48), all four phases
plus the EMA update per iteration, stochastic sampling and noise, fresh latents every phase: the way
the fixture README timed the official code. The official figure printed beside it is the one that
README records (best of three iterations on a 2-core machine, two threads); it is not measured here.

``synth64``: the ``synth64`` preset at its batch size; seconds per kimg = seconds per iteration averaged
over a whole lazy-regularisation cycle (16 iterations: Greg every 4th, Dreg every 16th) / batch * 1000.
Random weights and random images: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

import gan3d
from gan3d.train import Batch, DataInfo, Draws, Progress, ema_update, make_optimizer, run_phase
from gan3d_eg3d.train import PRESETS, EG3DOptions, EG3DTrainer

OFFICIAL_FIXTURE_STEP_S = 2.55  # fixtures/eg3d-train/README.md: best of 2.79 / 2.98 / 2.55 s, 2 threads

FIXTURE_OPTIONS = dict(cbase=512, cmax=16, map_depth=2, neural_rendering_resolution_initial=32,
                       neural_rendering_resolution_final=64, neural_rendering_resolution_fade_kimg=20,
                       depth_resolution=12, depth_resolution_importance=12)


def labels(n: int = 64) -> torch.Tensor:
    """FFHQ-like camera labels (radius 2.7 around (0, 0, 0.2), focal 4.2647) at random yaw/pitch."""
    g = torch.Generator().manual_seed(0)
    yaw, pitch = (torch.rand(n, generator=g) - 0.5) * 0.9, (torch.rand(n, generator=g) - 0.5) * 0.4
    return gan3d.Camera.orbit(yaw=yaw, pitch=pitch, radius=2.7, focal=4.2647, look_at=(0.0, 0.0, 0.2)).to_eg3d_label()


def iterations(options: EG3DOptions, resolution: int, batch: int, cur_nimg: int, count: int, device: str,
               warmup: int = 1, all_phases: bool = False) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``count`` iterations (after ``warmup``), each its due phases (every phase
    with ``all_phases``) plus the EMA update. CPU seconds (all threads) show how busy a machine shared
    with other work was: wall = CPU / threads on an otherwise idle machine."""
    lab = labels()
    torch.manual_seed(0)
    trainer = EG3DTrainer(options, DataInfo(resolution=resolution, num_images=len(lab), has_labels=True, labels=lab),
                          device)
    G_ema = copy.deepcopy(trainer.G).eval()
    opts = {k: make_optimizer(trainer.networks[k], s) for k, s in trainer.optimizers().items()}
    draws = Draws(0)
    real = Batch(image=torch.rand(batch, 3, resolution, resolution) * 2 - 1, label=lab[:batch].clone()).to(device)
    times, cpu = [], []
    for i in range(warmup + count):
        progress = Progress(cur_nimg=cur_nimg + i * batch, batch_idx=i, batch_size=batch)
        t0, c0 = time.perf_counter(), time.process_time()
        inputs = trainer.prepare(real, draws, progress)
        for phase in trainer.phases():
            if all_phases or i % phase.interval == 0:
                run_phase(trainer, phase, opts[phase.network], real, inputs, draws, progress)
        ema_update(G_ema, trainer.G, trainer.ema_beta(progress))
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return times, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3, help="timed iterations at the fixture size")
    p.add_argument("--only", choices=["fixture", "synth64"], default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    if args.only in (None, "fixture"):
        # every timed iteration runs all four phases, as the official timing did
        times, cpu = iterations(EG3DOptions(**FIXTURE_OPTIONS), 128, 4, 10_000, args.iters, args.device,
                                all_phases=True)
        rows.append({"what": "fixture-size iteration (4 phases + EMA, batch 4, nrr 48)", "threads": args.threads,
                     "gan3d_s": [round(t, 3) for t in times], "gan3d_best_s": round(min(times), 3),
                     "gan3d_cpu_s": [round(t, 3) for t in cpu],
                     "official_recorded_s": OFFICIAL_FIXTURE_STEP_S,
                     "speedup_vs_official": round(OFFICIAL_FIXTURE_STEP_S / min(times), 2)})
    if args.only in (None, "synth64"):
        preset = dict(PRESETS["synth64"])
        batch = preset.pop("batch")
        preset.pop("kimg")
        times, cpu = iterations(EG3DOptions(**preset), 64, batch, 0, 16, args.device)
        per_iter = sum(times) / len(times)
        rows.append({"what": f"synth64 preset, batch {batch}", "threads": args.threads,
                     "cpu_s_per_iteration": round(sum(cpu) / len(cpu), 3),
                     "s_per_iteration": round(per_iter, 3), "s_per_kimg": round(per_iter / batch * 1000, 1),
                     "kimg_per_2h": round(7200 / (per_iter / batch * 1000), 1)})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
