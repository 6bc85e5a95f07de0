"""Artifacts at fsspec URLs (``s3://``, ``gs://``, ``abfs://``, ``memory://``…): models,
checkpoints, prediction folders and exported graphs where there is no rename to publish.

An object store writes each object whole or not at all, but cannot rename a folder. So a
model or checkpoint is written into a local temporary folder, as on disk, then uploaded
with its commit marker (``metadata.json``, ``checkpoint.json``) last:

1. every array goes up first under a name that carries its sha256
   (``coef-1a2b3c4d5e6f7a8b.npy``), so a new version never overwrites a file that the
   current marker names;
2. the marker goes up last, in one write: readers find the old version whole until then,
   the new one whole after;
3. files that the new marker does not name (the old version's, a killed writer's) are
   removed.

Readers read the marker, then the files it names, checking each sha256; one that finds a
file removed under it (an overwrite committed meanwhile) reads the marker again.

What only a local filesystem gives (``dasklr.artifacts``): of two runs racing for the same
new URL both may upload and the last marker wins (on disk exactly one wins and the other
is told); prediction parts moved from their temporary prefix appear one by one, and the
folder is complete when ``_manifest.json`` is there; a killed run's temporary prefix
(``.NAME.tmp-…``) stays until removed by hand or a lifecycle rule. A URL whose filesystem
is not installed (``s3://`` without s3fs) is refused before any work.
"""

import errno
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import fsspec

from dasklr.artifacts import (
    READ_ATTEMPTS,
    ArtifactReader,
    atomic_directory,
    check_file_name,
    local_path,
    metadata_checksum,
    read_snapshot,
    write_file_atomically,
)
from dasklr.errors import ConfigError, ModelFormatError

T = TypeVar("T")

#: Seconds between reads of a marker whose files an overwrite removed meanwhile.
REREAD_DELAY = 0.05


@dataclass(frozen=True)
class RemoteFolder:
    """A folder at a URL: its filesystem, its path there, and the URL as the user wrote it."""

    fs: Any
    path: str
    url: str

    def join(self, name: str) -> str:
        return f"{self.path}/{name}"

    def sibling(self, name: str) -> "RemoteFolder":
        """A folder beside this one (its temporary twin)."""
        parent = self.path.rsplit("/", 1)[0] if "/" in self.path else ""
        path = f"{parent}/{name}" if parent else name
        return RemoteFolder(self.fs, path, self.url.rsplit("/", 1)[0] + f"/{name}")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


#: Where an artifact goes: a local (or mounted) path, or a folder at a URL.
Location = Path | RemoteFolder


def is_url(path: str | os.PathLike) -> bool:
    """A URL other than ``file://`` (which is a local path)."""
    text = os.fspath(path)
    return "://" in text and not text.startswith("file://")


def location(path: str | os.PathLike, storage_options: dict | None = None) -> Location:
    """The local path or remote folder an artifact is written to or read from; a URL
    whose filesystem is not installed, or unknown to fsspec, is refused here, before any
    work, naming the package to install."""
    if not is_url(path):
        return local_path(path)
    url = os.fspath(path).rstrip("/")
    try:
        fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as exc:
        raise ConfigError(f"{url}: its filesystem is not installed ({exc})") from None
    except ValueError as exc:
        raise ConfigError(f"{url}: not a URL fsspec knows ({exc})") from None
    return RemoteFolder(fs, root.rstrip("/"), url)


def exists(target: Location, marker: str | None = None) -> bool:
    """Whether ``target`` (with ``marker``: a complete artifact in it) exists."""
    if isinstance(target, Path):
        return (target / marker).is_file() if marker else os.path.lexists(target)
    target.fs.invalidate_cache(target.path)
    return target.fs.exists(target.join(marker) if marker else target.path)


def remove(target: Location) -> None:
    """Remove a folder that is no longer needed (a checkpoint once its model is saved)."""
    if isinstance(target, Path):
        shutil.rmtree(target, ignore_errors=True)
    elif exists(target):
        target.fs.rm(target.path, recursive=True)


#: Filesystems whose first path part is a bucket that writing does not create.
BUCKET_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "abfs", "az", "abfss", "oss", "r2"}


def remote_problem(target: RemoteFolder) -> str | None:
    """Why an artifact cannot be written at ``target``, found before any work: its bucket
    (the URL's first part, on object stores) is missing or cannot be reached."""
    protocols = target.fs.protocol
    protocols = {protocols} if isinstance(protocols, str) else set(protocols)
    if not protocols & BUCKET_PROTOCOLS:
        return None
    bucket = target.path.split("/", 1)[0]
    try:
        if not target.fs.exists(bucket):
            return f"{bucket} does not exist"
    except (OSError, PermissionError) as exc:
        return f"{bucket} cannot be reached ({exc})"
    return None


