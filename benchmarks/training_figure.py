"""The README's picture of a training run: grids at start, middle and end, and the FID curve.

    python benchmarks/training_figure.py RUN_DIR --stem eg3d_synth64 [--out docs] [--count 3]

Writes ``<out>/<stem>_grids.png`` and, when the run measured FID, ``<out>/<stem>_fid.svg``.
"""

from __future__ import annotations

import argparse

from gan3d.train.figure import snapshot_grids, write_progress_figure
from gan3d.train.logs import metric_curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--stem", required=True)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--count", type=int, default=3)
    args = ap.parse_args()
    print(f"run {args.run}: grids at {[k for k, _ in snapshot_grids(args.run)]} kimg")
    print("FID by kimg:", ", ".join(f"{k:g}: {v:.1f}" for k, v in metric_curve(args.run, "fid")) or "none")
    for p in write_progress_figure(args.run, args.out, args.stem, count=args.count):
        print("wrote", p)


if __name__ == "__main__":
    main()
