"""One pass = ``tree_reduce`` on the session LocalCluster, against the in-memory kernel."""

import io
import itertools
import re

import dask.array as da
import numpy as np
import pytest

from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.merge import merge_sums
from dasklr.passes.progress import PassProgress
from dasklr.passes.reduction import ChunkGraph, tree_reduce


def problem(n=1000, d=5, seed=11):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.2, 4.0, size=d)
    y = (rng.uniform(size=n) < 0.3).astype(np.float64)
    w = rng.uniform(0.0, 2.0, size=n)
    coef = rng.normal(size=d)
    return X, y, w, coef, 0.4


def assert_close_sums(got, expected, rows, rtol=1e-12):
    assert got.rows == rows
    # tolerance: rtol 1e-12; only the order of float64 additions differs (≤ 1000 rows)
    assert got.loss == pytest.approx(expected.loss, rel=rtol, abs=0)
    assert got.grad_intercept == pytest.approx(expected.grad_intercept, rel=rtol, abs=0)
    assert got.weight == pytest.approx(expected.weight, rel=rtol, abs=0)
    np.testing.assert_allclose(got.grad_coef, expected.grad_coef, rtol=rtol, atol=0)


def assert_same_bits(a, b):
    assert (a.loss, a.grad_intercept, a.weight, a.rows) == (
        b.loss,
        b.grad_intercept,
        b.weight,
        b.rows,
    )
    np.testing.assert_array_equal(a.grad_coef, b.grad_coef)


CHUNKINGS = [
    ((1000,), (5,)),  # one chunk: the tree has no combine level
    ((100,) * 10, (5,)),
    ((1, 2, 300, 97, 250, 350), (2, 3)),  # uneven rows, X split by columns too
    ((37,) * 27 + (1,), (5,)),  # 28 chunks: 3 levels at split_every 3
]
CHUNK_IDS = ["1", "10", "uneven", "28"]


def dask_problem(chunks, weighted):
    X, y, w, coef, b = problem()
    Xd = da.from_array(X, chunks=chunks)
    yd = da.from_array(y, chunks=(250,))  # y and w chunked unlike X: aligned by ChunkGraph
    wd = da.from_array(w, chunks=(400,)) if weighted else None
    return (X, y, w if weighted else None, coef, b), ChunkGraph.from_arrays(Xd, yd, wd)


@pytest.mark.parametrize("split_every", [2, 3, 8])
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=CHUNK_IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_tree_reduce_equals_in_memory_kernel(client, chunks, split_every, weighted):
    (X, y, w, coef, b), graph = dask_problem(chunks, weighted)
    assert len(graph.blocks) == len(chunks[0])
    got = tree_reduce(client, graph, logistic_sums, (coef, b), merge_sums, split_every=split_every)
    assert_close_sums(got, logistic_sums(X, y, w, coef, b), 1000)


@pytest.mark.parametrize("split_every", [2, 3, 8])
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=CHUNK_IDS)
def test_tree_reduce_twice_gives_the_same_bits(client, chunks, split_every):
    (_, _, _, coef, b), graph = dask_problem(chunks, weighted=True)
    args = (client, graph, logistic_sums, (coef, b), merge_sums)
    first = tree_reduce(*args, split_every=split_every)
    # the same chunking and tree give the same bits: compared with ==, no tolerance
    assert_same_bits(tree_reduce(*args, split_every=split_every), first)


def test_tree_reduce_equals_left_to_right_merge_of_chunks(client):
    X, y, w, coef, b = problem(n=300)
    bounds = [0, 50, 100, 150, 200, 250, 300]
    parts = [logistic_sums(X[i:j], y[i:j], w[i:j], coef, b) for i, j in itertools.pairwise(bounds)]
    # split_every=2 over 6 chunks: ((p0+p1) + (p2+p3)) + (p4+p5)
    expected = merge_sums(
        merge_sums(merge_sums(parts[0], parts[1]), merge_sums(parts[2], parts[3])),
        merge_sums(merge_sums(parts[4], parts[5])),
    )
    graph = ChunkGraph.from_arrays(
        da.from_array(X, chunks=(50, 5)), da.from_array(y, chunks=50), da.from_array(w, chunks=50)
    )
    got = tree_reduce(client, graph, logistic_sums, (coef, b), merge_sums, split_every=2)
    # the same NumPy code on the same blocks in the same order: bit-identical
    assert_same_bits(got, expected)


