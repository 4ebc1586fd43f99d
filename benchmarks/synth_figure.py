"""The README picture of the synthetic head world: identities (rows) from several yaws, each sample
with its semantic mask and depth map below it.

    python benchmarks/synth_figure.py --out docs/synth_world.png --ids 1,6,7 --res 128
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def figure(ids: list[int], yaws_deg: list[float], resolution: int, seed: int = 0) -> np.ndarray:
    """``[H,W,3]`` uint8 grid: per identity three rows (image, mask colours, depth), one column per yaw."""
    from gan3d.data.synth.render import render
    from gan3d.data.synth.world import scenes
    from gan3d.images import grid, hstack, label_palette

    s = scenes(ids, seed).views([math.radians(y) for y in yaws_deg], pitch=-0.05)
    out = render(s, resolution)
    palette = label_palette(9)
    images = out.image.permute(0, 2, 3, 1).numpy()
    masks = palette[out.mask.numpy()]
    depth = out.depth.numpy()
    fg = depth > 0
    # per image: nearest point white, farthest visible point dark grey, background black
    near = np.where(fg, depth, np.inf).min((1, 2), keepdims=True)
    far = np.where(fg, depth, -np.inf).max((1, 2), keepdims=True)
    shade = np.where(fg, 40 + 215 * (far - depth) / np.maximum(far - near, 1e-6), 0).astype(np.uint8)
    depths = np.repeat(shade[..., None], 3, -1)
    n = len(yaws_deg)
    rows = []
    for k in range(len(ids)):
        cols = slice(k * n, (k + 1) * n)
        for block in (images, masks, depths):
            rows.append(hstack(list(block[cols])))
    return grid(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/synth_world.png")
    p.add_argument("--ids", default="1,6,7", help="identity ids (sample indices of the world)")
    p.add_argument("--yaw", default="-45,-20,0,20,45", help="degrees")
    p.add_argument("--res", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from gan3d.images import save_png

    arr = figure([int(i) for i in args.ids.split(",")], [float(y) for y in args.yaw.split(",")], args.res,
                 args.seed)
    print(save_png(arr, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
