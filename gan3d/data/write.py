"""Writing data sets in EG3D's zip format: from an image folder plus camera labels, mirrored copies, and
CelebAMask-HQ's images and part annotations.

Every writer checks its output location first, writes to a temporary file and renames it into place,
so an interrupted run leaves nothing that looks like a finished data set.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..errors import DatasetError, InputError
from ..io import atomic_write, ensure_writable_file
from .datasets import (CROPS, center_crop_box, crop_label, decode_image, decode_mask, file_source, is_image_name,
                       parse_labels, read_meta)
from .labels import LabelProblem, check_labels, mirror_labels
from .masks import CELEBAMASK_CLASSES

MIRROR_TAG = "_mirror"


def check_output(out: str | os.PathLike, force: bool = False, source: str | os.PathLike | None = None) -> Path:
    """Refuse, before any work, an ``out`` that is the ``source``, exists (unless ``force``) or cannot be written."""
    out = Path(out).expanduser()
    if source is not None and out.resolve() == Path(source).expanduser().resolve():
        raise InputError("--out must differ from the input data set")
    if out.exists() and not out.is_dir() and not force:
        raise InputError(f"{out} exists; pass --force to overwrite it")
    return ensure_writable_file(out, "--out")


def archive_name(index: int) -> str:
    """EG3D's name for image ``index``: ``00000/img00000000.png`` (folder = first 5 of 8 digits)."""
    digits = f"{index:08d}"
    return f"{digits[:5]}/img{digits}.png"


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


