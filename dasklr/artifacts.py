"""Writing and reading artifacts safely — models, checkpoints and prediction sets alike.

A directory is written under a temporary name beside its target (``.NAME.tmp-…``), locked
(``flock``) while its writer lives, every file fsynced, and published by one atomic rename:

- without overwrite, ``renameat2(RENAME_NOREPLACE)``: of two writers racing for a free
  path exactly one wins, the other gets ``FileExistsError`` and its work is removed;
- with overwrite, ``renameat2(RENAME_EXCHANGE)`` swaps the new directory with the old one
  in one step, then the old one is removed: at every instant the path holds the complete
  old or the complete new result.

Where the system has no ``renameat2`` (not Linux, or a filesystem without it), publishing
falls back to ``rename``, which refuses a non-empty directory, and overwriting to two
renames, between which the path is briefly absent (never partial; absent until the next
write if the writer is killed right there).

Readers open the directory once and read every file through that handle
(``read_snapshot``), so they see one version; when a concurrent overwrite removes the
version they were reading, they read the new one. Leftovers of killed writers (temporary
directories whose lock nobody holds) are removed by the next writer of the same path, or by
``remove_leftovers``; nothing is ever renamed back into place.

JSON carries its own checksum; ``.npy`` arrays are recorded with their sha256 and read back
with ``allow_pickle=False``.
"""

import ctypes
import errno
import fcntl
import functools
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dasklr.errors import ConfigError, ModelFormatError, StorageError

T = TypeVar("T")

#: A temporary directory that is empty and unlocked may be one whose writer has made it
#: and not yet locked it: it counts as left over only after this many seconds.
EMPTY_LEFTOVER_AGE = 60.0
#: Reads of a directory that a concurrent overwrite replaced are retried this many times.
READ_ATTEMPTS = 10

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def local_path(path: str | os.PathLike) -> Path:
    """An output path (model, checkpoint, predictions) as a local path: ``file://`` URLs
    are local; other URLs are refused before any work, as the atomic writes here rely on
    a local (or mounted) filesystem's rename and locks."""
    text = os.fspath(path)
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    if "://" in text:
        raise ConfigError(
            f"{text}: outputs (models, checkpoints, predictions) go to a local or mounted "
            "path; URLs are read as inputs only, for now"
        )
    return Path(text)


@contextmanager
def atomic_directory(target: Path, *, overwrite: bool) -> Iterator[Path]:
    """A locked staging directory beside ``target``, published in one rename when the block
    succeeds (see the module docstring) and removed when it fails.

    Raises ``FileExistsError`` when ``target`` exists and ``overwrite`` is false, checked
    before the block runs and again, race-free, when publishing.
    """
    target = local_path(target)
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "already exists", str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in target.parents if p.exists() and not p.is_dir())
        raise NotADirectoryError(
            errno.ENOTDIR, "is a file, so nothing can be written under it", str(blocker)
        ) from None
    remove_leftovers(target)
    # the writer's process id in the name: a folder made by a writer killed before it
    # could lock it is known as left over once that process is gone
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}-{os.getpid()}"
    staging.mkdir()
    lock = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield staging
        _fsync(staging)
        _publish(staging, target, overwrite)
        _fsync(target.parent)
    except OSError as exc:
        _discard(staging, target)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StorageError(
            f"no space left in {target.parent} to write {target.name} ({exc.strerror}); "
            "nothing was replaced"
        ) from None
    except BaseException:
        _discard(staging, target)
        raise
    finally:
        os.close(lock)


def output_problem(target: Path, inputs: Sequence[str] = ()) -> str | None:
    """Why ``target`` cannot take an artifact, found before any work is done: a regular
    file on its way, a folder this user cannot write in, or inside a local input folder
    (whose next read would take the artifact for data). None when it can."""
    target = Path(target).absolute()
    existing = next(p for p in (target, *target.parents) if os.path.lexists(p))
    if existing != target and not existing.is_dir():
        return f"{existing} is a file, so nothing can be written under it"
    folder = existing if existing != target else target.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable"
    for source in inputs:
        if "://" in str(source) or not os.path.isdir(source):
            continue
        root = Path(source).absolute()
        if target == root or root in target.parents:
            return f"it is inside the input folder {root}, whose next read would take it for data"
    return None


def writer_alive(staging: str | os.PathLike) -> bool:
    """Whether the writer that made the staging directory still holds it: workers writing
    into it check this, so they stop when the driver is gone."""
    return _held_by_another(Path(staging), fcntl.LOCK_SH) is True