@contextmanager
def staged_artifact(target: Location, *, overwrite: bool, marker: str) -> Iterator[Path]:
    """A local folder to write an artifact into, published to ``target`` when the block
    succeeds: by one atomic rename on disk (``atomic_directory``), by uploading with
    ``marker`` last at a URL (see the module docstring). Raises ``FileExistsError`` when
    the target holds an artifact and ``overwrite`` is false."""
    if isinstance(target, Path):
        with atomic_directory(target, overwrite=overwrite) as staging:
            yield staging
        return
    if not overwrite and exists(target, marker):
        raise FileExistsError(errno.EEXIST, "already exists", target.url)
    with tempfile.TemporaryDirectory(prefix="dasklr-upload-") as folder:
        yield Path(folder)
        upload(Path(folder), target, overwrite=overwrite, marker=marker)


def upload(folder: Path, target: RemoteFolder, *, overwrite: bool, marker: str) -> None:
    """Upload the artifact in ``folder``: its arrays under names that carry their hash,
    then ``marker`` (rewritten to name them), then remove what the marker does not name."""
    fs = target.fs
    fs.invalidate_cache(target.path)
    before = set(fs.find(target.path)) if fs.exists(target.path) else set()
    if not overwrite and target.join(marker) in before:
        raise FileExistsError(errno.EEXIST, "written by another run meanwhile", target.url)
    metadata = json.loads((folder / marker).read_bytes())
    named = {}
    for entry in _file_entries(metadata):
        stem, suffix = os.path.splitext(entry["file"])
        named[entry["file"]] = f"{stem}-{entry['sha256'][:16]}{suffix}"
        entry["file"] = named[entry["file"]]
    unknown = {p.name for p in folder.iterdir()} - {marker, *named}
    if unknown:
        raise RuntimeError(f"{sorted(unknown)} are not named by {marker}")
    for local, remote in named.items():
        if target.join(remote) not in before:  # the same name holds the same bytes
            fs.pipe_file(target.join(remote), (folder / local).read_bytes())
    metadata["checksum"] = metadata_checksum(metadata)
    fs.pipe_file(target.join(marker), json.dumps(metadata, indent=2).encode())
    stale = before - {target.join(name) for name in (marker, *named.values())}
    if stale:
        fs.rm(sorted(stale))


def _file_entries(value: Any) -> Iterator[dict[str, Any]]:
    """Every file entry (``write_array``'s: a ``file`` and its ``sha256``) in metadata."""
    if isinstance(value, dict):
        if isinstance(value.get("file"), str) and "sha256" in value:
            yield value
        else:
            for item in value.values():
                yield from _file_entries(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_entries(item)


@dataclass(frozen=True)
class RemoteSnapshot(ArtifactReader):
    """The files of an artifact at a URL, as its marker names them."""

    folder: RemoteFolder

    def where(self, name: str) -> str:
        return f"{self.folder.url}/{name}"

    def read_bytes(self, name: str) -> bytes:
        check_file_name(self, name)
        try:
            return self.folder.fs.cat_file(self.folder.join(name))
        except FileNotFoundError:
            raise ModelFormatError(f"{self.where(name)}: missing") from None


def read_artifact(path: str | os.PathLike, read: Callable[[ArtifactReader], T], **options) -> T:
    """``read`` applied to one version of the artifact at ``path``: a local directory
    (``read_snapshot``) or a folder at a URL, read again when an overwrite removed the
    files of the version being read."""
    target = location(path, options.get("storage_options"))
    if isinstance(target, Path):
        return read_snapshot(target, read)
    for attempt in range(READ_ATTEMPTS):
        target.fs.invalidate_cache(target.path)
        try:
            return read(RemoteSnapshot(target))
        except ModelFormatError:
            if attempt + 1 == READ_ATTEMPTS:
                raise
            time.sleep(REREAD_DELAY)
    raise AssertionError("unreachable")


def write_file(path: str | os.PathLike, data: bytes, *, overwrite: bool) -> str:
    """One file (an exported graph): renamed into place on disk, one whole-object write
    at a URL. Returns where it went."""
    target = location(path)
    if isinstance(target, Path):
        write_file_atomically(target, data, overwrite=overwrite)
        return str(target)
    if not overwrite and exists(target):
        raise FileExistsError(errno.EEXIST, "already exists", target.url)
    target.fs.pipe_file(target.path, data)
    return target.url


def temporary_twin(target: RemoteFolder) -> RemoteFolder:
    """A fresh temporary prefix beside ``target`` for files moved there when complete."""
    return target.sibling(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}-{os.getpid()}")


def replace_folder(staging: RemoteFolder, target: RemoteFolder, marker: str, data: bytes) -> None:
    """Move the files of ``staging`` to ``target`` (the old ones removed first, marker
    before the rest, so a reader never takes a half-replaced folder for complete), then
    write ``marker`` last."""
    fs = target.fs
    fs.invalidate_cache(target.path)
    if fs.exists(target.join(marker)):
        fs.rm_file(target.join(marker))
    if fs.exists(target.path):
        fs.rm(target.path, recursive=True)
    for source in sorted(fs.find(staging.path)):
        fs.mv(source, target.join(source[len(staging.path) + 1 :]))
    fs.pipe_file(target.join(marker), data)
    if fs.exists(staging.path):
        fs.rm(staging.path, recursive=True)
