"""One pass over the data: a kernel on every chunk, partials added in a fixed tree.

This is the only place that builds the per-pass task graph. The graph that produces the
chunks is materialised once per fit (``ChunkGraph``); each pass adds one kernel task per
chunk and ``ceil(log_s(chunks))`` levels of combine tasks of fan-in ``split_every``. The
groups are consecutive runs of chunks added left to right, so the same data with the same
chunking gives the same bits on every run. The small shared arguments (the coefficients)
are one key of the pass's graph, sent to each worker that needs them once per pass
rather than embedded in every task, and recoverable when a worker dies.
"""

import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any

import dask.array as da
from dask.highlevelgraph import HighLevelGraph
from distributed import Client
from distributed.scheduler import KilledWorker

from dasklr.errors import ClusterError
from dasklr.options import DEFAULT_SPLIT_EVERY, DEFAULT_WORKER_TIMEOUT

#: How often a waiting pass looks at the cluster, and redraws its progress.
WATCH_SECONDS = 1.0
PROGRESS_SECONDS = 0.2

Key = Hashable


@dataclass(frozen=True)
class ChunkGraph:
    """The graph that makes every chunk, and the keys of each chunk's (X, y, w) blocks."""

    graph: Mapping[Key, Any]
    blocks: tuple[tuple[Key, Key, Key | None], ...]
    #: where each chunk's rows come from (e.g. "file …, row groups [3, 4]"), for errors
    where: tuple[str, ...] = ()

    @classmethod
    def from_arrays(cls, X: da.Array, y: da.Array, sample_weight: da.Array | None) -> "ChunkGraph":
        """Align the row chunks of X, y and w, with all columns of X in one chunk."""
        if X.ndim != 2 or y.ndim != 1:
            raise ValueError(f"X must be 2-D and y 1-D; got shapes {X.shape} and {y.shape}")
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        y = _aligned(y, X.chunks[0])
        arrays = [X, y]
        if sample_weight is not None:
            sample_weight = _aligned(sample_weight, X.chunks[0])
            arrays.append(sample_weight)
        graph = dict(HighLevelGraph.merge(*(a.__dask_graph__() for a in arrays)))
        x_keys = [row[0] for row in X.__dask_keys__()]
        y_keys = y.__dask_keys__()
        w_keys = (
            sample_weight.__dask_keys__() if sample_weight is not None else [None] * len(y_keys)
        )
        return cls(
            graph=graph,
            blocks=tuple(zip(x_keys, y_keys, w_keys, strict=True)),
            where=tuple(_where(graph, key) for key in x_keys),
        )


def _where(graph: Mapping[Key, Any], key: Key, depth: int = 4) -> str:
    """The ``where`` of the task that reads a chunk (a ``ChunkSpec`` among its arguments),
    found by following the chunk's first dependencies; "" when there is none."""
    task = graph.get(key)
    for _ in range(depth):
        if not isinstance(task, tuple):
            return ""
        for part in task:
            where = getattr(part, "where", None)
            if isinstance(where, str):
                return where
        task = next((graph[p] for p in task if _is_key_of(graph, p)), None)
    return ""


def _is_key_of(graph: Mapping[Key, Any], value: Any) -> bool:
    try:
        return isinstance(value, tuple | str) and value in graph
    except TypeError:  # unhashable: not a key
        return False


def _aligned(a: da.Array, rows: tuple) -> da.Array:
    """``a`` in the row chunks of X; as is when they already match (also when their lengths
    are unknown, as for read_parquet's ``on_invalid="drop"``: same tasks, same rows)."""
    if a.numblocks[0] == len(rows) and all(
        x == r or (x != x and r != r) for x, r in zip(a.chunks[0], rows, strict=True)
    ):
        return a
    return a.rechunk((rows,))


