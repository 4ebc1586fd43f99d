"""Peak memory (RSS) of EG3D ffhq512-128 on CPU: one 512² image, and N views of one latent (tri-planes
reused), each measured in a fresh process so one figure cannot inherit another's peak.

    python benchmarks/eg3d_memory.py [--views 8] [--official ~/src/eg3d]

Random seeded weights, deterministic sampling, batch 1, psi 0.7. With ``--official`` the same rows are
measured for NVIDIA's ``TriPlaneGenerator`` holding the same weights (see eg3d_speed.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path


def measure(which: str, views: int, official: str | None) -> dict:
    """Run in this process: build, render ``views`` views of one latent, return the peak RSS."""
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    import eg3d_speed as es
    from gan3d_eg3d.cards import CARDS_BY_NAME
    from gan3d_eg3d.generator import EG3DGenerator

    torch.manual_seed(0)
    G = EG3DGenerator(CARDS_BY_NAME["eg3d/ffhq512-128"], es.FFHQ512_128, neural_rendering_resolution=128)
    G = G.eval().requires_grad_(False).set_deterministic(True)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(0))
    cams = [G.default_camera(y) for y in torch.linspace(-0.5, 0.5, views).tolist()]
    built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with torch.no_grad():
        ws = G.mapping(z, None, 0.7, 14)
        if which == "gan3d":
            for c in cams:
                G.synthesize(ws, c)
        else:
            model = es.official_generator(official, G)
            del G
            for c in cams:
                model.synthesis(ws, c.to_eg3d_label())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"code": which, "views": views, "peak_rss_mib": round(peak), "rss_after_build_mib": round(built)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--official", default=None, help="a checkout of NVlabs/eg3d to measure beside gan3d")
    ap.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)  # internal: measure one row in this process
    args = ap.parse_args()
    if args.views < 1:
        ap.error("--views must be at least 1")
    if args._one:
        print(json.dumps(measure(args._one[0], int(args._one[1]), args.official)))
        return
    print(json.dumps({"model": "eg3d ffhq512-128 (random weights)", "device": "cpu", "batch": 1,
                      "deterministic": True, "views": [1, args.views], "official": args.official}))
    for which in ["gan3d"] + (["official"] if args.official else []):
        for views in (1, args.views):
            cmd = [sys.executable, __file__, "--_one", which, str(views)]
            cmd += ["--official", args.official] if args.official else []
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"eg3d_memory.py: the {which} row failed:\n{out.stderr.strip()[-2000:]}")
            print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
