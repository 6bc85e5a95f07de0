"""Bad input and hard data: every error names where, every warning says what to do.

(The schema and value errors of single files are in test_parquet.py.)
"""

import json
import os
import re
import sys
import time

import cloudpickle
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset


def test_separable_data_without_penalty_warns_and_is_not_converged(client, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)  # a hyperplane separates the classes
    for solver in ("newton", "lbfgs"):
        model = dasklr.LogisticRegression(solver=solver, max_iter=50, client=client)
        with pytest.warns(dasklr.SeparationWarning, match=r"separable.*Set alpha > 0"):
            model.fit(X, y)
        assert not model.converged_
        assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
        model.save(tmp_path / solver)
        saved = json.loads((tmp_path / solver / "metadata.json").read_text())
        assert saved["converged"] is False
    # with a penalty there is an optimum, and it is reached
    penalised = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(X, y)
    assert penalised.converged_


def test_features_around_1e3_and_beyond_fit_without_numpy_warnings(client):
    """pytest runs with warnings as errors: an overflow in exp() would fail this test."""
    X, y, _, _ = make_classification(2000, 4, seed=3)
    for scale in (1e3, 1e6):
        model = dasklr.LogisticRegression(alpha=1e-4, tol=1e-9, client=client)
        model.fit(X * scale, y)
        assert model.converged_ and np.all(np.isfinite(model.coef_))
        # the same problem in the original units: coef·scale, penalty alpha/scale²
        unscaled = dasklr.LogisticRegression(alpha=1e-4 / scale**2, tol=1e-9, client=client)
        unscaled.fit(X, y)
        np.testing.assert_allclose(model.coef_ * scale, unscaled.coef_, rtol=1e-5)


def test_int_and_float_columns_across_files_widen_to_the_all_float_fit(client, tmp_path):
    X, y, _, _ = make_classification(3000, 3, seed=6)
    X[:, 0] = np.round(X[:, 0] * 10)  # whole numbers, stored as int64 in one file
    write_parquet_dataset(tmp_path / "float", X, y, n_files=2, row_group_rows=500)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(3000), 2)):
        x0 = X[rows, 0].astype(np.int64) if i == 0 else X[rows, 0]
        table = pa.table({"x0": x0, "x1": X[rows, 1], "x2": X[rows, 2], "y": y[rows]})
        pq.write_table(table, mixed / f"part-{i}.parquet", row_group_size=500)
    a = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(
        dasklr.read_parquet(tmp_path / "float", label="y")
    )
    b = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(
        dasklr.read_parquet(mixed, label="y")
    )
    np.testing.assert_array_equal(a.coef_, b.coef_)  # int64 → float64 is exact here


def test_embedded_cluster_listens_on_loopback_only(tmp_path):
    """No client given, lazy input (small NumPy input runs in this process): the cluster
    dasklr starts itself binds 127.0.0.1, dashboard off."""
    from distributed import default_client

    X, y, _, _ = make_classification(400, 2, seed=1)
    write_parquet_dataset(tmp_path, X, y)
    seen = {}

    def look(record):
        if not seen:
            info = default_client().scheduler_info(n_workers=-1)
            seen["scheduler"] = info["address"]
            seen["workers"] = list(info["workers"])

    dasklr.LogisticRegression(alpha=1e-2).fit(
        dasklr.read_parquet(tmp_path, label="y"), callbacks=[look]
    )
    assert seen["scheduler"].startswith("tcp://127.0.0.1:")
    assert seen["workers"] and all(w.startswith("tcp://127.0.0.1:") for w in seen["workers"])


# -- a read that fails once ---------------------------------------------------------------


class FlakyFileSystem(LocalFileSystem):
    """Local files, except that the first open after ``arm`` fails with an OSError.

    The arming is a file on disk, so it holds across the worker processes; whoever
    removes it first is the open that fails. This injects a fault into a real read; the
    data still comes from the real files.
    """

    protocol = "flaky"
    root_marker = "/"

    def __init__(self, trigger: str = "", **kwargs):
        super().__init__(**kwargs)
        self.trigger = trigger

    @classmethod
    def _strip_protocol(cls, path):
        path = str(path)
        return super()._strip_protocol(
            path[len("flaky://") :] if path.startswith("flaky://") else path
        )

    def _open(self, path, mode="rb", **kwargs):
        if self.trigger and "r" in mode:
            try:
                os.remove(self.trigger)
            except FileNotFoundError:
                pass
            else:
                raise OSError(f"injected transient failure reading {path}")
        return super()._open(path, mode=mode, **kwargs)


cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.mark.parametrize("retries", [2, 0])
def test_a_read_that_fails_once_is_retried(client, tmp_path, retries):
    X, y, _, _ = make_classification(4000, 3, seed=2)
    write_parquet_dataset(tmp_path / "d", X, y, n_files=2, row_group_rows=1000)
    trigger = tmp_path / "armed"
    paths = [str(p) for p in sorted((tmp_path / "d").glob("*.parquet"))]
    data = dasklr.read_parquet(
        [f"flaky://{p}" for p in paths], label="y", storage_options={"trigger": str(trigger)}
    )
    reference = dasklr.LogisticRegression(alpha=1e-3, cache="none", client=client).fit(
        dasklr.read_parquet(paths, label="y")
    )
    trigger.touch()  # armed after read_parquet: the first read of a pass fails
    model = dasklr.LogisticRegression(alpha=1e-3, cache="none", retries=retries, client=client)
    if retries:
        model.fit(data)
        np.testing.assert_array_equal(model.coef_, reference.coef_)
    else:
        with pytest.raises(
            dasklr.DataError, match=r"injected transient failure reading .*\.parquet"
        ):
            model.fit(data)
    assert not trigger.exists()  # the fault did fire


fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)


@pytest.mark.parametrize("damage", ["zero bytes", "truncated", "corrupt pages"])
def test_damaged_files_are_named(client, tmp_path, damage):
    X, y, _, _ = make_classification(2000, 3, seed=5)
    write_parquet_dataset(tmp_path, X, y, n_files=2, row_group_rows=500)
    victim = sorted(tmp_path.glob("*.parquet"))[1]
    content = victim.read_bytes()
    if damage == "zero bytes":
        victim.write_bytes(b"")
    elif damage == "truncated":
        victim.write_bytes(content[: len(content) // 2])  # the footer is gone
    else:  # the footer is intact but the data pages are garbage
        middle = bytearray(content)
        middle[8 : len(content) // 2] = b"\xff" * (len(content) // 2 - 8)
        victim.write_bytes(bytes(middle))
    name = re.escape(victim.name)
    if damage == "corrupt pages":  # found by the pass that decodes it
        data = dasklr.read_parquet(tmp_path, label="y", classes=[0, 1])
        with pytest.raises(dasklr.DataError, match=rf"cannot read file .*{name}, row groups"):
            dasklr.LogisticRegression(retries=0, client=client).fit(data)
    else:  # found before any pass, from the footers
        with pytest.raises(dasklr.DataError, match=rf"{name}: not a readable Parquet file"):
            dasklr.read_parquet(tmp_path, label="y")


def test_on_invalid_drop_leaves_out_and_counts_bad_rows(client, tmp_path):
    X, y, _, _ = make_classification(3000, 3, seed=7)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=3000)
    bad = np.zeros(3000, dtype=bool)
    X_bad = X.copy()
    X_bad[10, 0], X_bad[20, 1], X_bad[2500, 2] = np.nan, np.inf, -np.inf
    bad[[10, 20, 2500]] = True
    columns = {f"x{j}": pa.array(X_bad[:, j]) for j in range(3)}
    columns["x0"] = pa.array([None if i == 30 else v for i, v in enumerate(X_bad[:, 0])])
    bad[30] = True
    labels = pa.array([None if i == 40 else int(v) for i, v in enumerate(y)], pa.int8())
    bad[40] = True
    w_bad = w.copy()
    w_bad[50] = -1.0
    bad[50] = True
    table = pa.table({**columns, "y": labels, "w": w_bad})
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=700)
    with pytest.raises(dasklr.DataError, match=r"data\.parquet"):  # the default: an error
        dasklr.LogisticRegression(client=client).fit(
            dasklr.read_parquet(tmp_path, label="y", weight="w", classes=[0, 1])
        )
    data = dasklr.read_parquet(tmp_path, label="y", weight="w", on_invalid="drop")
    model = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client).fit(data)
    assert model.training_data_["rows_dropped"] == 6
    assert model.training_data_["rows_used"] == 2994
    reference = dasklr.LogisticRegression(alpha=1e-3, tol=1e-10, client=client)
    reference.fit(X[~bad], y[~bad], w[~bad])
    # the same rows in other chunks: equal up to the order of additions
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-9)
    model.save(tmp_path / "m")
    assert dasklr.load_model(tmp_path / "m").training_data_["rows_dropped"] == 6


def write_fixed_size(path, X, y):
    """Plain, uncompressed, no statistics: the file's size depends only on its shape, so
    other values of the same shape give a file of exactly the same size."""
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])} | {"y": y}
    pq.write_table(
        pa.table(columns),
        path,
        row_group_size=250,
        compression="none",
        use_dictionary=False,
        write_statistics=False,
    )


