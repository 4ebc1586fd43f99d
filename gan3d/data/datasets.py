"""Image data sets in the formats the methods train on.

One reader, :class:`ImageDataset`, for every layout (a zip file or a folder):

* EG3D's format: images (sorted by relative path) and ``dataset.json`` = ``{"labels": [[relpath, [25
  numbers]], ...]}`` (camera labels, see :mod:`gan3d.data.labels`); ``"labels": null`` means none.
* image + mask pairs: the mask of the image at ``REL`` is ``masks/REL`` (or ``masks/REL`` with a ``.png``
  suffix), a single-channel PNG of class ids in CNeRF's order (:data:`~gan3d.data.masks.CNERF_CLASSES`),
  or in CelebAMask-HQ's 19 ids when ``dataset.json`` has ``"mask_classes"`` equal to
  :data:`~gan3d.data.masks.CELEBAMASK_CLASSES` (converted to CNeRF's classes on reading);
* a plain image folder (no labels, no masks).

Files under the top-level ``masks/`` and ``depth/`` folders are never images of the data set.
:func:`open_dataset` opens any of these, or ``synth:num=N,res=R,seed=S`` (the procedural head world,
built once into gan3d's cache).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ..errors import DatasetError
from .labels import LABEL_SIZE, mirror_labels
from .masks import CELEBAMASK_CLASSES, CELEBAMASK_TO_CNERF, CNERF_CLASSES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
AUX_FOLDERS = ("masks", "depth")  # per-image side data, never images of the data set
CROPS = ("center", "none")


# ---------------------------------------------------------------------------------------------- sources
class _Source:
    """The files of a data set, by relative POSIX path: a folder or a zip."""

    def __init__(self, path: Path):
        self.path = path

    def names(self) -> list[str]:
        raise NotImplementedError

    def open(self, name: str):
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()


class _FolderSource(_Source):
    def names(self) -> list[str]:
        out = []
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = Path(root).relative_to(self.path)
            out += [(rel / f).as_posix() for f in files if not f.startswith(".")]
        return out

    def open(self, name: str):
        return open(self.path / name, "rb")


class _ZipSource(_Source):
    def __init__(self, path: Path):
        super().__init__(path)
        self._zip: zipfile.ZipFile | None = None
        self._pid = os.getpid()
        try:
            self._file()
        except (zipfile.BadZipFile, OSError) as e:
            raise DatasetError(f"{path} is not a readable zip file ({e}); give an EG3D zip, a folder or "
                               "synth:num=N,res=R") from None

    def _file(self) -> zipfile.ZipFile:
        # One handle per process: forked DataLoader workers would otherwise share the file offset.
        if self._zip is None or self._pid != os.getpid():
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        return self._zip

    def names(self) -> list[str]:
        return [n for n in self._file().namelist()
                if not n.endswith("/") and not any(p.startswith(".") or p == "__MACOSX" for p in n.split("/"))]

    def open(self, name: str):
        return self._file().open(name)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None}


def file_source(path: Path) -> _Source:
    """The files of the data set at ``path`` (a folder or a zip); a missing path is a :class:`DatasetError`."""
    if not path.exists():
        raise DatasetError(f"data set {path} does not exist; give an EG3D zip, an image folder or synth:num=N,res=R")
    if path.is_dir():
        return _FolderSource(path)
    return _ZipSource(path)


def read_meta(src: _Source, files: list[str] | None = None) -> dict:
    """The data set's ``dataset.json`` as a dict (empty when there is none)."""
    if "dataset.json" not in (src.names() if files is None else files):
        return {}
    try:
        meta = json.loads(src.read("dataset.json"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(f"{src.path}/dataset.json is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{src.path}/dataset.json must hold an object with a 'labels' key")
    return meta


# ---------------------------------------------------------------------------------------------- geometry
def center_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square ``(left, top, right, bottom)`` of a ``width x height`` image."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def crop_label(label: torch.Tensor, width: int, height: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    """The label ``[25]`` of an image cropped to ``box``: intrinsics renormalised to the crop, pose unchanged.

    Normalised intrinsics hold ``fx/W, cx/W`` and ``fy/H, cy/H``; a crop of size ``S`` moves the principal
    point by the crop's offset and divides by ``S`` instead. Resizing leaves normalised intrinsics alone.
    """
    left, top, right, bottom = box
    sw, sh = right - left, bottom - top
    out = torch.as_tensor(label, dtype=torch.float32).clone()
    k = out[16:].reshape(3, 3)
    k[0, 0], k[0, 2] = k[0, 0] * width / sw, (k[0, 2] * width - left) / sw
    k[1, 1], k[1, 2] = k[1, 1] * height / sh, (k[1, 2] * height - top) / sh
    out[16:] = k.reshape(-1)
    return out


# ---------------------------------------------------------------------------------------------- reading
def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES and name.split("/", 1)[0] not in AUX_FOLDERS


def decode_image(data: bytes, name: str) -> Image.Image:
    """An RGB PIL image from file bytes; an unreadable file is a :class:`DatasetError` naming it."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"cannot read image {name}: {e}; remove or replace the file") from None
    return img.convert("RGB") if img.mode != "RGB" else img


def decode_mask(data: bytes, name: str) -> np.ndarray:
    """A single-channel class-id map ``[H,W]`` from PNG bytes."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"cannot read mask {name}: {e}; remove or replace the file") from None
    if img.mode not in ("L", "P", "I", "I;16", "1"):
        raise DatasetError(f"mask {name} has mode {img.mode}; masks must be single-channel images of class ids "
                           "(mode L or P)")
    return np.asarray(img).astype(np.int64)


def parse_labels(raw, where: str) -> dict[str, list[float]] | None:
    """``{relpath: [25 floats]}`` from dataset.json's ``labels`` value (a list of pairs, a mapping, or null)."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = []
        for i, entry in enumerate(raw):
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
                raise DatasetError(f"{where}: labels entry {i} is {str(entry)[:60]}; expected "
                                   "[relpath, [25 numbers]]")
            items.append(tuple(entry))
    else:
        raise DatasetError(f"{where}: labels must be a list of [relpath, [25 numbers]] pairs or null")
    out = {}
    for name, label in items:
        name = name.replace("\\", "/")
        if not isinstance(label, (list, tuple)) or not all(isinstance(v, (int, float)) for v in label):
            raise DatasetError(f"{where}: the label of {name} is not a list of numbers")
        if len(label) != LABEL_SIZE:
            raise DatasetError(f"{where}: the label of {name} has {len(label)} numbers; EG3D camera labels have "
                               f"{LABEL_SIZE} (16 of cam2world, 9 of normalised intrinsics)")
        out[name] = [float(v) for v in label]
    return out


class ImageDataset(torch.utils.data.Dataset):
    """Images with optional EG3D camera labels and semantic masks (see the module docstring for layouts).

    ``ds[i]`` is ``{"image": uint8 [3,H,W], "label": float32 [25] or None, "mask": uint8 [H,W] or None}``
    (mask: class ids in CNeRF's order). With ``xflip`` the set is twice as long: items ``N..2N-1`` are
    the x-flipped images and masks with mirrored camera labels (:func:`~gan3d.data.labels.mirror_labels`;
    EG3D's own loader flips images but keeps their labels, which contradicts the pictures).
    With ``resolution`` every image is centre-cropped to a square and resized (Lanczos; masks nearest);
    without it the images must all be square and of one size.
    """

    def __init__(self, path: str | os.PathLike, *, xflip: bool = False, resolution: int | None = None,
                 require_labels: bool = False, require_masks: bool = False, name: str | None = None):
        self.path = Path(path)
        self._src = file_source(self.path)
        self.name = name or self.path.stem
        self.xflip = bool(xflip)
        if resolution is not None and int(resolution) < 1:
            raise DatasetError(f"resolution must be a positive number of pixels, got {resolution}")
        files = self._src.names()
        self.image_names: list[str] = sorted(n for n in files if is_image_name(n))
        if not self.image_names:
            raise DatasetError(f"no images in {self.path} (looked for {', '.join(IMAGE_SUFFIXES)} outside "
                               f"{'/, '.join(AUX_FOLDERS)}/)")
        meta = read_meta(self._src, files)
        if "dataset.json" not in files:
            why = "has no dataset.json"
        else:
            why = "has 'labels': null in dataset.json" if "labels" in meta else "has no 'labels' in dataset.json"
        self._labels = self._match_labels(parse_labels(meta.get("labels"), f"{self.path}/dataset.json"),
                                          require_labels, why)
        self._mask_names = self._match_masks(set(files), require_masks)
        self._set_classes(meta.get("mask_classes"))
        self._sizes = self._scan_sizes()
        self.resolution = self._pick_resolution(resolution)
        if self._labels is not None:  # the labels of the centre-cropped images that the items give
            for i, box in enumerate(map(self._box, range(self.num_raw))):
                if box is not None:
                    self._labels[i] = crop_label(self._labels[i], *self._sizes[i], box)

    # ------------------------------------------------------------------ set-up
    def _match_labels(self, by_name: dict | None, require: bool, why: str) -> torch.Tensor | None:
        if by_name is None:
            if require:
                raise DatasetError(f"{self.path} {why}, but camera labels are required (EG3D is conditioned on "
                                   "the camera); make a labelled zip with `gan3d dataset make IMAGES --labels "
                                   "cams.json --out data.zip`")
            return None
        missing = [n for n in self.image_names if n not in by_name]
        if missing:
            raise DatasetError(f"{self.path}/dataset.json has no label for {missing[0]}"
                               + (f" (and {len(missing) - 1} more images)" if len(missing) > 1 else "")
                               + "; every image needs one")
        return torch.tensor([by_name[n] for n in self.image_names], dtype=torch.float32).reshape(-1, LABEL_SIZE)

    def _match_masks(self, files: set[str], require: bool) -> list[str] | None:
        def mask_of(n: str) -> str | None:
            for cand in (f"masks/{n}", f"masks/{PurePosixPath(n).with_suffix('.png')}"):
                if cand in files:
                    return cand
            return None

        names = [mask_of(n) for n in self.image_names]
        have = sum(m is not None for m in names)
        if have == 0:
            if require:
                raise DatasetError(f"{self.path} has no masks, but this method trains on semantic masks; put the "
                                   "mask of image REL at masks/REL (a single-channel PNG of class ids)")
            return None
        if have < len(names):
            lacking = next(n for n, m in zip(self.image_names, names) if m is None)
            raise DatasetError(f"{self.path}: {len(names) - have} images have no mask, e.g. {lacking} (expected "
                               f"masks/{lacking}); give every image a mask or none")
        return names

    def _set_classes(self, classes) -> None:
        self._id_map: np.ndarray | None = None
        if self._mask_names is None:
            self.class_names, self.num_classes, self._num_source_ids = None, None, 0
            return
        if classes is None:
            classes = list(CNERF_CLASSES)
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
            raise DatasetError(f"{self.path}/dataset.json: mask_classes must be a list of class names")
        if len(classes) > 256:
            raise DatasetError(f"{self.path}/dataset.json lists {len(classes)} mask classes; at most 256 fit a mask")
        self._num_source_ids = len(classes)
        if tuple(classes) == CELEBAMASK_CLASSES:
            self._id_map = CELEBAMASK_TO_CNERF
            classes = list(CNERF_CLASSES)
        self.class_names = list(classes)
        self.num_classes = len(classes)

    def _scan_sizes(self) -> list[tuple[int, int]]:
        sizes = []
        bar = tqdm(self.image_names, desc=f"scanning {self.name}", unit="img", disable=len(self.image_names) < 5000,
                   leave=False)
        for n in bar:
            try:
                with self._src.open(n) as f, Image.open(f) as img:
                    sizes.append(img.size)
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
                raise DatasetError(f"cannot read image {n} in {self.path}: {e}; remove or replace the file") from None
        return sizes

    def _pick_resolution(self, resolution: int | None) -> int:
        if resolution is not None:
            return int(resolution)
        first = self._sizes[0]
        for n, s in zip(self.image_names, self._sizes):
            if s != first:
                raise DatasetError(f"images of mixed sizes in {self.path}: {self.image_names[0]} is "
                                   f"{first[0]}x{first[1]}, {n} is {s[0]}x{s[1]}; pass a resolution to resize them "
                                   "all, or make a uniform zip with `gan3d dataset make --res R`")
        if first[0] != first[1]:
            raise DatasetError(f"images in {self.path} are {first[0]}x{first[1]}, not square; pass a resolution "
                               "(they are centre-cropped) or make a square zip with "
                               "`gan3d dataset make --crop center`")
        return first[0]

    # ------------------------------------------------------------------ properties
    @property
    def num_raw(self) -> int:
        """Images on disk (without mirrored copies)."""
        return len(self.image_names)

    @property
    def has_labels(self) -> bool:
        return self._labels is not None

    @property
    def has_masks(self) -> bool:
        return self._mask_names is not None

    def __len__(self) -> int:
        return self.num_raw * (2 if self.xflip else 1)

    def item_name(self, index: int) -> str:
        """The relative path of item ``index`` (``+ " (mirrored)"`` for the x-flipped half)."""
        raw, flipped = self._raw_index(index)
        return self.image_names[raw] + (" (mirrored)" if flipped else "")

    def _raw_index(self, index: int) -> tuple[int, bool]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        return index % self.num_raw, index >= self.num_raw

    @property
    def raw_labels(self) -> torch.Tensor | None:
        """The labels of the images on disk ``[num_raw,25]`` (no mirrored copies; intrinsics adjusted where
        non-square images are centre-cropped), or None."""
        return self._labels

    def labels(self) -> torch.Tensor | None:
        """All camera labels ``[len(self),25]`` float32 (mirrored ones after the originals), or None."""
        if self._labels is None:
            return None
        return torch.cat((self._labels, mirror_labels(self._labels))) if self.xflip else self._labels.clone()

    def info(self):
        """What a trainer may know before training (:class:`gan3d.train.DataInfo`)."""
        from ..train.method import DataInfo

        return DataInfo(resolution=self.resolution, num_images=len(self), has_labels=self.has_labels,
                        num_classes=self.num_classes, labels=self.labels(), name=self.name)

    # ------------------------------------------------------------------ items
    def _box(self, raw: int) -> tuple[int, int, int, int] | None:
        w, h = self._sizes[raw]
        return None if w == h else center_crop_box(w, h)

    def read_mask(self, raw: int) -> np.ndarray:
        """The class map ``[H,W]`` int64 of image ``raw`` as stored (CNeRF's ids), ids checked."""
        name = self._mask_names[raw]
        ids = decode_mask(self._src.read(name), name)
        if ids.shape != self._sizes[raw][::-1]:
            w, h = self._sizes[raw]
            raise DatasetError(f"mask {name} is {ids.shape[1]}x{ids.shape[0]} but its image is {w}x{h}")
        if ids.size and (ids.min() < 0 or ids.max() >= self._num_source_ids):
            bad = sorted(set(np.unique(ids).tolist()) - set(range(self._num_source_ids)))
            raise DatasetError(f"mask {name} has class ids {bad[:8]} out of range 0..{self._num_source_ids - 1} "
                               f"({self._num_source_ids} classes); masks hold class ids, not colours")
        return ids if self._id_map is None else self._id_map[ids].astype(np.int64)

    def __getitem__(self, index: int) -> dict:
        raw, flipped = self._raw_index(int(index))
        name = self.image_names[raw]
        img = decode_image(self._src.read(name), name)
        if img.size != self._sizes[raw]:
            raise DatasetError(f"image {name} changed size while reading ({img.size} vs {self._sizes[raw]})")
        box = self._box(raw)
        if box is not None:
            img = img.crop(box)
        if img.size[0] != self.resolution:
            img = img.resize((self.resolution, self.resolution), Image.LANCZOS)
        image = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)
        mask = None
        if self._mask_names is not None:
            m = Image.fromarray(self.read_mask(raw).astype(np.uint8))
            if box is not None:
                m = m.crop(box)
            if m.size[0] != self.resolution:
                m = m.resize((self.resolution, self.resolution), Image.NEAREST)
            mask = torch.from_numpy(np.array(m, dtype=np.uint8))
        label = None
        if self._labels is not None:
            label = mirror_labels(self._labels[raw]) if flipped else self._labels[raw].clone()
        if flipped:
            image = image.flip(-1)
            mask = None if mask is None else mask.flip(-1)
        return {"image": image.contiguous(), "label": label, "mask": None if mask is None else mask.contiguous()}

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, {len(self)} items, {self.resolution}px, labels={self.has_labels}, "
                f"masks={self.has_masks}, xflip={self.xflip})")


