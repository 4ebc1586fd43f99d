"""Writing frame sequences as MP4 (imageio-ffmpeg, which ships its own ffmpeg) or GIF (Pillow)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import InputError
from .io import atomic_write


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: int = 30,
                bitrate: str = "10M") -> Path:
    """Write ``[H,W,3]`` uint8 frames to ``path`` (``.mp4`` or ``.gif``) atomically.

    MP4 uses libx264 with yuv420p (even sizes are padded), as EG3D's videos; GIF needs no codec.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise InputError(f"videos are written as .mp4 or .gif, got {path.name!r}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"frames per second must be a positive number, got {fps!r}")
    with atomic_write(path) as tmp:
        if suffix == ".gif":
            imgs = [Image.fromarray(f) for f in frames]
            if not imgs:
                raise InputError("no frames to write")
            imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0)
        else:
            import imageio_ffmpeg

            writer = None
            n = 0
            try:
                for f in frames:
                    h, w = f.shape[:2]
                    f = np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)))  # yuv420p needs even sizes
                    if writer is None:
                        writer = imageio_ffmpeg.write_frames(str(tmp), (f.shape[1], f.shape[0]), fps=fps,
                                                             codec="libx264", bitrate=bitrate,
                                                             pix_fmt_out="yuv420p", macro_block_size=1,
                                                             output_params=["-f", "mp4"])
                        writer.send(None)
                    writer.send(np.ascontiguousarray(f))
                    n += 1
            finally:
                if writer is not None:
                    writer.close()
            if n == 0:
                raise InputError("no frames to write")
    return path


def read_video_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of an MP4/GIF as ``[H,W,3]`` uint8 (used by tests and previews)."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        im = Image.open(path)
        out = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
        return out
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
