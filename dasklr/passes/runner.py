"""The one pass runner: every pass over the data goes through ``passes_over``.

``passes_over`` connects to the cluster, limits every worker's BLAS to one thread,
describes (and caches) the chunks of (X, y, w) once, and yields a ``PassRunner``. Each
call of the runner is one pass: a kernel on every chunk, its partials added in
``tree_reduce``'s fixed tree, with retries, the worker watchdog and progress. It returns
what the kernel returns, merged: typed sums (``LogisticSums``, ``SummarySums``,
``MetricSums``, …), or ``WithHeldOut`` when rows are held out for early stopping.
"""

import functools
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, futures_of

from dasklr.data.checks import check_values
from dasklr.kernels.design import Layout
from dasklr.kernels.folds import held_out
from dasklr.kernels.logistic import Probe, probe_sums
from dasklr.options import DEFAULT_SPLIT_EVERY, DEFAULT_WORKER_TIMEOUT, FitOptions
from dasklr.passes.cache import cached_chunks
from dasklr.passes.cluster import connect, one_blas_thread
from dasklr.passes.in_process import fits_in_process
from dasklr.passes.merge import merge_sums
from dasklr.passes.offsets import row_offsets
from dasklr.passes.progress import PassProgress
from dasklr.passes.reduction import ChunkGraph, release, tree_reduce
from dasklr.passes.sizing import choose_cache, worker_memory

#: In-memory NumPy input is cut into chunks of about this many bytes before it is scattered.
NUMPY_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class WithHeldOut:
    """A probe pass's sums on the training rows, and the log-loss sum of the held-out rows."""

    train: Any
    loss: float
    weight: float

    def __add__(self, other: "WithHeldOut") -> "WithHeldOut":
        return WithHeldOut(
            self.train + other.train, self.loss + other.loss, self.weight + other.weight
        )

    @property
    def mean_loss(self) -> float:
        return self.loss / self.weight


def split_call(
    kernel: Callable, fraction: float, X, y, sample_weight, offset: int, *shared, layout=None
):
    """Run ``kernel`` on the training rows (held-out rows weigh 0); for a probe, also the
    held-out rows' loss at its point (``WithHeldOut``)."""
    held = held_out(np.arange(offset, offset + X.shape[0]), fraction)
    base = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    result = kernel(X, y, np.where(held, 0.0, base), *shared)
    if not (shared and isinstance(shared[0], Probe)):
        return result
    probe = shared[0]
    point = Probe(probe.coef, probe.intercept)  # the plain log-loss: no class weights
    rows = probe_sums(X[held], np.asarray(y)[held], base[held], point, layout=layout)
    return WithHeldOut(result, rows.loss, rows.weight)


def checked_call(kernel: Callable, n_classes: int, X, y, sample_weight, *shared):
    """Check a chunk's values, then run ``kernel`` on it (first pass over array input)."""
    names = [f"column {j}" for j in range(X.shape[1])]
    check_values(
        X,
        y,
        sample_weight,
        feature_names=names,
        where="a chunk of the input arrays",
        n_classes=n_classes,
    )
    return kernel(X, y, sample_weight, *shared)


@dataclass(frozen=True)
class PassOptions:
    """How passes run: the tree's fan-in, retries, the watchdog, progress; whether the
    first pass checks every chunk's values (for input no reader has checked)."""

    split_every: int = DEFAULT_SPLIT_EVERY
    retries: int = 2
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT
    progress: PassProgress | None = None
    check_chunks: bool = True
    n_classes: int = 2

    @classmethod
    def of(
        cls, options: FitOptions, *, progress=None, check_chunks=True, n_classes=2
    ) -> "PassOptions":
        """How the passes of a fit with ``options`` run."""
        return cls(
            options.split_every,
            options.retries,
            options.worker_timeout,
            progress,
            check_chunks,
            n_classes,
        )


