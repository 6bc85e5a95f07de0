"""Decode once: where the decoded chunks live between passes.

Every pass needs every chunk as NumPy arrays, and decoding Parquet costs several times
more than the kernel. ``cache`` picks what later passes read:

- ``"none"``: each pass runs the chunk graph again (re-reads Parquet).
- ``"memory"``: the chunks are computed once, during the first pass, and kept in the
  workers' memory (Dask futures); a lost worker's chunks are recomputed from the graph.
- ``"disk"``: each chunk is written, the first time a worker makes it, as raw ``.npy``
  files under a worker-local directory, and read back by memory map on every later
  pass. A worker that does not find a chunk's files (another machine, a lost worker)
  makes the chunk again from its recipe and writes its own copy. The directory is
  removed at the end of the fit.
- ``"auto"``: memory when the decoded data fits in the workers' memory with room for
  the running tasks, else disk (``dasklr.passes.sizing.choose_cache``).

A chunk's *recipe* is the part of the chunk graph that makes it (for Parquet: one read
task and three views), run inside one task with Dask's synchronous scheduler, so a
cached pass does not depend on the read tasks and never runs them.
"""

import errno
import operator
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import dask
import numpy as np
from dask.core import get_dependencies
from distributed import Client

from dasklr.errors import StorageError
from dasklr.passes.reduction import ChunkGraph, release

#: errno values of a write that found no room: no space, or over quota.
FULL = (errno.ENOSPC, errno.EDQUOT)

#: After a failed fit, how long to wait for its chunk tasks still running on workers to
#: end before their cache files are removed (they cannot be stopped part way).
SETTLE_SECONDS = 60.0

Key = Hashable


@dataclass(frozen=True)
class ChunkRecipe:
    """The tasks that make one chunk's (X, y, w), runnable anywhere as a plain call.

    A frozen object, not a dict, so Dask does not mistake the tasks inside it for
    arguments it should compute.
    """

    graph: Mapping[Key, Any]
    keys: tuple[Key, Key, Key | None]

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        wanted = [key for key in self.keys if key is not None]
        values = dask.get(dict(self.graph), wanted)
        X, y = values[0], values[1]
        return X, y, values[2] if len(values) > 2 else None


def recipe_for(graph: Mapping[Key, Any], keys: tuple[Key, Key, Key | None]) -> ChunkRecipe:
    """Cut the tasks one chunk needs out of the whole graph (a walk from its keys)."""
    needed: dict[Key, Any] = {}
    todo = [key for key in keys if key is not None]
    while todo:
        key = todo.pop()
        if key in needed:
            continue
        needed[key] = graph[key]
        todo.extend(get_dependencies(graph, key))
    return ChunkRecipe(graph=needed, keys=keys)


@dataclass(frozen=True)
class DiskSlot:
    """Where one chunk's files go: ``<base>/dasklr-cache-<fit>/<index>.{X,y,w}.npy``.

    ``base`` None means each worker's ``tempfile.gettempdir()``.
    """

    base: str | None
    fit: str
    index: int

    @property
    def folder(self) -> str:
        return fit_folder(self.base, self.fit)

    def path(self, part: str) -> str:
        return os.path.join(self.folder, f"{self.index}.{part}.npy")


def fit_folder(base: str | None, fit: str) -> str:
    return os.path.join(base or tempfile.gettempdir(), f"dasklr-cache-{fit}")


def load_or_make(slot: DiskSlot, recipe: ChunkRecipe):
    """The chunk from this worker's files, or made by ``recipe`` and written there first.

    Files are written under a temporary name and renamed, so a reader never maps a
    half-written chunk; the chunk is then read back by memory map, so the first pass
    computes on exactly what later passes will read.
    """
    parts = ("X", "y", "w")
    done = slot.path("y")
    if not os.path.exists(done):
        arrays = recipe()
        os.makedirs(slot.folder, exist_ok=True)
        # y is renamed last: its presence says the chunk is complete
        for part, array in sorted(zip(parts, arrays, strict=True), key=lambda p: p[0] == "y"):
            if array is not None:
                _write_part(slot, part, array)
    loaded: list[np.ndarray | None] = []
    for part in parts:
        path = slot.path(part)
        if part == "w" and not os.path.exists(path):
            loaded.append(None)
        else:
            loaded.append(np.load(path, mmap_mode="r", allow_pickle=False))
    return tuple(loaded)


