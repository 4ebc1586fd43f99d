"""The checkpoint cache: where weights live, how they get there, and how they are verified.

Layout: ``<home>/weights/<method>/<variant>/<filename>`` with ``home`` = ``$GAN3D_HOME`` or the
platform's user cache dir. Extra read-only folders can be listed in ``$GAN3D_PATH`` (``os.pathsep``
separated), laid out like the cache (``weights/<method>/<variant>/<filename>``), per model
(``<method>/<variant>/<filename>``) or flat; a file found there is used in place. Downloads go to a temporary file, are checked
against the card's sha256, then moved into place in one rename, so an interrupted download never
leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from tqdm.auto import tqdm

from .cards import ModelCard, WeightFile
from .errors import ChecksumError, InputError, WeightsNotFoundError
from .io import atomic_write, sha256_file


def home() -> Path:
    """gan3d's cache root (``$GAN3D_HOME`` or the user cache dir)."""
    env = os.environ.get("GAN3D_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("gan3d"))


def weights_dir(card: ModelCard) -> Path:
    method, variant = card.name.split("/", 1)
    return home() / "weights" / method / variant


def packaged_path(wf: WeightFile) -> Path | None:
    """Where a file shipped as package data (``wf.package``) lies, or None (not packaged, package absent).

    Read in place, never copied: an installed package is a folder on disk (a zipped install is not
    supported: its files have no path).
    """
    if wf.package is None:
        return None
    import importlib.resources

    package, folder = wf.package.split(":", 1)
    try:
        root = importlib.resources.files(package)
    except (ModuleNotFoundError, TypeError):
        return None
    path = Path(str(root.joinpath(folder, wf.filename)))
    return path if isinstance(root, Path) or path.exists() else None


def search_paths(card: ModelCard, wf: WeightFile) -> list[Path]:
    """Every place a weight file is looked for, in order (a packaged file first: it ships with its card)."""
    packaged = packaged_path(wf)
    paths = ([packaged] if packaged is not None else []) + [weights_dir(card) / wf.filename]
    for base in extra_folders():
        # a folder laid out like the cache ($GAN3D_HOME: weights/<method>/<variant>/), per model, or flat
        paths += [base / "weights" / card.name / wf.filename, base / card.name / wf.filename, base / wf.filename]
    return paths


def extra_folders() -> list[Path]:
    """The folders listed in ``$GAN3D_PATH``; one that is not a folder is reported (a typo would
    otherwise go unnoticed) and searched anyway, as it may appear later."""
    out = []
    for extra in filter(None, os.environ.get("GAN3D_PATH", "").split(os.pathsep)):
        base = Path(extra).expanduser()
        if not base.is_dir():
            warnings.warn(f"GAN3D_PATH lists {str(base)!r}, which is not a folder; nothing can be found there",
                          RuntimeWarning, stacklevel=3)
        out.append(base)
    return out


# ---------------------------------------------------------------------------------------------- hashing
def _hash_record(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, remembered next to it (keyed by size and mtime) so large files hash once."""
    rec = _hash_record(path)
    st = path.stat()
    try:
        data = json.loads(rec.read_text())
        if data["size"] == st.st_size and data["mtime_ns"] == st.st_mtime_ns:
            return data["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = sha256_file(path)
    try:
        with atomic_write(rec) as tmp:
            tmp.write_text(json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    except OSError:  # read-only location: just don't remember
        pass
    return digest


def verify_file(path: Path, wf: WeightFile, model: str) -> bool | None:
    """True if ``path`` matches the card's sha256, None if the card pins none; raises on a mismatch.

    A packaged file is hashed every time (it is small, and no record is written into an installed package).
    """
    if wf.sha256 is None:
        return None
    packaged = packaged_path(wf)
    digest = sha256_file(path) if packaged is not None and path == packaged else file_sha256(path)
    if digest != wf.sha256:
        fix = ("reinstall the package that ships it" if packaged is not None and path == packaged else
               "delete it and download it again")
        raise ChecksumError(
            f"{path} does not match the sha256 that {model}'s card pins for {wf.filename}\n"
            f"  expected {wf.sha256}\n  got      {digest}\n"
            f"The file is corrupt, truncated or not the published one; {fix}."
        )
    return True


# ---------------------------------------------------------------------------------------------- download
def download(url: str, dest: Path, sha256: str | None = None, desc: str | None = None, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` with a progress bar; sha256-check, then move into place atomically."""
    dest = Path(dest)
    req = urllib.request.Request(url, headers={"User-Agent": "gan3d"})
    with atomic_write(dest) as tmp:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc or dest.name) as bar:
                while block := resp.read(1 << 20):
                    f.write(block)
                    bar.update(len(block))
        if sha256 is not None:
            digest = sha256_file(tmp)
            if digest != sha256:
                raise ChecksumError(f"download of {url} has sha256 {digest}, expected {sha256}; not kept")
    return dest


def _missing_message(card: ModelCard, wf: WeightFile, searched: list[Path], errors: list[str]) -> str:
    lines = [f"weights for {card.name} are missing: {wf.filename}", "  searched:"]
    lines += [f"    {p}" for p in searched]
    if wf.urls:
        lines.append("  download from:")
        lines += [f"    {u}" for u in wf.urls]
    for e in errors:
        lines.append(f"  download failed: {e}")
    if wf.note:
        lines.append(f"  {wf.note}")
    if "gan3d weights add" not in wf.note:  # a card's note may already give the command
        lines.append(f"  then run: gan3d weights add /path/to/{wf.filename} --model {card.name}")
    lines.append("  (or try the pipeline without them: --random-weights, labelled on every output)")
    return "\n".join(lines)


def resolve_file(card: ModelCard, wf: WeightFile, allow_download: bool = True) -> Path:
    """Local path of one weight file: found in the search paths, or downloaded into the cache."""
    searched = search_paths(card, wf)
    for p in searched:
        if p.is_file():
            verify_file(p, wf, card.name)
            return p
    errors = []
    if allow_download and not os.environ.get("GAN3D_OFFLINE"):
        for url in wf.urls:
            try:
                return download(url, searched[0], wf.sha256, desc=f"{card.name}: {wf.filename}")
            except ChecksumError:
                raise
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
    raise WeightsNotFoundError(_missing_message(card, wf, searched, errors))


def weights_sha256(card: ModelCard) -> str:
    """One sha256 naming a registered model's weights: its file's (the card's pin, which every load checks,
    else the local file's), or for a model of several files the sha256 of their ``"<filename> <sha256>\n"``
    lines in the card's order. Nothing is downloaded: an unpinned file that is not here is an error."""
    if not card.weights:
        raise InputError(f"{card.name} has no weight files, so nothing identifies its weights")
    digests = [(wf.filename, wf.sha256 or file_sha256(resolve_file(card, wf, allow_download=False)))
               for wf in card.weights]
    if len(digests) == 1:
        return digests[0][1]
    return hashlib.sha256("".join(f"{n} {d}\n" for n, d in digests).encode()).hexdigest()


def resolve(card: ModelCard, override: str | os.PathLike | None = None, allow_download: bool = True) -> dict[str, Path]:
    """Map each of the card's weight files to a local path.

    ``override`` is a file (for a single-file model) or a folder holding the files by name.
    """
    if override is not None:
        path = Path(override)
        if path.is_file() and len(card.weights) <= 1:
            return {card.weights[0].filename: path} if card.weights else {}
        if path.is_dir():
            files = {}
            for wf in card.weights:
                if not (path / wf.filename).is_file():
                    raise WeightsNotFoundError(f"{path} has no {wf.filename} (needed by {card.name})")
                files[wf.filename] = path / wf.filename
            return files
        raise WeightsNotFoundError(f"weights {str(path)!r} for {card.name} do not exist")
    return {wf.filename: resolve_file(card, wf, allow_download) for wf in card.weights}


# ---------------------------------------------------------------------------------------------- user commands
def add(src: str | os.PathLike, card: ModelCard, filename: str | None = None) -> Path:
    """Copy a hand-downloaded file into the cache, verifying the card's sha256 first."""
    src = Path(src)
    wf = weight_file(card, src, filename)
    verify_file(src, wf, card.name)
    dest = weights_dir(card) / wf.filename
    with atomic_write(dest) as tmp:
        shutil.copyfile(src, tmp)
    return dest


def weight_file(card: ModelCard, src: Path, filename: str | None = None) -> WeightFile:
    """Which of ``card``'s files the hand-downloaded ``src`` is (``filename``, its own name, or the only one)."""
    if not src.is_file():
        raise InputError(f"{src} is not a file")
    if not card.weights:
        raise InputError(f"{card.name} needs no weight files")
    if filename is None:
        names = [wf.filename for wf in card.weights]
        if src.name in names:
            filename = src.name
        elif len(names) == 1:
            filename = names[0]
        else:
            raise InputError(f"{card.name} needs several files ({', '.join(names)}); name one with --as")
    wf = next((w for w in card.weights if w.filename == filename), None)
    if wf is None:
        raise InputError(f"{card.name} has no weight file {filename!r}; its files: "
                         f"{', '.join(w.filename for w in card.weights)}")
    return wf


@dataclass
class CachedFile:
    model: str
    filename: str
    path: Path | None
    size: int | None
    status: str  # "verified", "unverified" (no sha256 pinned), "MISMATCH", "missing"


def status(card: ModelCard, check: bool = False) -> list[CachedFile]:
    """What is cached for ``card``; ``check`` hashes files (else a remembered hash is used when fresh)."""
    out = []
    for wf in card.weights:
        path = next((p for p in search_paths(card, wf) if p.is_file()), None)
        if path is None:
            out.append(CachedFile(card.name, wf.filename, None, None, "missing"))
            continue
        if wf.sha256 is None:
            st = "unverified"
        else:
            if check:
                _hash_record(path).unlink(missing_ok=True)
            try:
                verify_file(path, wf, card.name)
                st = "verified"
            except ChecksumError:
                st = "MISMATCH"
        out.append(CachedFile(card.name, wf.filename, path, path.stat().st_size, st))
    return out