class PassRunner:
    """Runs one pass (a tree reduction of a kernel over every chunk) and counts passes.

    ``holdout`` (a share of rows, by row index) is left out of every kernel's rows and
    its log-loss measured in probe passes; kernels then get each chunk's first row index.
    With categorical columns (``layout``), every kernel gets ``layout=`` too.
    """

    def __init__(
        self,
        client: Client,
        chunks: ChunkGraph,
        options: PassOptions,
        *,
        chunk_args: Sequence[tuple] = (),
        holdout: float | None = None,
        layout: Layout | None = None,
    ):
        self.client = client
        self.chunks = chunks
        self.options = options
        #: per-chunk arguments that follow (X, y, w) in every kernel call (``tree_reduce``)
        self.chunk_args = chunk_args
        self.holdout = holdout
        self.layout = layout
        self.count = 0
        #: wall seconds of every pass run, in order
        self.seconds: list[float] = []

    def __call__(self, kernel: Callable, *shared) -> Any:
        options = self.options
        if self.layout is not None:
            kernel = functools.partial(kernel, layout=self.layout)
        if options.check_chunks and self.count == 0:
            kernel = functools.partial(checked_call, kernel, options.n_classes)
        if self.holdout is not None:
            kernel = functools.partial(split_call, kernel, self.holdout, layout=self.layout)
        self.count += 1
        started = time.perf_counter()
        sums = tree_reduce(
            self.client,
            self.chunks,
            kernel,
            shared,
            merge_sums,
            split_every=options.split_every,
            progress=options.progress,
            retries=options.retries,
            worker_timeout=options.worker_timeout,
            chunk_args=self.chunk_args,
        )
        self.seconds.append(time.perf_counter() - started)
        return sums


@contextmanager
def passes_over(
    client: Client | str | None,
    arrays: tuple,
    options: PassOptions,
    *,
    cache: str = "none",
    cache_dir: str | None = None,
    holdout: float | None = None,
    row_index: bool = False,
    extra_graph: tuple[dict, Sequence[tuple]] | None = None,
    layout: Layout | None = None,
) -> Iterator[tuple[PassRunner, str]]:
    """Connect, limit every worker's BLAS to one thread, describe and cache the chunks of
    (X, y, w), and yield the ``PassRunner`` over them with the cache mode chosen.

    Kernels get each chunk's first row index after (X, y, w) with ``row_index`` or
    ``holdout`` (whose rows they drop); ``extra_graph`` = (graph, per-chunk keys) adds
    per-chunk arrays of another graph (e.g. cluster codes) as kernel arguments instead.
    ``layout``: X holds level codes of categorical columns after its numeric ones.
    """
    with (
        connect(client, in_process=fits_in_process(*arrays)) as active,
        one_blas_thread(active),
    ):
        arrays, scattered = on_cluster(active, *arrays)
        mode = "none"
        if not scattered:
            mode = choose_cache(cache, worker_memory(active), _decoded_bytes(arrays))
        graph = ChunkGraph.from_arrays(*arrays)
        chunk_args: Sequence[tuple] = ()
        if holdout is not None or row_index:
            chunk_args = row_offsets(arrays[0])
        if extra_graph is not None:
            more, chunk_args = extra_graph
            graph = ChunkGraph({**graph.graph, **more}, graph.blocks, graph.where)
        try:
            with cached_chunks(active, graph, mode, cache_dir, options.retries) as chunks:
                yield (
                    PassRunner(
                        active,
                        chunks,
                        options,
                        chunk_args=chunk_args,
                        holdout=holdout,
                        layout=layout,
                    ),
                    mode,
                )
        finally:  # arrays scattered from NumPy leave the workers with the fit
            release(futures_of(arrays) if scattered else ())


@contextmanager
def passes_over_chunks(
    client: Client | str | None, chunks: Sequence[Any], options: PassOptions
) -> Iterator[PassRunner]:
    """A ``PassRunner`` over chunks that kernels read themselves (e.g. the ``ChunkSpec`` of
    each part a prediction writes) instead of (X, y, w) arrays: each kernel gets its
    chunk's description, None, None and the chunk's index, then the shared arguments."""
    with connect(client) as active, one_blas_thread(active):
        name = f"dasklr-chunk-{uuid.uuid4().hex}"
        graph: dict[Hashable, Any] = {(name, i): chunk for i, chunk in enumerate(chunks)}
        blocks = tuple(((name, i), None, None) for i in range(len(chunks)))
        indices = [(i,) for i in range(len(chunks))]
        where = tuple(str(getattr(chunk, "where", "")) for chunk in chunks)
        yield PassRunner(active, ChunkGraph(graph, blocks, where), options, chunk_args=indices)


def _decoded_bytes(arrays) -> int:
    return sum(a.nbytes for a in arrays if a is not None)


def on_cluster(client: Client, X, y, sample_weight):
    """Dask arrays stay as they are (lazy, out-of-core); NumPy arrays are scattered once.

    Returns the arrays and whether they were scattered (then they are in memory already).
    """
    arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
    if all(isinstance(a, da.Array) for a in arrays):
        return (X, y, sample_weight), False
    rows = max(1, NUMPY_CHUNK_BYTES // (8 * max(1, X.shape[1])))
    converted = [
        a if isinstance(a, da.Array) else da.from_array(np.asarray(a), chunks=(rows, *a.shape[1:]))
        for a in arrays
    ]
    converted = client.persist(converted)
    return (converted[0], converted[1], converted[2] if sample_weight is not None else None), True