def test_a_file_rewritten_during_a_fit_is_named_not_mixed_in(client, tmp_path):
    """The same rows, other values, the same size, while cache="none" reads every pass:
    the next read of that file fails naming it; no model comes out of mixed data."""
    X, y, _, _ = make_classification(2000, 3, seed=4)
    for k in range(2):
        write_fixed_size(tmp_path / f"part-{k}.parquet", X[k::2], y[k::2])
    victim = tmp_path / "part-1.parquet"
    size = victim.stat().st_size

    def rewrite_after_the_first_pass(record):
        if record.iteration == 1:
            write_fixed_size(victim, -X[1::2], y[1::2])
            assert victim.stat().st_size == size  # only the version tells it apart

    model = dasklr.LogisticRegression(alpha=1e-3, cache="none", solver="lbfgs", client=client)
    with pytest.raises(dasklr.DataError, match=r"part-1\.parquet changed while training"):
        model.fit(
            dasklr.read_parquet(str(tmp_path), label="y"), callbacks=[rewrite_after_the_first_pass]
        )
    assert not hasattr(model, "coef_")


def test_a_flipped_byte_in_a_checksummed_page_is_caught(client, tmp_path):
    """Parquet page checksums (which dasklr writes in its own files) are verified on read."""
    X, y, _, _ = make_classification(4000, 3, seed=5)
    write_parquet_dataset(tmp_path, X, y)
    path = next(tmp_path.glob("*.parquet"))
    column = pq.ParquetFile(path).metadata.row_group(0).column(1)
    assert column.compression == "SNAPPY"
    data = bytearray(path.read_bytes())
    middle = column.data_page_offset + column.total_compressed_size // 2
    data[middle] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(dasklr.DataError, match=r"part-00000\.parquet.*(CRC|checksum)"):
        dasklr.LogisticRegression(cache="none", client=client).fit(
            dasklr.read_parquet(str(tmp_path), label="y")
        )


def dasklr_keys_on_workers(client) -> int:
    held = client.run(lambda dask_worker: [str(key) for key in dask_worker.data])
    return sum("dasklr" in key for keys in held.values() for key in keys)


@pytest.mark.parametrize("cache", ["none", "memory", "disk"])
def test_after_a_failed_fit_the_session_is_clean_and_a_refit_works(client, tmp_path, cache):
    """A NaN in the third of 30 files fails the fit; then nothing of it is left (futures,
    chunks on the workers, cache files, even from chunk tasks still running at the
    failure), and once the file is repaired — keeping its size and modification time, as
    a restore from backup may — the same session fits it."""
    X, y, _, _ = make_classification(6000, 3, seed=6)
    data, cache_dir = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache_dir.mkdir()
    parts = np.array_split(np.arange(6000), 30)
    for k, rows in enumerate(parts):
        write_fixed_size(data / f"part-{k:02d}.parquet", X[rows], y[rows])
    victim = data / "part-02.parquet"
    broken = X[parts[2]].copy()
    broken[5, 1] = np.nan
    write_fixed_size(victim, broken, y[parts[2]])
    stamp = victim.stat()
    model = dasklr.LogisticRegression(
        alpha=1e-3, cache=cache, cache_dir=str(cache_dir), client=client
    )
    with pytest.raises(dasklr.DataError, match=r"'x1' holds nan in file .*part-02\.parquet"):
        model.fit(dasklr.read_parquet(str(data), label="y"))
    deadline = time.monotonic() + 10
    while dasklr_keys_on_workers(client) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dasklr_keys_on_workers(client) == 0
    assert not [f for f in client.futures if "dasklr" in str(f)]
    time.sleep(1.0)  # a chunk task that was still running would have written by now
    assert list(cache_dir.rglob("*.npy*")) == []

    write_fixed_size(victim, X[parts[2]], y[parts[2]])
    os.utime(victim, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    refit = dasklr.LogisticRegression(
        alpha=1e-3, cache=cache, cache_dir=str(cache_dir), client=client
    ).fit(dasklr.read_parquet(str(data), label="y"))
    reference = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(X, y)
    np.testing.assert_allclose(refit.coef_, reference.coef_, rtol=0, atol=1e-8)


def test_a_class_whose_rows_all_weigh_zero_is_named_as_such(client, tmp_path):
    X, y, _, _ = make_classification(400, 2, seed=7)
    weight = np.where(y == 0, 0.0, 1.0)  # both classes have rows; class 0 weighs nothing
    write_parquet_dataset(tmp_path, X, y, sample_weight=weight)
    with pytest.raises(dasklr.DataError, match=r"class 1.*all their rows have weight 0"):
        dasklr.LogisticRegression(client=client).fit(
            dasklr.read_parquet(str(tmp_path), label="y", weight="w")
        )
