"""Speed of the procedural head world: images per second written by ``gan3d dataset synth``.

    python benchmarks/synth_speed.py                      # 64, 128 and 256 px, all cores
    python benchmarks/synth_speed.py --res 64 --num 2000 --workers 2

Each resolution writes a complete zip (render, PNG encoding, zip) into a temporary folder. Wall-clock
images/s is what a user waits for; images per CPU-second (this process and its workers together) is
the cost, which stays meaningful on a machine whose cores are shared with other jobs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", default="64,128,256", help="comma-separated resolutions")
    p.add_argument("--num", type=int, default=None, help="images per resolution (default 1000/400/200 for 64/128/256)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: write_dataset's choice)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import torch

    from gan3d.data.synth import write_dataset
    from gan3d.data.synth.writer import BATCH, _default_workers

    default_num = {64: 1000, 128: 400, 256: 200}
    resolutions = [int(r) for r in args.res.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print("config:")
    for k, v in {"resolutions": resolutions, "workers": args.workers if args.workers is not None else "auto",
                 "batch": BATCH, "cores": cores, "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                 "torch": torch.__version__, "python": platform.python_version(),
                 "cpu": platform.processor() or platform.machine()}.items():
        print(f"  {k:13s} {v}")
    print(f"\n{'res':>5} {'images':>7} {'workers':>8} {'seconds':>8} {'images/s':>9} {'img/CPU-s':>10} {'MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for res in resolutions:
            num = args.num or default_num.get(res, 200)
            workers = _default_workers(num) if args.workers is None else args.workers
            out = Path(tmp) / f"synth{res}.zip"
            cpu0, t0 = _cpu_seconds(), time.perf_counter()
            write_dataset(out, num, res, args.seed, progress=False, workers=workers)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
            print(f"{res:>5} {num:>7} {workers:>8} {wall:>8.1f} {num / wall:>9.1f} {num / cpu:>10.1f} "
                  f"{out.stat().st_size / 1e6:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
