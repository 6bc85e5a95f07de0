"""Writing artifacts safely, for models and checkpoints alike: a directory written under a
temporary name, fsynced and renamed into place; JSON that carries its own checksum;
``.npy`` arrays with their sha256, read back with ``allow_pickle=False``."""

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dasklr.errors import ModelFormatError


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A staging directory beside ``target``; when the block succeeds it is fsynced and
    renamed into place, when it fails it is removed: ``target`` is never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        _fsync_dir(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_checked_json(path: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata`` with its own checksum added (see ``metadata_checksum``)."""
    metadata["checksum"] = metadata_checksum(metadata)
    _write_bytes(path, json.dumps(metadata, indent=2).encode())


def recover_interrupted_swap(target: Path) -> None:
    """Put back the previous directory if a writer died between the two renames of
    ``_swap_into_place`` (the old one moved aside, the new one not yet in place)."""
    if target.exists():
        return
    retired = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if retired:
        os.rename(retired[-1], target)


def metadata_checksum(metadata: dict[str, Any]) -> str:
    """sha256 of the metadata's canonical JSON without its own checksum field."""
    body = {key: value for key, value in metadata.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_array(path: Path, value: np.ndarray) -> dict[str, Any]:
    with open(path, "wb") as f:
        np.save(f, value, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return {
        "file": path.name,
        "sha256": _sha256(path),
        "shape": list(value.shape),
        "dtype": str(value.dtype),
    }


def read_array(root: Path, entry: dict[str, Any]) -> np.ndarray:
    path = root / entry["file"]
    if path.parent != root:
        raise ModelFormatError(f"{root / 'metadata.json'}: array file {entry['file']!r} is outside")
    if not path.is_file():
        raise ModelFormatError(f"{path}: missing")
    if _sha256(path) != entry["sha256"]:
        raise ModelFormatError(f"{path}: sha256 differs from metadata.json; the file was altered")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ModelFormatError(f"{path}: not a plain .npy array ({exc})") from None


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished directory into place; an old model is moved aside first.

    Between the two renames a reader finds no model (never a half-written one); if the
    second rename fails, the old model is put back, and if the process dies there, the
    next reader puts it back (``recover_interrupted_swap``).
    """
    retired = None
    if target.exists():
        retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        if retired is not None:
            os.rename(retired, target)
        raise
    _fsync_dir(target.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