def collate(samples: Sequence[dict]):
    """Items of :class:`ImageDataset` -> a :class:`gan3d.train.Batch` (image ``[B,3,H,W]`` float32 in ``[-1,1]``,
    label ``[B,25]`` or None, mask ``[B,H,W]`` int64 or None); use as a ``DataLoader``'s ``collate_fn``."""
    from ..train.method import Batch

    image = torch.stack([s["image"] for s in samples]).float() / 127.5 - 1
    label = None if samples[0].get("label") is None else torch.stack([s["label"] for s in samples])
    mask = None if samples[0].get("mask") is None else torch.stack([s["mask"] for s in samples]).long()
    return Batch(image=image, label=label, mask=mask)


# ---------------------------------------------------------------------------------------------- specs
def parse_synth_spec(spec: str) -> dict[str, int]:
    """``"synth:num=2000,res=64,seed=0"`` -> ``{"num": 2000, "res": 64, "seed": 0}`` (seed defaults to 0)."""
    body = spec.split(":", 1)[1]
    out = {"seed": 0}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key not in ("num", "res", "seed"):
            raise DatasetError(f"bad synthetic data spec {spec!r}: {part!r}; use synth:num=N,res=R[,seed=S]")
        try:
            out[key] = int(value)
        except ValueError:
            raise DatasetError(f"bad synthetic data spec {spec!r}: {key} must be an integer, got {value!r}") from None
    missing = [k for k in ("num", "res") if k not in out]
    if missing:
        raise DatasetError(f"synthetic data spec {spec!r} lacks {', '.join(missing)}; use synth:num=N,res=R[,seed=S]")
    if out["num"] < 1 or out["res"] < 1 or out["seed"] < 0:
        raise DatasetError(f"synthetic data spec {spec!r}: num and res must be positive, seed non-negative")
    return out