def _write_part(slot: DiskSlot, part: str, array: np.ndarray) -> None:
    """One array of a chunk, under a temporary name renamed into place; a full disk is a
    ``StorageError`` naming the cache folder, and leaves no half-written file."""
    staging = f"{slot.path(part)}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(staging, "wb") as f:
            # through a plain write method: a real file would get ndarray.tofile, whose
            # short write on a full disk is an OSError without its errno
            np.save(_Writes(f), array, allow_pickle=False)
        os.replace(staging, slot.path(part))
    except OSError as exc:
        with suppress(OSError):
            os.remove(staging)
        if exc.errno not in FULL:
            raise
        raise StorageError(
            f"the disk cache folder {slot.folder} is full ({exc.strerror}): free space there, "
            "set cache_dir to a larger folder, or use cache='memory' or 'none'"
        ) from None


class _Writes:
    """A file seen only through its ``write``."""

    def __init__(self, file):
        self.write = file.write


def remove_fit_folder(base: str | None, fit: str) -> None:
    """Delete one fit's cache files (run on every worker at the end of the fit)."""
    shutil.rmtree(fit_folder(base, fit), ignore_errors=True)


def in_memory(chunks: ChunkGraph, client: Client, retries: int = 0) -> ChunkGraph:
    """Start computing every chunk now and keep the results on the workers.

    The futures stand in for the chunk keys, so the first pass (submitted right after)
    runs on the chunks as they arrive, and later passes find them in memory.
    """
    keys = [key for block in chunks.blocks for key in block if key is not None]
    made = client.get(dict(chunks.graph), keys, sync=False, retries=retries)
    futures = dict(zip(keys, made, strict=True))
    blocks = tuple(
        (futures[x], futures[y], None if w is None else futures[w]) for x, y, w in chunks.blocks
    )
    return ChunkGraph(graph={}, blocks=blocks, where=chunks.where)


def on_disk(chunks: ChunkGraph, base: str | None, fit: str) -> ChunkGraph:
    """A chunk graph whose every chunk comes from ``load_or_make``: one task per chunk."""
    name = f"dasklr-cached-{fit}"
    graph: dict[Key, Any] = {}
    blocks: list[tuple[Key, Key, Key | None]] = []
    for i, keys in enumerate(chunks.blocks):
        slot = DiskSlot(base=base, fit=fit, index=i)
        graph[(name, i)] = (load_or_make, slot, recipe_for(chunks.graph, keys))
        parts: list[Key | None] = []
        for j, part in enumerate(("X", "y", "w")):
            if keys[j] is None:
                parts.append(None)
                continue
            graph[(f"{name}-{part}", i)] = (operator.getitem, (name, i), j)
            parts.append((f"{name}-{part}", i))
        blocks.append(cast(tuple[Key, Key, Key | None], tuple(parts)))
    return ChunkGraph(graph=graph, blocks=tuple(blocks), where=chunks.where)


@contextmanager
def cached_chunks(
    client: Client, chunks: ChunkGraph, mode: str, base: str | None, retries: int = 0
) -> Iterator[ChunkGraph]:
    """The chunk graph for ``mode``; on exit, a disk cache is removed from every worker."""
    if mode == "memory":
        cached = in_memory(chunks, client, retries)
        try:
            yield cached
        finally:  # the chunks leave the workers with the fit, failed or not
            release(key for block in cached.blocks for key in block if key is not None)
        return
    if mode != "disk":
        yield chunks
        return
    fit = uuid.uuid4().hex[:12]
    try:
        yield on_disk(chunks, base, fit)
    except BaseException:
        with suppress(OSError, TimeoutError):
            wait_until_stopped(client, f"dasklr-cached-{fit}")
        raise
    finally:
        with suppress(OSError, TimeoutError):  # workers gone: nothing to remove there
            client.run(remove_fit_folder, base, fit, on_error="ignore")
        remove_fit_folder(base, fit)  # the driver may share the workers' filesystem


def wait_until_stopped(client: Client, name: str, timeout: float = SETTLE_SECONDS) -> None:
    """Wait until no worker runs a task of ``name`` (released tasks run to their end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.run(running_tasks, name, on_error="ignore")
        if not any(isinstance(n, int) and n for n in running.values()):
            return
        time.sleep(0.05)


def running_tasks(name: str, dask_worker=None) -> int:
    """How many tasks whose key holds ``name`` this worker is running (on a worker)."""
    return sum(
        1
        for task in dask_worker.state.tasks.values()
        if name in str(task.key) and task.state in ("executing", "cancelled", "long-running")
    )
