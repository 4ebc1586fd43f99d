"""Helpers of the data tests: tiny folders and EG3D zips with camera labels and masks, written in the test."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

import gan3d

YAWS = (-0.5, -0.2, 0.0, 0.3)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def picture(i: int, size: int = 16, width: int | None = None) -> np.ndarray:
    """An RGB image whose left half is brighter than its right, different per ``i`` (to see flips)."""
    width = width or size
    img = np.zeros((size, width, 3), dtype=np.uint8)
    img[:, : width // 2] = 200
    img[..., 1] = 10 * i
    img[0, 0, 2] = 255
    return img


def mask(size: int = 16, width: int | None = None, top: int = 8) -> np.ndarray:
    """Class ids: 0 background, 1 face on the left half, ``top`` in the top-left corner."""
    width = width or size
    m = np.zeros((size, width), dtype=np.uint8)
    m[:, : width // 2] = 1
    m[:2, :2] = top
    return m


def labels_for(names, yaws=YAWS):
    cams = gan3d.Camera.orbit(yaw=list(yaws[: len(names)]), pitch=0.1, look_at=(0, 0, 0.2))
    return {n: lab.tolist() for n, lab in zip(names, cams.to_eg3d_label())}


def write_folder(root: Path, n: int = 4, size: int = 16, labels: bool = True, masks: bool = False,
                 mask_top: int = 8, extra: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"sub/im{i}.png" for i in range(n)]
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png(picture(i, size)))
        if masks:
            (root / "masks" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "masks" / name).write_bytes(png(mask(size, top=mask_top)))
    meta = dict(extra or {})
    if labels:
        meta["labels"] = [[k, v] for k, v in labels_for(names).items()]
    if meta:
        (root / "dataset.json").write_text(json.dumps(meta))
    return root


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def eg3d_zip(path: Path, n: int = 4, size: int = 16, masks: bool = False) -> Path:
    names = [f"00000/img{i:08d}.png" for i in range(n)]
    files = {name: png(picture(i, size)) for i, name in enumerate(names)}
    if masks:
        files.update({f"masks/{name}": png(mask(size)) for name in names})
    files["dataset.json"] = json.dumps({"labels": [[k, v] for k, v in labels_for(names).items()]}).encode()
    return write_zip(path, files)