@contextmanager
def _zip_out(out: Path) -> Iterator[zipfile.ZipFile]:
    # stored, not deflated: PNGs are compressed already, and EG3D's tools write zips the same way
    with atomic_write(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        yield zf


def _write_json(zf: zipfile.ZipFile, meta: dict) -> None:
    zf.writestr("dataset.json", json.dumps(meta))


def load_label_file(path: str | os.PathLike) -> dict[str, list[float]]:
    """Camera labels from JSON: ``{relpath: [25 numbers]}`` or dataset.json's form
    ``{"labels": [[relpath, [25 numbers]], ...]}``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"labels file {path} does not exist")
    try:
        raw = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"labels file {path} is not valid JSON ({e})") from None
    if isinstance(raw, dict) and isinstance(raw.get("labels"), list):  # dataset.json form
        raw = raw["labels"]
    labels = parse_labels(raw, str(path))
    if not labels:
        raise InputError(f"labels file {path} holds no labels")
    return labels


# ---------------------------------------------------------------------------------------------- make
def make_dataset(images: str | os.PathLike, out: str | os.PathLike, labels: dict[str, list[float]] | None = None,
                 resolution: int | None = None, crop: str = "center", force: bool = False,
                 progress: bool = True) -> list[LabelProblem]:
    """Write an EG3D zip from a folder (or zip) of images.

    ``labels`` maps relative image paths to 25-number camera labels (default: the source's own
    dataset.json, if any). Masks at ``masks/REL`` come along, cropped and resized like their images.
    Non-square images are centre-cropped (``crop="center"``, intrinsics adjusted) or refused
    (``crop="none"``); ``resolution`` resizes (Lanczos; masks nearest), otherwise all images must share
    one size. Returns the implausible labels (written anyway; see :func:`gan3d.data.check_labels`).
    """
    if crop not in CROPS:
        raise InputError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    if resolution is not None and int(resolution) < 1:
        raise InputError(f"--res must be a positive number of pixels, got {resolution}")
    out = check_output(out, force, images)
    src = file_source(Path(images).expanduser())
    files = src.names()
    names = sorted(n for n in files if is_image_name(n))
    if not names:
        raise DatasetError(f"no images in {src.path}")
    meta = read_meta(src, files)
    if labels is None:
        labels = parse_labels(meta.get("labels"), f"{src.path}/dataset.json")
    if labels is not None:
        missing = [n for n in names if n not in labels]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DatasetError(f"no camera label for {missing[0]}{more}; the labels file needs an entry for every "
                               "image, keyed by its relative path")
    file_set = set(files)
    masks = {n: m for n in names for m in (f"masks/{n}", f"masks/{PurePosixPath(n).with_suffix('.png')}")
             if m in file_set}
    if masks and len(masks) < len(names):
        lacking = next(n for n in names if n not in masks)
        raise DatasetError(f"{len(names) - len(masks)} images have no mask, e.g. {lacking}; give every image a "
                           "mask or none")

    out_labels, first = [], None
    with _zip_out(out) as zf:
        for i, name in enumerate(tqdm(names, desc=f"writing {out.name}", unit="img", disable=not progress)):
            img = decode_image(src.read(name), name)
            w, h = img.size
            box = None
            if w != h:
                if crop == "none":
                    raise DatasetError(f"{name} is {w}x{h}, not square; pass --crop center")
                box = center_crop_box(w, h)
                img = img.crop(box)
            if resolution is not None and img.size[0] != resolution:
                img = img.resize((resolution, resolution), Image.LANCZOS)
            if first is None:
                first = (name, img.size)
            elif img.size != first[1]:
                (w0, h0), (w1, h1) = first[1], img.size
                raise DatasetError(f"images of mixed sizes: {first[0]} gives {w0}x{h0}, {name} gives {w1}x{h1}; "
                                   "pass --res to resize them all")
            dest = archive_name(i)
            zf.writestr(dest, png_bytes(img))
            if masks:
                ids = decode_mask(src.read(masks[name]), masks[name])
                if ids.shape != (h, w):
                    raise DatasetError(f"mask {masks[name]} is {ids.shape[1]}x{ids.shape[0]} but its image is "
                                       f"{w}x{h}")
                m = Image.fromarray(ids.astype(np.uint8))
                if box is not None:
                    m = m.crop(box)
                if m.size != img.size:
                    m = m.resize(img.size, Image.NEAREST)
                zf.writestr(f"masks/{dest}", png_bytes(m))
            if labels is not None:
                lab = torch.tensor(labels[name], dtype=torch.float32)
                if box is not None:
                    lab = crop_label(lab, w, h, box)
                out_labels.append((dest, lab))
        new_meta = {"labels": None if labels is None else [[d, lab.tolist()] for d, lab in out_labels]}
        if masks and "mask_classes" in meta:
            new_meta["mask_classes"] = meta["mask_classes"]
        _write_json(zf, new_meta)
    if not out_labels:
        return []
    return check_labels(torch.stack([lab for _, lab in out_labels]), [d for d, _ in out_labels])


# ---------------------------------------------------------------------------------------------- mirror
def mirrored_name(name: str) -> str:
    """``a/b.png`` -> ``a/b_mirror.png`` (EG3D's ``mirror_dataset`` naming)."""
    p = PurePosixPath(name)
    return str(p.with_name(p.stem + MIRROR_TAG + p.suffix))


def _flip_bytes(data: bytes, name: str, fmt: str | None = None) -> bytes:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except OSError as e:
        raise DatasetError(f"cannot read {name}: {e}") from None
    flipped = img.transpose(Image.FLIP_LEFT_RIGHT)
    buf = io.BytesIO()
    flipped.save(buf, format=fmt or img.format or "PNG")
    return buf.getvalue()


def mirror_dataset(source: str | os.PathLike, out: str | os.PathLike, force: bool = False,
                   progress: bool = True) -> int:
    """Write a zip holding ``source`` plus an x-flipped copy of every image, as EG3D's ``mirror_dataset.py``.

    The copy of ``REL`` is ``REL`` with ``_mirror`` before the suffix; its label is the mirrored camera
    (:func:`gan3d.data.mirror_labels`), and its mask and depth map (``masks/``, ``depth/``) are flipped too.
    Images whose name holds ``_mirror`` are copies already and are not mirrored again. Returns the
    number of copies added.
    """
    out = check_output(out, force, source)
    src = file_source(Path(source).expanduser())
    files = src.names()
    file_set = set(files)
    meta = read_meta(src, files)
    labels = parse_labels(meta.get("labels"), f"{src.path}/dataset.json")
    if labels is None:
        raise DatasetError(f"{src.path} has no camera labels (dataset.json); mirroring needs them to mirror the "
                           "cameras. For unlabelled images use open_dataset(..., xflip=True) instead")
    names = sorted(n for n in files if is_image_name(n))
    todo = [n for n in names if MIRROR_TAG not in PurePosixPath(n).stem and mirrored_name(n) not in file_set]
    missing = [n for n in names if n not in labels]
    if missing:
        raise DatasetError(f"{src.path}/dataset.json has no label for {missing[0]}; every image needs one")
    added = []
    with _zip_out(out) as zf:
        for f in tqdm(files, desc="copying", unit="file", disable=not progress, leave=False):
            if f != "dataset.json":
                zf.writestr(f, src.read(f))
        for n in tqdm(todo, desc=f"mirroring into {out.name}", unit="img", disable=not progress):
            dest = mirrored_name(n)
            zf.writestr(dest, _flip_bytes(src.read(n), n))
            for aux in ("masks", "depth"):
                for cand in (f"{aux}/{n}", f"{aux}/{PurePosixPath(n).with_suffix('.png')}"):
                    if cand in file_set:
                        dest_aux = f"{aux}/{mirrored_name(cand.split('/', 1)[1])}"
                        zf.writestr(dest_aux, _flip_bytes(src.read(cand), cand))
                        break
            added.append([dest, mirror_labels(torch.tensor(labels[n])).tolist()])
        # the originals keep their order (other per-image lists of dataset.json may follow it); copies come after
        meta = {**meta, "labels": [[k, v] for k, v in labels.items()] + added}
        _write_json(zf, meta)
    return len(todo)


# ---------------------------------------------------------------------------------------------- CelebAMask-HQ
def celebamask_ids(anno_dir: str | os.PathLike, index: int) -> np.ndarray:
    """CelebAMask-HQ's id map ``[512,512]`` uint8 of image ``index`` from its per-part annotation PNGs.

    Parts live at ``anno_dir/{index // 2000}/{index:05d}_{part}.png``; each part is painted in
    :data:`CELEBAMASK_CLASSES` order (later parts win where they overlap), as the data set's own tool does.
    """
    folder = Path(anno_dir) / str(index // 2000)
    ids = None
    for cid, part in enumerate(CELEBAMASK_CLASSES[1:], start=1):
        f = folder / f"{index:05d}_{part}.png"
        if not f.is_file():
            continue  # parts absent from a face (no hat, no glasses) have no file
        on = np.asarray(Image.open(f).convert("L")) > 0
        if ids is None:
            ids = np.zeros(on.shape, dtype=np.uint8)
        ids[on] = cid
    if ids is None:
        raise DatasetError(f"no part annotations for image {index} under {folder}")
    return ids


def convert_celebamask(root: str | os.PathLike, out: str | os.PathLike, resolution: int | None = 512,
                       max_images: int | None = None, force: bool = False, progress: bool = True) -> int:
    """Write a mask-pair zip from CelebAMask-HQ (``root/CelebA-HQ-img/N.jpg``, ``root/CelebAMask-HQ-mask-anno``).

    Masks keep CelebAMask-HQ's 19 ids (``mask_classes`` in dataset.json), which the reader maps to
    CNeRF's classes. Images and masks are resized to ``resolution`` (default 512, the annotations'
    own size; images Lanczos, masks nearest). No camera labels. Returns the number of images written.
    """
    root = Path(root).expanduser()
    img_dir, anno_dir = root / "CelebA-HQ-img", root / "CelebAMask-HQ-mask-anno"
    if not img_dir.is_dir() or not anno_dir.is_dir():
        raise DatasetError(f"{root} is not CelebAMask-HQ: expected the folders CelebA-HQ-img/ and "
                           "CelebAMask-HQ-mask-anno/")
    out = check_output(out, force)
    indices = sorted(int(p.stem) for p in img_dir.iterdir() if re.fullmatch(r"\d+", p.stem)
                     and p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if max_images is not None:
        indices = indices[:max_images]
    if not indices:
        raise DatasetError(f"no images named N.jpg in {img_dir}")
    by_index = {int(p.stem): p for p in img_dir.iterdir() if re.fullmatch(r"\d+", p.stem)}
    with _zip_out(out) as zf:
        for i, k in enumerate(tqdm(indices, desc=f"writing {out.name}", unit="img", disable=not progress)):
            img = decode_image(by_index[k].read_bytes(), str(by_index[k]))
            ids = Image.fromarray(celebamask_ids(anno_dir, k))
            size = resolution or ids.size[0]
            if img.size != (size, size):
                img = img.resize((size, size), Image.LANCZOS)
            if ids.size != (size, size):
                ids = ids.resize((size, size), Image.NEAREST)
            dest = archive_name(i)
            zf.writestr(dest, png_bytes(img))
            zf.writestr(f"masks/{dest}", png_bytes(ids))
        sources = [[archive_name(i), f"CelebA-HQ-img/{by_index[k].name}"] for i, k in enumerate(indices)]
        _write_json(zf, {"labels": None, "mask_classes": list(CELEBAMASK_CLASSES), "source": sources})
    return len(indices)
