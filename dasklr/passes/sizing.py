"""Fit the work to the workers: how large a task may be, and whether chunks fit in memory.

Read when a fit starts, from the workers themselves: each one's memory limit (the
machine's memory shared among its workers when it has none), its threads, and the memory
its process already holds (Python, NumPy, pyarrow and Dask take ~170 MiB before any data).
What is left below ``SAFE_SHARE`` of the limit — under Dask's spill (70%) and pause (80%)
thresholds, far from its kill at 95% — is shared by:

- the decoded-chunk cache, when it lives in memory (``cache="memory"``, or ``"auto"`` when
  the data takes at most ``MEMORY_SHARE`` of what is left on all workers);
- the tasks running at once (one per thread), each ``TASK_CHUNKS`` chunks at its peak: the
  chunk it makes (~1.2× with the decode's pieces) and the one a kernel is reading, plus
  ``READ_OVERHEAD``: what pyarrow holds while it reads one row group whatever its size
  (the compressed pages, its buffer pool), ~50 MiB measured on 128 MiB row groups.

So a chunk may take ``(free − threads × READ_OVERHEAD) / (threads × TASK_CHUNKS)`` decoded
bytes (at most ``DEFAULT_CHUNK_BYTES``), and ``read_parquet`` data is planned again at that
size when a fit starts: row groups larger than that are read in row slices.
"""

from dataclasses import dataclass

import psutil
from distributed import Client

from dasklr.data.parquet import DEFAULT_CHUNK_BYTES, ParquetData
from dasklr.options import CACHE_CHOICES

#: Share of a worker's memory limit that dasklr plans to fill (Dask spills from 70%).
SAFE_SHARE = 0.65
#: ``cache="auto"`` keeps chunks in memory when they take at most this share of the
#: memory left on the workers: the rest is for the running tasks.
MEMORY_SHARE = 0.5
#: Chunks' worth of memory one running task may hold at its peak.
TASK_CHUNKS = 2.5
#: Bytes a running read holds besides its chunks (pyarrow's pages and buffer pool).
READ_OVERHEAD = 48 * 2**20
#: No chunk plan goes below this many decoded bytes a task (a few thousand rows).
MIN_CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class WorkerMemory:
    """One worker's memory limit, its threads, and the bytes its process holds now."""

    limit: int
    threads: int
    used: int

    @property
    def free(self) -> int:
        """Bytes this worker can give to chunks and tasks."""
        return max(0, int(SAFE_SHARE * self.limit) - self.used)


def worker_memory(client: Client) -> list[WorkerMemory]:
    """Every worker's memory, as it stands with dasklr's reader imported there.

    A worker without a memory limit counts as an equal share of this machine's memory.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    if not workers:
        return []
    used = client.run(_resident_bytes)
    share = psutil.virtual_memory().total // len(workers)
    return [
        WorkerMemory(
            limit=int(info.get("memory_limit") or share),
            threads=max(1, int(info.get("nthreads") or 1)),
            used=int(used.get(address, 0)),
        )
        for address, info in workers.items()
    ]


def _resident_bytes() -> int:
    """This process's resident memory once the reader's libraries are loaded (on a worker)."""
    import dasklr.data.decode  # noqa: F401  (pyarrow and NumPy: their memory is the baseline)

    return psutil.Process().memory_info().rss


def choose_cache(cache: str, workers: list[WorkerMemory], decoded_bytes: int) -> str:
    """Resolve ``"auto"``: memory when the chunks fit in ``MEMORY_SHARE`` of the workers'
    free memory, else disk."""
    if cache not in CACHE_CHOICES:
        raise ValueError(f"cache must be one of {list(CACHE_CHOICES)}, got {cache!r}")
    if cache != "auto":
        return cache
    free = sum(worker.free for worker in workers)
    return "memory" if decoded_bytes <= MEMORY_SHARE * free else "disk"


def chunk_budget(workers: list[WorkerMemory], mode: str, decoded_bytes: int) -> int:
    """Decoded bytes one chunk may take on the smallest worker, given the cache ``mode``
    (an in-memory cache holds about an equal share of the chunks on every worker)."""
    if not workers:
        return DEFAULT_CHUNK_BYTES
    resident = decoded_bytes / len(workers) if mode == "memory" else 0.0
    room = min(
        (w.free - resident - w.threads * READ_OVERHEAD) / (w.threads * TASK_CHUNKS) for w in workers
    )
    return int(min(DEFAULT_CHUNK_BYTES, max(MIN_CHUNK_BYTES, room)))


def sized_for_cluster(data: ParquetData, client: Client, cache: str) -> ParquetData:
    """``data`` planned in chunks that the cluster's smallest worker can hold (see the
    module docstring); unchanged when the user chose ``chunk_bytes``."""
    workers = worker_memory(client)
    rows = sum(info.rows for info in data.files)  # known from the footers, drops or not
    decoded = rows * (data.X.dtype.itemsize * data.X.shape[1] + 8 * (1 + (data[2] is not None)))
    mode = choose_cache(cache, workers, decoded)
    return data.sized_for(chunk_budget(workers, mode, decoded))
