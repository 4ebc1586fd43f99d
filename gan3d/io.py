"""Small file helpers: atomic writes, output-location checks and sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _process_umask()  # read once at import: os.umask can only be read by setting it


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    An interrupted write leaves the old file (or nothing) behind, never half a file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:  # name the file the user asked for, not the temporary one
        raise type(e)(e.errno, e.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any other file
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:  # on disk before the rename, so a crash cannot leave an empty file
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _probe(folder: Path) -> None:
    """Create ``folder`` if needed and write and delete a file in it (``OSError`` if that fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".gan3d-write-test.", dir=folder)
    os.close(fd)
    os.unlink(probe)


def ensure_writable_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create ``path`` if needed and prove a file can be written in it, before any long work.

    Raises :class:`InputError` naming ``path`` (and ``what``, e.g. the ``--out`` flag) when it is an
    existing file, lies under a file, or is read-only.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {str(path)!r} is an existing file; give a folder")
    try:
        _probe(path)
    except OSError as e:
        raise InputError(f"cannot write to {what} {str(path)!r}: {e.strerror or type(e).__name__}; "
                         f"choose another location") from None
    return path


def ensure_writable_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Check that ``path`` (a file, replaced if it exists) can be written, before any long work."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a folder; give a file name")
    try:
        _probe(path.parent)
    except OSError as e:
        raise InputError(f"cannot write {what} {str(path)!r}: {e.strerror or type(e).__name__}; "
                         f"choose another location") from None
    return path
