"""Small in-memory data without a cluster: the same pass graphs, run in this process.

Starting a local cluster costs seconds; a fit of a few thousand in-memory rows, tens of
milliseconds. So with no client given and no current one, NumPy (or DataFrame) input of
at most ``IN_PROCESS_BYTES`` is fitted here: the pass runner builds the very same graph
(the same chunks of the same size, the same kernels, the same tree of partial sums, added
in the same order) and Dask's synchronous scheduler runs it in this thread, with BLAS
limited to one thread as on a worker. The coefficients are those a cluster gives, bit for
bit (tests/test_in_process.py).

``InProcess`` answers the few calls the passes make of a ``distributed.Client``: ``get``
(a graph, run at once; its results as finished futures), ``persist`` (nothing to move),
``run`` (here), ``compute`` and ``scheduler_info``.
"""

from typing import Any

import numpy as np
import psutil
from dask.base import is_dask_collection
from dask.local import get_sync

#: In-memory input up to this many bytes (X, y and the weights) is fitted in this
#: process when there is no cluster to use (above it, a local cluster starts).
IN_PROCESS_BYTES = 256 * 2**20
#: The name this process goes by where a worker's address would be.
NAME = "in-process"


class Done:
    """A finished task's result, shaped like the ``distributed.Future`` the passes wait on."""

    def __init__(self, value: Any):
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value

    def done(self) -> bool:
        return True

    def release(self) -> None:
        self._value = None


class _Scheduler:
    address = NAME


class InProcess:
    """Runs pass graphs in this thread with Dask's synchronous scheduler."""

    status = "running"
    scheduler = _Scheduler()

    def get(self, graph: dict, keys: list, sync: bool = False, retries: int = 0) -> list[Done]:
        values = get_sync(graph, keys)
        return [Done(value) for value in values]

    def persist(self, collections):
        return collections  # already in this process's memory

    def compute(self, collection) -> Done:
        return Done(collection.compute(scheduler="sync"))

    def run(self, function, *args, workers=None, on_error=None, **kwargs) -> dict[str, Any]:
        return {NAME: function(*args, **kwargs)}

    def scheduler_info(self, n_workers: int = -1) -> dict:
        memory = psutil.virtual_memory().total
        return {"workers": {NAME: {"memory_limit": memory, "nthreads": 1}}}

    def __repr__(self) -> str:
        return "InProcess()"


def fits_in_process(*arrays) -> bool:
    """Whether these inputs (NumPy arrays, DataFrames, lists; None skipped) are in memory
    and take at most ``IN_PROCESS_BYTES``; lazy input (Dask, ``read_parquet``) is not."""
    total = 0
    for a in arrays:
        if a is None:
            continue
        if is_dask_collection(a) or (isinstance(a, tuple) and any(map(is_dask_collection, a))):
            return False
        nbytes = getattr(a, "nbytes", None)
        if nbytes is None and hasattr(a, "memory_usage"):  # pandas
            nbytes = a.memory_usage(index=False).sum()
        if nbytes is None:
            try:
                nbytes = np.asarray(a).nbytes
            except (TypeError, ValueError):
                return False
        total += int(nbytes)
    return total <= IN_PROCESS_BYTES