def tree_reduce(
    client: Client,
    chunks: ChunkGraph,
    kernel: Callable[..., Any],
    shared: tuple[Any, ...],
    combine: Callable[..., Any],
    *,
    split_every: int = DEFAULT_SPLIT_EVERY,
    progress: Any = None,
    retries: int = 0,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
    chunk_args: Sequence[tuple] = (),
) -> Any:
    """Return ``combine`` over ``kernel(X_i, y_i, w_i, *chunk_args[i], *shared)`` for every
    chunk ``i`` (``chunk_args``: small per-chunk values, such as its first row's index).

    ``combine(*parts)`` must be associative (plain addition of raw sums); it is applied
    to consecutive groups of at most ``split_every`` parts, level by level, until one
    value is left, which comes back to the driver. One call is one pass over the data.
    ``progress`` (a ``dasklr.passes.progress.PassProgress``) hears of every finished chunk.
    A task that fails (a transient read error) is run again up to ``retries`` times; a
    cluster without workers for ``worker_timeout`` seconds is an error, not a hang.
    """
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}")
    token = uuid.uuid4().hex
    graph = dict(chunks.graph)
    # the shared arguments are keys of the graph, not scattered futures: a worker that
    # dies with them is no loss, the scheduler has their value and gives it to another
    shared_keys = [(f"dasklr-shared-{token}", j) for j in range(len(shared))]
    graph.update(zip(shared_keys, shared, strict=True))
    level: list[Key] = []
    for i, (x_key, y_key, w_key) in enumerate(chunks.blocks):
        key = (f"dasklr-partial-{token}", i)
        own = chunk_args[i] if chunk_args else ()
        graph[key] = (kernel, x_key, y_key, w_key, *own, *shared_keys)
        level.append(key)
    partial_keys = list(level)
    depth = 0
    while len(level) > 1:
        depth += 1
        name = f"dasklr-combine-{depth}-{token}"
        groups = [level[j : j + split_every] for j in range(0, len(level), split_every)]
        level = []
        for j, group in enumerate(groups):
            graph[(name, j)] = (combine, *group)
            level.append((name, j))
    tracked = [key for key in partial_keys if key != level[0]] if progress else []
    *partials, result = client.get(graph, [*tracked, level[0]], sync=False, retries=retries)
    try:
        return _wait_for(client, result, partials, len(partial_keys), progress, worker_timeout)
    except KilledWorker as exc:
        raise ClusterError(_killed_message(exc, chunks.where)) from None


def _killed_message(exc: KilledWorker, where: Sequence[str]) -> str:
    """Which chunk's task kept killing its workers, by file and row groups where known."""
    key = exc.task if isinstance(exc.task, tuple) else (exc.task,)
    index = key[1] if len(key) > 1 and isinstance(key[1], int) else None
    if str(key[0]).startswith("dasklr-combine"):
        what = "the combining of partial sums"
    elif index is not None and index < len(where) and where[index]:
        what = f"chunk {index} ({where[index]})"
    else:
        what = f"chunk {index}" if index is not None else f"task {exc.task}"
    worker = getattr(exc.last_worker, "address", exc.last_worker)
    return (
        f"workers died {exc.allowed_failures + 1} times running {what}, the last {worker}: "
        "a worker is killed when it passes its memory limit, so give the workers more "
        "memory, or read smaller chunks (read_parquet's chunk_bytes)"
    )


def _wait_for(client: Client, result, partials: list, total: int, progress, worker_timeout):
    """The pass's result, telling ``progress`` as chunks finish; a ``ClusterError`` if the
    cluster has had no worker for ``worker_timeout`` seconds (the pass could never end).

    Each chunk's future is dropped once counted, so no partial (a Hessian can be large)
    outlives the combine task that needs it. When the pass fails, every future it still
    holds is released at once (the traceback would otherwise keep them, and with them the
    failed tasks, on the scheduler: a refit of the same data would get the old error).
    """
    pending = set(partials)
    del partials
    if progress is not None:
        progress.start(total)
    workerless_since = None
    try:
        while True:
            try:
                answer = result.result(timeout=PROGRESS_SECONDS if pending else WATCH_SECONDS)
                break
            except TimeoutError:
                pass
            if pending:
                pending = {future for future in pending if not future.done()}
                progress.advance(total - len(pending))
            workerless_since = _check_workers(client, workerless_since, worker_timeout)
        if progress is not None:
            progress.advance(total)
    except (CancelledError, OSError) as exc:
        release([result, *pending])
        if client.status == "running" and "connection-lost" not in str(exc):
            raise
        raise ClusterError(
            f"lost the connection to the Dask scheduler at {client.scheduler.address} during "
            "a pass: was it stopped or killed? A checkpoint (output.checkpoint_every) lets "
            "train --resume continue on a new cluster"
        ) from None
    except BaseException:
        release([result, *pending])
        raise
    finally:
        if progress is not None:
            progress.finish()
    return answer


def release(futures) -> None:
    """Let the scheduler forget these futures now, not when they are garbage."""
    for future in futures:
        future.release()


def _check_workers(client: Client, since: float | None, timeout: float) -> float | None:
    """When the cluster first had no worker (None while it has some); raise past timeout."""
    if client.scheduler_info(n_workers=-1).get("workers"):
        return None
    now = time.monotonic()
    if since is not None and now - since > timeout:
        raise ClusterError(
            f"the Dask scheduler at {client.scheduler.address} has had no workers for "
            f"{timeout:g} s, so the pass cannot finish: were they killed or never started? "
            "A checkpoint (output.checkpoint_every) lets train --resume continue on a new "
            "cluster"
        )
    return now if since is None else since