def remove_leftovers(target: Path) -> list[Path]:
    """Remove the temporary directories that killed writers of ``target`` left beside it
    (their lock is free); a live writer's are kept. Returns what was removed."""
    target = Path(target)
    removed = []
    patterns = (f".{target.name}.tmp-*", f".{target.name}.old-*")
    for leftover in [p for pattern in patterns for p in target.parent.glob(pattern)]:
        if _abandoned(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    return removed


def _abandoned(path: Path) -> bool:
    """Unlocked, and not a fresh empty staging directory (which a writer may not have
    locked yet); a retired one (``.old-``) is only ever waiting to be removed."""
    if _held_by_another(path, fcntl.LOCK_EX) is not False:
        return False
    if ".old-" in path.name:
        return True
    try:
        fresh = time.time() - path.stat().st_mtime < EMPTY_LEFTOVER_AGE
        if fresh and path.is_dir() and not any(path.iterdir()):
            return not _process_alive(_writer_pid(path.name))
        return True
    except OSError:
        return False  # removed meanwhile


def _writer_pid(name: str) -> int | None:
    """The process id at the end of a staging folder's name (None for older names)."""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _process_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs on this machine (an unknown pid counts as alive)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_by_another(path: Path, operation: int) -> bool | None:
    """Whether another process holds a conflicting ``flock`` on ``path`` (None: it cannot
    be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _publish(staging: Path, target: Path, overwrite: bool) -> None:
    """Rename ``staging`` to ``target``: refusing an existing target, or swapping with it."""
    while True:
        try:
            _rename_noreplace(staging, target)
            return
        except FileExistsError:
            if not overwrite:
                raise FileExistsError(
                    errno.EEXIST, "written by another run while this one worked", str(target)
                ) from None
        try:
            retired = _exchange(staging, target)
            break
        except FileNotFoundError:
            continue  # the old one was removed meanwhile: the path is free again
    _discard(retired, target)


def _discard(path: Path, target: Path) -> None:
    """Remove a directory that is no longer wanted, first renamed ``.NAME.old-…`` so that
    one killed part way is known as left over even once it is empty."""
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
    try:
        os.rename(path, retired)
    except OSError:
        retired = path
    shutil.rmtree(retired, ignore_errors=True)


def _rename_noreplace(source: Path, target: Path) -> None:
    if _renameat2(source, target, _RENAME_NOREPLACE):
        return
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "already exists", str(target))
    try:
        os.rename(source, target)  # refuses a non-empty directory: a finished result
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise FileExistsError(errno.EEXIST, "already exists", str(target)) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, "already exists", str(target)) from None
        raise


def _exchange(staging: Path, target: Path) -> Path:
    """Swap ``staging`` and ``target``; returns where the old ``target`` now is."""
    if _renameat2(staging, target, _RENAME_EXCHANGE):
        return staging
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)
        raise
    return retired


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """``renameat2(2)``: True when done, False when this system does not offer it."""
    call = _libc_renameat2()
    if call is None:
        return False
    if call(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(source), None, str(target))


@functools.cache
def _libc_renameat2() -> Any:
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


class ArtifactReader:
    """The files of one version of an artifact, by name: a local directory read through a
    handle (``Snapshot``), or a folder at a URL (``dasklr.remote``)."""

    def where(self, name: str) -> str:
        """The file's path or URL, for messages."""
        raise NotImplementedError

    def read_bytes(self, name: str) -> bytes:
        raise NotImplementedError

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_bytes(name))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{self.where(name)}: not valid JSON ({exc})") from None

    def read_array(self, entry: dict[str, Any]) -> np.ndarray:
        """An array recorded by ``write_array``, checked against its sha256."""
        data = self.read_bytes(entry["file"])
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ModelFormatError(
                f"{self.where(entry['file'])}: sha256 differs from the metadata; "
                "the file was altered"
            )
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ModelFormatError(
                f"{self.where(entry['file'])}: not a plain .npy array ({exc})"
            ) from None


def check_file_name(reader: ArtifactReader, name: str) -> None:
    """Refuse a file name that would leave the artifact's folder (metadata is input)."""
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ModelFormatError(f"{reader.where('')}: file {name!r} is outside the directory")


@dataclass(frozen=True)
class Snapshot(ArtifactReader):
    """One version of an artifact directory, read through a handle on it."""

    root: Path
    fd: int

    def where(self, name: str) -> str:
        return str(self.root / name)

    def read_bytes(self, name: str) -> bytes:
        check_file_name(self, name)
        try:
            with open(name, "rb", opener=self._opener) as f:
                return f.read()
        except FileNotFoundError:
            raise ModelFormatError(f"{self.root / name}: missing") from None

    def _opener(self, name: str, flags: int) -> int:
        return os.open(name, flags, dir_fd=self.fd)


def read_snapshot(root: Path, read: Callable[[Snapshot], T]) -> T:
    """``read`` applied to one version of the directory ``root``; read again when a
    concurrent overwrite replaced that version while it was being read."""
    root = Path(root)
    for attempt in range(READ_ATTEMPTS):
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise ModelFormatError(f"{root}: no such directory") from None
        except NotADirectoryError:
            raise ModelFormatError(f"{root}: not a directory") from None
        try:
            return read(Snapshot(root, fd))
        except (ModelFormatError, OSError):
            if attempt + 1 == READ_ATTEMPTS or not _replaced(root, fd):
                raise
        finally:
            os.close(fd)
    raise AssertionError("unreachable")


def _replaced(root: Path, fd: int) -> bool:
    """Whether ``root`` now names another directory than the one open as ``fd``."""
    try:
        now = os.stat(root)
    except OSError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)


def write_checked_json(path: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata`` with its own checksum added (see ``metadata_checksum``)."""
    metadata["checksum"] = metadata_checksum(metadata)
    _write_bytes(path, json.dumps(metadata, indent=2).encode())


def metadata_checksum(metadata: dict[str, Any]) -> str:
    """sha256 of the metadata's canonical JSON without its own checksum field."""
    body = {key: value for key, value in metadata.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_array(path: Path, value: np.ndarray) -> dict[str, Any]:
    """Write ``value`` as a plain ``.npy`` file; returns its entry for the metadata."""
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    data = buffer.getvalue()
    _write_bytes(path, data)
    return {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "shape": list(value.shape),
        "dtype": str(value.dtype),
    }


def write_file_atomically(target: Path, data: bytes, *, overwrite: bool) -> None:
    """Write one file: under a temporary name beside ``target``, fsynced, then renamed into
    place (refusing an existing ``target`` unless ``overwrite``), so the path never holds
    half a file."""
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "already exists", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}-{os.getpid()}"
    try:
        _write_bytes(staging, data)
        if overwrite:
            os.replace(staging, target)
        else:
            _rename_noreplace(staging, target)
        _fsync(target.parent)
    finally:
        if os.path.lexists(staging):
            os.unlink(staging)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
