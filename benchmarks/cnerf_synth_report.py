"""What a trained CNeRF learned on the synthetic head world (issue #14): class shares, edit locality, grid.

    python benchmarks/cnerf_synth_report.py SNAPSHOT [--num N] [--data synth:num=10000,res=64,seed=0]
        [--cameras training|dataset] [--seed 0] [--locality-seeds 0-3] [--out DIR] [--device cpu]

SNAPSHOT: a run folder (its latest snapshot), a snapshot or generator folder, or a registered model
(cnerf/synth64). Prints, and writes to DIR/report.json (atomically): each class's share of the arg-max
masks of N generated samples (seeds SEED.., untruncated, cameras from the run's training law or the data
set's labels) next to its share of the data set's true masks; per region, the mean locality of swapping
its codes with another seed's (gan3d edit --from-seed); and DIR/grid.png, the snapshot grid (images,
masks, depth). The data set must be the one the model was trained on (its masks are the truth).
"""

from __future__ import annotations

import argparse
import sys

import gan3d
from gan3d.errors import Gan3dError
from gan3d_cnerf.analysis import format_report, synth_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("snapshot")
    p.add_argument("--num", type=int, default=500, help="generated samples for the class shares (default 500)")
    p.add_argument("--data", default="synth:num=10000,res=64,seed=0", help="the training data (with true masks)")
    p.add_argument("--cameras", choices=["training", "dataset"], default="training",
                   help="cameras of the generated samples: the run's training law, or the data set's labels")
    p.add_argument("--seed", type=int, default=0, help="first latent seed; also seeds the cameras")
    p.add_argument("--locality-seeds", default="0-3", help="seeds of the region swaps (each takes the next's codes)")
    p.add_argument("--trunc", type=float, default=0.7, help="truncation of the region swaps (as gan3d edit)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="outputs/cnerf_synth_report", help="folder for report.json and grid.png")
    args = p.parse_args(argv)
    try:
        report = synth_report(args.snapshot, args.data, args.out, num=args.num, seed=args.seed, cameras=args.cameras,
                              locality_seeds=gan3d.parse_seeds(args.locality_seeds), locality_truncation=args.trunc,
                              batch=args.batch, device=args.device)
    except Gan3dError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_report(report))
    print(f"wrote {args.out}/report.json and {report.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
