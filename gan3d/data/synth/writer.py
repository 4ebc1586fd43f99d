"""Writing the head world as an EG3D-format zip with masks, depth maps and the truth of every sample.

Layout (what :func:`gan3d.data.open_dataset` reads):

* ``00000/img00000000.png`` RGB images, ``masks/<same path>`` class ids (CNeRF's order),
  ``depth/<same path>`` 16-bit depth (camera z = value * ``depth.scale``, 0 on the background);
* ``dataset.json``: ``labels`` (EG3D's ``[[path, 25 numbers]]``), ``mask_classes``, ``depth``,
  ``identity_params`` (the names of the identity vector) and ``truth`` (one entry per image, in the
  order of ``labels``: identity id and vector, smile, light, ambient, yaw, pitch).

The bytes depend only on (seed, sample range, resolution): PNGs are written with fixed settings and the
zip entries carry a fixed timestamp, so the same call gives an identical file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ...errors import InputError
from ...io import atomic_write
from ..masks import CNERF_CLASSES
from ..write import archive_name, png_bytes
from .render import RESOLUTIONS, render
from .world import FOCAL, IDENTITY_NAMES, PIVOT, RADIUS, scenes

DEPTH_SCALE = 1.0 / 16384  # world units per step of the 16-bit depth PNGs (covers camera z up to 4)
BATCH = 50
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: no wall-clock time in the file


def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED  # PNGs are compressed already
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def check_resolution(resolution: int) -> int:
    """``resolution`` if the world supports it, else an :class:`InputError` listing the choices."""
    if int(resolution) not in RESOLUTIONS:
        raise InputError(f"the synthetic world renders at {', '.join(map(str, RESOLUTIONS))} pixels, "
                         f"not {resolution}; pick one of these (resize afterwards with gan3d dataset make --res)")
    return int(resolution)


def _render_batch(seed: int, start: int, stop: int, resolution: int, threads: int | None = None):
    """Samples ``start .. stop-1`` as zip entries ``[(name, bytes)]``, labels and truth records."""
    if threads is not None:  # a worker process: one thread each, the processes share the cores
        torch.set_num_threads(threads)
    s = scenes(range(start, stop), seed)
    r = render(s, resolution)
    label = s.camera().to_eg3d_label()
    images = r.image.permute(0, 2, 3, 1).numpy()
    depth = np.round(r.depth.double().numpy() / DEPTH_SCALE).clip(0, 65535).astype(np.uint16)
    entries, labels, truth = [], [], []
    for k in range(len(s)):
        name = archive_name(start + k)
        entries += [(name, png_bytes(Image.fromarray(images[k]))),
                    (f"masks/{name}", png_bytes(Image.fromarray(r.mask[k].numpy()))),
                    (f"depth/{name}", png_bytes(Image.fromarray(depth[k])))]
        labels.append([name, label[k].tolist()])
        truth.append({"file": name, "identity": int(s.identity_id[k]),
                      "params": [round(float(v), 6) for v in s.identity[k]],
                      "smile": round(float(s.smile[k]), 6),
                      "light": [round(float(v), 6) for v in s.light[k]],
                      "ambient": round(float(s.ambient[k]), 6),
                      "yaw": float(s.yaw[k]), "pitch": float(s.pitch[k])})
    return entries, labels, truth


def _default_workers(num: int) -> int:
    """Worker processes for ``num`` images: none for a few batches (start-up costs more than it saves)."""
    if num <= 4 * BATCH:
        return 0
    return max(0, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))


def write_dataset(out: str | os.PathLike, num: int, resolution: int, seed: int = 0, *,
                  progress: bool = True, workers: int | None = None) -> Path:
    """Render samples ``0 .. num-1`` of the world ``seed`` at ``resolution`` into the zip ``out``.

    ``workers`` processes render batches in parallel (default: one per CPU core, up to 4, for more than
    a few batches; 0 renders in this process). Separate single-threaded processes rather than torch's
    threads, because OpenMP threads spin-wait badly on shared cores. The file does not depend on it.
    ``out`` is replaced atomically (an interrupted run leaves no partial file). Returns ``out``.
    """
    res = check_resolution(resolution)
    num, seed = int(num), int(seed)
    if num < 1:
        raise InputError(f"num must be a positive number of images, got {num}")
    if seed < 0:
        raise InputError(f"seed must be non-negative, got {seed}")
    workers = _default_workers(num) if workers is None else int(workers)
    out = Path(out).expanduser()
    starts = list(range(0, num, BATCH))
    labels, truth = [], []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_write(out))
        zf = stack.enter_context(zipfile.ZipFile(tmp, "w"))
        bar = stack.enter_context(tqdm(total=num, desc=f"rendering {out.name}", unit="img", disable=not progress))
        if workers > 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # fork where it is safe (Linux; the workers touch no GPU): no re-import, and a caller's script
            # without a ``__main__`` guard is not run again in every worker, as spawn would
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)))
            batches = pool.map(_render_batch, *zip(*[(seed, a, min(a + BATCH, num), res, 1) for a in starts]))
        else:
            batches = (_render_batch(seed, a, min(a + BATCH, num), res) for a in starts)
        for entries, lab, tru in batches:
            for name, data in entries:
                _entry(zf, name, data)
            labels += lab
            truth += tru
            bar.update(len(lab))
        meta = {"labels": labels, "mask_classes": list(CNERF_CLASSES),
                "depth": {"scale": DEPTH_SCALE, "background": 0,
                          "meaning": "camera-space z (distance along the optical axis) in world units"},
                "synth": {"num": num, "resolution": res, "seed": seed, "radius": RADIUS, "pivot": list(PIVOT),
                          "focal": FOCAL},
                "identity_params": list(IDENTITY_NAMES), "truth": truth}
        _entry(zf, "dataset.json", json.dumps(meta).encode())
    return out
