"""Decode once: the memory and disk caches give the same bits as re-reading Parquet.

Every test runs real fits on the session's two-process LocalCluster over Parquet files
written here; the reference for each cached fit is the same fit with ``cache="none"``,
which re-reads and re-decodes the files on every pass.
"""

import os
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.passes.cluster import blas_threads, one_blas_thread, set_blas_threads
from dasklr.passes.merge import merge_sums
from dasklr.passes.reduction import ChunkGraph, tree_reduce
from dasklr.passes.runner import PassOptions, PassRunner
from dasklr.passes.sizing import MEMORY_SHARE, SAFE_SHARE, choose_cache, worker_memory


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache-data")
    X, y, _, _ = make_classification(6000, 6, seed=11)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=6000)
    write_parquet_dataset(folder, X, y, sample_weight=w, n_files=3, row_group_rows=500)
    return folder, X, y, w


def fit(client, folder, **params):
    data = dasklr.read_parquet(folder, label="y", weight="w", dtype=params.pop("dtype", "float64"))
    params = {"alpha": 1e-3, "tol": 1e-9, "max_iter": 200, "client": client} | params
    return dasklr.LogisticRegression(**params).fit(data)


def cache_files(base: Path) -> list[Path]:
    return sorted(base.glob("dasklr-cache-*/*.npy"))


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cached_fit_is_bit_identical_to_rereading(client, dataset, tmp_path, solver, cache):
    folder = dataset[0]
    reference = fit(client, folder, solver=solver, cache="none")
    cached = fit(client, folder, solver=solver, cache=cache, cache_dir=str(tmp_path))
    assert (reference.cache_, cached.cache_) == ("none", cache)
    np.testing.assert_array_equal(cached.coef_, reference.coef_)
    np.testing.assert_array_equal(cached.intercept_, reference.intercept_)
    objectives = [[h["objective"] for h in m.history_] for m in (cached, reference)]
    assert objectives[0] == objectives[1]
    assert cached.n_passes_ == reference.n_passes_


def snapshot(base: Path, into: list):
    """A callback that records the cache's files and the dtypes of X in them, once."""

    def record(_):
        if not into:
            files = cache_files(base)
            dtypes = {np.load(p, mmap_mode="r").dtype for p in files if p.name.endswith(".X.npy")}
            into.append((files, dtypes))

    return record


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_disk_cache_lives_in_cache_dir_during_the_fit_only(client, dataset, tmp_path, dtype):
    data = dasklr.read_parquet(dataset[0], label="y", weight="w", dtype=dtype)
    model = dasklr.LogisticRegression(cache="disk", cache_dir=str(tmp_path), client=client)
    seen = []
    model.fit(data, callbacks=[snapshot(tmp_path, seen)])
    files, dtypes = seen[0]
    # after the summary pass: X, y and w of every chunk, as plain .npy files; X in dtype
    assert len(files) == 3 * data.X.numblocks[0]
    assert dtypes == {np.dtype(dtype)}
    assert list(tmp_path.iterdir()) == []  # removed at the end of the fit


def test_missing_cache_files_are_remade_from_parquet(client, dataset, tmp_path):
    """A worker that finds no files (another machine, a lost worker) reads Parquet again."""
    folder = dataset[0]
    reference = fit(client, folder, solver="newton", cache="none")

    def delete_after_first_iteration(record):
        if record.iteration == 1:
            for path in cache_files(tmp_path):
                os.remove(path)

    data = dasklr.read_parquet(folder, label="y", weight="w")
    model = dasklr.LogisticRegression(
        alpha=1e-3,
        tol=1e-9,
        max_iter=200,
        solver="newton",
        cache="disk",
        cache_dir=str(tmp_path),
        client=client,
    )
    model.fit(data, callbacks=[delete_after_first_iteration])
    assert model.n_iter_ >= 2  # the deletion happened mid-fit
    np.testing.assert_array_equal(model.coef_, reference.coef_)


def test_auto_picks_memory_when_the_data_fits_with_a_margin(client):
    """Memory when the chunks take at most MEMORY_SHARE of what the workers have left below
    SAFE_SHARE of their limits, after what their processes already hold."""
    workers = worker_memory(client)
    infos = client.scheduler_info(n_workers=-1)["workers"].values()
    assert sorted(w.limit for w in workers) == sorted(i["memory_limit"] for i in infos)
    resident = client.run(lambda: __import__("psutil").Process().memory_info().rss)
    for worker in workers:  # what each process holds, as measured there (± 64 MiB of drift)
        assert abs(worker.used - np.median(list(resident.values()))) < 64 * 2**20
    free = sum(int(SAFE_SHARE * w.limit) - w.used for w in workers)
    assert choose_cache("auto", workers, int(MEMORY_SHARE * free) - 1) == "memory"
    assert choose_cache("auto", workers, int(MEMORY_SHARE * free) + 1) == "disk"
    assert choose_cache("none", workers, 1) == "none"
    with pytest.raises(ValueError, match="cache must be one of"):
        choose_cache("ssd", workers, 1)


def test_numpy_input_is_not_cached_again(client):
    X, y, _, _ = make_classification(500, 3, seed=1)
    model = dasklr.LogisticRegression(cache="disk", client=client).fit(X, y)
    assert model.cache_ == "none"  # scattered once, already in memory


def test_float32_chunks_give_the_fit_of_their_float64_values(client, dataset, tmp_path):
    """float32 storage, float64 arithmetic: the same bits as float64 data holding the
    same (rounded) values."""
    folder, X, y, w = dataset
    rounded = tmp_path / "rounded"
    X32 = X.astype(np.float32).astype(np.float64)
    write_parquet_dataset(rounded, X32, y, sample_weight=w, n_files=3, row_group_rows=500)
    data32 = dasklr.read_parquet(folder, label="y", weight="w", dtype="float32")
    assert data32.X.dtype == np.float32
    reference = fit(client, rounded, solver="newton", cache="none")
    for cache in ("none", "disk", "memory"):
        model = fit(
            client,
            folder,
            solver="newton",
            cache=cache,
            dtype="float32",
            cache_dir=str(tmp_path / "c"),
        )
        np.testing.assert_array_equal(model.coef_, reference.coef_)
    # and close to the float64 fit: float32 rounding of X moves the optimum very little
    full = fit(client, folder, solver="newton", cache="none")
    np.testing.assert_allclose(model.coef_, full.coef_, rtol=1e-5, atol=1e-7)


def _blas_threads(X, y, w) -> int:
    """A kernel that reports how many threads BLAS may use while it runs."""
    return blas_threads()


def test_kernels_run_with_one_blas_thread(client, dataset):
    """Workers whose BLAS may use 2 threads run a fit's kernels with 1, and get 2 back."""
    data = dasklr.read_parquet(dataset[0], label="y", weight="w")
    chunks = ChunkGraph.from_arrays(*data)
    n = data.X.numblocks[0]
    client.run(set_blas_threads, 2)
    try:
        # the partials add up over the chunks: 2 threads each outside a fit
        assert tree_reduce(client, chunks, _blas_threads, (), merge_sums) == 2 * n
        with one_blas_thread(client):
            run_pass = PassRunner(client, chunks, PassOptions(check_chunks=False))
            assert run_pass(_blas_threads) == n  # 1 thread in each chunk's kernel
        assert set(client.run(blas_threads).values()) == {2}  # put back
    finally:
        client.run(set_blas_threads, 1)


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