def synth_path(num: int, res: int, seed: int = 0) -> Path:
    """Where the cache keeps the synthetic world ``synth:num=..,res=..,seed=..``."""
    from ..cache import home

    return home() / "datasets" / f"synth-res{res}-n{num}-seed{seed}.zip"


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock (processes of one ``torchrun`` build the world once; the others wait)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_synth(num: int, res: int, seed: int = 0, progress: bool = True) -> Path:
    """The cached synthetic world's zip, written once (atomically) by ``gan3d.data.synth.write_dataset``."""
    out = synth_path(num, res, seed)
    if out.is_file():
        return out
    try:
        from .synth import write_dataset
    except ImportError as e:
        if (e.name or "").startswith("gan3d.data.synth"):
            raise DatasetError("the synthetic head world (gan3d.data.synth) is not part of this install; "
                               "use a data set on disk instead") from None
        raise
    with _file_lock(out.with_name(out.name + ".lock")):
        if out.is_file():  # another process built it while this one waited
            return out
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.zip")
        try:
            write_dataset(tmp, num, res, seed, progress=progress)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return out


def open_dataset(spec: str | os.PathLike, *, xflip: bool = False, resolution: int | None = None,
                 require_labels: bool = False, require_masks: bool = False) -> ImageDataset:
    """Open a data set: an EG3D zip or folder, an image (+ mask) folder, or ``synth:num=N,res=R,seed=S``.

    ``require_labels`` / ``require_masks`` turn a data set without camera labels / masks into a clear
    error (for methods that need them). See :class:`ImageDataset` for ``xflip`` and ``resolution``.
    """
    name = None
    if isinstance(spec, str) and spec.startswith("synth:"):
        p = parse_synth_spec(spec)
        path = build_synth(p["num"], p["res"], p["seed"])
        name = path.stem
    else:
        path = Path(spec).expanduser()
    return ImageDataset(path, xflip=xflip, resolution=resolution, require_labels=require_labels,
                        require_masks=require_masks, name=name)
