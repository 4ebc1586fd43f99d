"""CNeRF stage-1 training speed: seconds per iteration at the official batch and at ``synth64``.

    python benchmarks/cnerf_train_speed.py [--threads 2] [--iters 2] [--only fixture|official|synth64]
        [--device cpu]

``fixture``: the official batch (4 images, 64x64 rays x 24 samples) with the parity fixture's widths
(style 64, local generators 32 wide, discriminator channels / 8; ``fixtures/cnerf-train``): the global-D,
semantic-D and G steps plus the EMA, as the fixture README timed the official code (printed beside it,
not measured here). ``official``: the official widths (style 256, width 128, full discriminators) at
batch 4; it needs a GPU-sized memory (the eikonal double backward over 9 x 393k points x 128).
``synth64``: the ``synth64`` preset at its batch; seconds per kimg = seconds per iteration / batch x 1000.
Random weights and random data: speed does not depend on the values. The sphere pre-fit is not timed.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from gan3d.train import Batch, DataInfo, Draws, Progress, ema_update, make_optimizer, run_phase
from gan3d_cnerf.train.options import STAGE1_PRESETS, Stage1Options
from gan3d_cnerf.train.stage1 import Stage1Trainer

OFFICIAL_FIXTURE_STEP_S = 47.3  # fixtures/cnerf-train/README.md: best of five iterations, 2 threads

CASES = {
    "fixture": ({"style_dim": 64, "width": 32, "d_channel_divisor": 8}, 4),
    "official": ({}, 4),
    "synth64": ({k: v for k, v in STAGE1_PRESETS["synth64"].items() if k not in ("batch", "kimg")},
                STAGE1_PRESETS["synth64"]["batch"]),
}


def time_case(name: str, iters: int, device: str) -> dict:
    opts, batch = CASES[name]
    torch.manual_seed(0)
    options = Stage1Options(**opts, sphere_init=False)
    tr = Stage1Trainer(options, DataInfo(64, 100, False, 9), device)
    optimizers = {k: make_optimizer(tr.networks[k], s) for k, s in tr.optimizers().items()}
    ema = copy.deepcopy(tr.networks["G"])
    draws = Draws(0)
    real = Batch(torch.rand(batch, 3, 64, 64, device=device) * 2 - 1, None,
                 torch.randint(0, 9, (batch, 64, 64), device=device))
    times, phase_times = [], {}
    for it in range(iters + 1):  # the first iteration warms up
        prog = Progress(it * batch, it, batch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        inputs = tr.prepare(real, draws, prog)
        for phase in tr.phases():
            t = time.perf_counter()
            run_phase(tr, phase, optimizers[phase.network], real, inputs, draws, prog)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if it:
                phase_times.setdefault(phase.name, []).append(time.perf_counter() - t)
        ema_update(ema, tr.networks["G"], tr.ema_beta(prog))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if it:
            times.append(time.perf_counter() - t0)
    row = {"case": name, "device": device, "batch": batch, "resolution": options.resolution,
           "samples": options.num_samples, "style_dim": options.style_dim, "width": options.width,
           "d_channel_divisor": options.d_channel_divisor, "sec_per_iter": min(times),
           "phases": {k: round(min(v), 3) for k, v in phase_times.items()}}
    if name == "fixture":
        row["official_sec_per_iter"] = OFFICIAL_FIXTURE_STEP_S
    if name == "synth64":
        row["sec_per_kimg"] = min(times) / batch * 1000
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=2)
    p.add_argument("--only", choices=sorted(CASES), nargs="+", default=["fixture", "synth64"])
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.only:
        print(json.dumps(time_case(name, args.iters, args.device)), flush=True)


if __name__ == "__main__":
    main()