def chunk_index_graph(n_chunks):
    """Each chunk's y holds the chunk's index."""
    X = np.zeros((n_chunks * 3, 1))
    y = np.repeat(np.arange(n_chunks, dtype=np.float64), 3)
    return ChunkGraph.from_arrays(da.from_array(X, chunks=(3, 1)), da.from_array(y, chunks=3), None)


@pytest.mark.parametrize(
    ("n_chunks", "split_every", "expected"),
    [
        (1, 2, 0),
        (5, 2, (((0, 1), (2, 3)), ((4,),))),
        (5, 3, ((0, 1, 2), (3, 4))),
        (7, 8, (0, 1, 2, 3, 4, 5, 6)),
        (10, 3, (((0, 1, 2), (3, 4, 5), (6, 7, 8)), ((9,),))),
    ],
)
def test_tree_groups_consecutive_chunks_in_order(client, n_chunks, split_every, expected):
    # The combine step returns its inputs as a tuple, so the result spells out the tree
    # (written out by hand above): consecutive groups of split_every, level by level.
    def chunk_index(X, y, w, unused):
        return int(y[0])

    def as_tuple(*parts):
        return parts

    graph = chunk_index_graph(n_chunks)
    got = tree_reduce(client, graph, chunk_index, (None,), as_tuple, split_every=split_every)
    assert got == expected


def test_shared_arguments_reach_every_chunk(client):
    def scaled_rows(X, y, w, factor, offset):
        return X.shape[0] * factor + offset

    def add(*parts):
        return sum(parts)

    graph = ChunkGraph.from_arrays(
        da.zeros((100, 2), chunks=(10, 2)), da.zeros(100, chunks=10), None
    )
    # 10 chunks of 10 rows, each 10·3 + 1: exact integer arithmetic
    assert tree_reduce(client, graph, scaled_rows, (3, 1), add, split_every=4) == 310


def test_tree_reduce_without_shared_arguments(client):
    def rows(X, y, w):
        return X.shape[0]

    def add(*parts):
        return sum(parts)

    # 4 chunks of 3 rows: 12, exact
    assert tree_reduce(client, chunk_index_graph(4), rows, (), add, split_every=2) == 12


def test_split_every_below_two_is_rejected(client):
    graph = ChunkGraph.from_arrays(da.zeros((4, 1), chunks=2), da.zeros(4, chunks=2), None)
    with pytest.raises(ValueError, match="split_every must be at least 2"):
        tree_reduce(client, graph, logistic_sums, (np.zeros(1), 0.0), merge_sums, split_every=1)


def test_chunk_graph_rejects_wrong_dimensions():
    with pytest.raises(ValueError, match="X must be 2-D and y 1-D"):
        ChunkGraph.from_arrays(da.zeros(4, chunks=2), da.zeros(4, chunks=2), None)


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as sys.stderr does in a shell."""

    def isatty(self) -> bool:
        return True


def test_progress_counts_every_chunk_of_a_pass(client):
    X, y, _, coef, b = problem(n=1000)
    chunks = ChunkGraph.from_arrays(da.from_array(X, chunks=(100, 5)), da.from_array(y, 100), None)
    screen = Terminal()
    progress = PassProgress(screen)
    with_progress = tree_reduce(
        client, chunks, logistic_sums, (coef, b), merge_sums, progress=progress
    )
    assert_same_bits(
        with_progress, tree_reduce(client, chunks, logistic_sums, (coef, b), merge_sums)
    )
    drawn = screen.getvalue()
    assert drawn.startswith("\rpass    1 [") and drawn.endswith("\n")
    assert "10/10 chunks" in drawn  # the last redraw shows every chunk done
    last = drawn.strip().split("\r")[-1]
    assert re.search(r"chunks/s, ETA +0 s$", last), last  # the rate, and no time left
