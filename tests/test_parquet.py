"""read_parquet on real Parquet files in tmp_path: layout, chunking, and every input error.

Schema errors are raised by ``read_parquet`` itself, before any pass; value errors (NaN,
inf, nulls, labels, weights) by the task that decodes a chunk, so they surface from the
first pass of ``fit``. Both name the column, and the file where the error is in a file.
"""

import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dasklr
from dasklr import DataError
from dasklr.data.synthetic import make_classification, write_parquet_dataset


def write(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def small_table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x0": rng.normal(size=n),
        "x1": rng.normal(size=n),
        "y": (rng.uniform(size=n) < 0.5).astype(np.int8),
        "w": rng.uniform(0.5, 2.0, size=n),
    }


def compute(client, data):
    X, y, w = data
    return client.compute([X, y, w], sync=True)


# -- layout and chunks -----------------------------------------------------------------


def test_arrays_unpack_and_carry_names(client, tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", t)
    data = dasklr.read_parquet(str(tmp_path), label="y", features=["x0", "x1"])
    X, y, w = data
    assert isinstance(data, tuple) and len(data) == 3
    assert data.feature_names == ("x0", "x1") and data.label == "y"
    assert w is None and data.sample_weight is None
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert X.shape == (40, 2) and y.shape == (40,)
    Xc, yc, _ = compute(client, data)
    # exact: float64 columns are copied, int8 labels convert exactly
    np.testing.assert_array_equal(Xc, np.column_stack([t["x0"], t["x1"]]))
    np.testing.assert_array_equal(yc, t["y"].astype(np.float64))


def test_weight_column_is_read(client, tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", t)
    data = dasklr.read_parquet(tmp_path / "a.parquet", label="y", weight="w")
    assert data.feature_names == ("x0", "x1")  # the weight column is not a feature
    _, _, w = compute(client, data)
    np.testing.assert_array_equal(w, t["w"])  # exact copy


def test_default_features_are_numeric_columns_in_schema_order(client, tmp_path):
    n = 6
    write(
        tmp_path / "a.parquet",
        {
            "b": np.arange(n, dtype=np.float32),
            "y": np.array([0, 1] * 3, dtype=np.int64),
            "a": np.arange(n, dtype=np.int32) * 10,
            "name": [f"row {i}" for i in range(n)],
            "w": np.ones(n),
            "c": np.array([True, False] * 3),
        },
    )
    with pytest.warns(dasklr.ColumnsLeftOutWarning, match=r"1 column\(s\).*'name' \(string in"):
        data = dasklr.read_parquet(str(tmp_path), label="y", weight="w")
    # every numeric/bool column but label and weight, as the schema orders them; strings named
    assert data.feature_names == ("b", "a", "c")
    X, _, _ = compute(client, data)
    assert X.dtype == np.float64
    expected = np.column_stack([np.arange(n), np.arange(n) * 10, [1, 0] * 3]).astype(np.float64)
    np.testing.assert_array_equal(X, expected)  # exact: small integers and bools


def test_explicit_feature_order_is_respected(client, tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", t)
    data = dasklr.read_parquet(str(tmp_path), label="y", features=["x1", "w", "x0"])
    assert data.feature_names == ("x1", "w", "x0")
    X, _, _ = compute(client, data)
    np.testing.assert_array_equal(X, np.column_stack([t["x1"], t["w"], t["x0"]]))


def test_chunks_follow_row_groups(tmp_path):
    # 3 features: a row decodes to 24–40 bytes (features, label, maybe weight), so a
    # 100-row group is 2.4–4 KB; chunk_bytes=9000 groups 2 (≤ 8 KB) but never 3 (≥ 9.6 KB).
    X = np.zeros((550, 3))
    y = np.zeros(550)
    write_parquet_dataset(tmp_path / "one", X, y, row_group_rows=100)  # groups 100×5 + 50
    data = dasklr.read_parquet(str(tmp_path / "one"), label="y", chunk_bytes=9000)
    assert data.X.chunks == ((200, 200, 150), (3,))
    assert data.y.chunks == ((200, 200, 150),)
    # a tiny chunk_bytes: one chunk per row group
    data = dasklr.read_parquet(str(tmp_path / "one"), label="y", chunk_bytes=1)
    assert data.X.chunks[0] == (100, 100, 100, 100, 100, 50)
    # row groups never join another file's: 2 files of 275 rows in groups of 100
    write_parquet_dataset(tmp_path / "two", X, y, n_files=2, row_group_rows=100)
    data = dasklr.read_parquet(str(tmp_path / "two"), label="y", chunk_bytes=9000)
    assert data.X.chunks[0] == (200, 75, 200, 75)
    assert [f.row_group_rows for f in data.files] == [(100, 100, 75), (100, 100, 75)]
    # ... but whole small files are read together (up to 8 MiB by default)
    assert dasklr.read_parquet(str(tmp_path / "two"), label="y").X.chunks[0] == (550,)


def test_consecutive_small_files_share_a_chunk_up_to_the_budget(client, tmp_path):
    """Files of 40 rows (1600 bytes decoded: 3 features, the label, the weight) are
    grouped into chunks of at most chunk_bytes; a file larger than that keeps chunks of
    its own (its row groups) and ends a group. The values are those of the files, in
    order, and a bad value is named by its own file."""
    X, y, _, _ = make_classification(400, 3, seed=5)
    w = np.random.default_rng(5).uniform(0.5, 2.0, size=400)
    sizes = [40] * 5 + [200]
    paths, start = [], 0
    for i, rows in enumerate(sizes):
        part = slice(start, start + rows)
        table = {"x0": X[part, 0], "x1": X[part, 1], "x2": X[part, 2], "y": y[part], "w": w[part]}
        paths.append(tmp_path / f"part-{i:02d}.parquet")
        write(paths[-1], table, row_group_size=100)
        start += rows
    # groups of at most 5000 bytes: 3 files (4800 bytes), not 4 (6400); the last file
    # (8000 bytes) in its two row groups of 100 rows
    data = dasklr.read_parquet(tmp_path, label="y", weight="w", chunk_bytes=5000)
    assert data.X.chunks[0] == (120, 80, 100, 100)
    assert [len(spec.parts) for spec in data.chunk_specs] == [3, 2, 1, 1]
    Xd, yd, wd = compute(client, data)
    np.testing.assert_array_equal(Xd, X)
    np.testing.assert_array_equal(yd, y)
    np.testing.assert_array_equal(wd, w)
    # a NaN in the second file of the first group: the error names that file
    bad = {"x0": X[40:80, 0].copy(), "x1": X[40:80, 1], "x2": X[40:80, 2], "y": y[40:80]}
    bad["x0"][7] = np.nan
    write(paths[1], {**bad, "w": w[40:80]})
    with pytest.raises(DataError, match=r"'x0' holds nan in file \S+part-01\.parquet, row"):
        compute(client, dasklr.read_parquet(tmp_path, label="y", weight="w"))


def test_empty_row_groups_and_files_add_nothing(client, tmp_path):
    t = small_table(n=10)
    schema = pa.table(t).schema
    with pq.ParquetWriter(tmp_path / "a.parquet", schema) as writer:
        writer.write_table(pa.table(t).slice(0, 4))
        writer.write_table(pa.table(t).slice(0, 0))  # an empty row group
        writer.write_table(pa.table(t).slice(4, 6))
    pq.write_table(pa.table(t).slice(0, 0), tmp_path / "b.parquet")  # an empty file
    data = dasklr.read_parquet(str(tmp_path), label="y", chunk_bytes=1)
    assert data.X.chunks[0] == (4, 6)
    X, y, _ = compute(client, data)
    np.testing.assert_array_equal(X[:, 0], t["x0"])
    np.testing.assert_array_equal(y, t["y"])


def test_directory_glob_list_and_hive_folders_read_the_same_rows(client, tmp_path):
    X, y, _, _ = make_classification(90, 2, seed=1)
    root = tmp_path / "data"
    for part, rows in enumerate([slice(0, 30), slice(30, 60), slice(60, 90)]):
        write(
            root / f"part={part}" / "chunk.parquet",
            {"x0": X[rows, 0], "x1": X[rows, 1], "y": y[rows]},
            row_group_size=7,
        )
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    inputs = {
        "directory": str(root),
        "directory with slash": str(root) + "/",
        "glob": str(root / "part=*" / "*.parquet"),
        "list (reversed)": files[::-1],
        "Path": root,
        "fsspec URL": "file://" + str(root),
    }
    for what, path in inputs.items():
        data = dasklr.read_parquet(path, label="y")
        got_X, got_y, _ = compute(client, data)
        # exact: the same float64 values in the same (sorted-path) order
        np.testing.assert_array_equal(got_X, X, err_msg=what)
        np.testing.assert_array_equal(got_y, y.astype(np.float64), err_msg=what)
        assert [f.path for f in data.files] == files, what


def test_markers_hidden_and_crc_files_are_skipped(client, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))  # standard normal features: GD reaches tol 1e-10 quickly
    y = (rng.uniform(size=200) < 1.0 / (1.0 + np.exp(-X @ [1.0, -1.0, 0.5]))).astype(np.int8)
    write_parquet_dataset(tmp_path / "clean", X, y, n_files=2, row_group_rows=50)
    shutil.copytree(tmp_path / "clean", tmp_path / "messy")
    messy = tmp_path / "messy"
    (messy / "_SUCCESS").write_bytes(b"")
    (messy / ".part-00000.parquet.crc").write_bytes(b"\x00crc")
    (messy / "part-00000.parquet.crc").write_bytes(b"\x00crc")
    (messy / ".hidden.parquet").write_bytes(b"not parquet")
    (messy / "_temporary").mkdir()
    (messy / "_temporary" / "part-9.parquet").write_bytes(b"half written")
    (messy / ".spark-staging").mkdir()
    (messy / ".spark-staging" / "x.parquet").write_bytes(b"junk")
    data = dasklr.read_parquet(str(messy), label="y")
    assert [Path(f.path).name for f in data.files] == ["part-00000.parquet", "part-00001.parquet"]
    for pattern in ("*", "*.parquet"):  # a glob skips the same markers as a folder
        globbed = dasklr.read_parquet(str(messy / pattern), label="y")
        assert [f.path for f in globbed.files] == [f.path for f in data.files], pattern
    # a fit on the messy folder gives the clean folder's model: same files, same chunks
    # (equal up to rounding: see the kernel alignment bug in test_kernels.py);
    # both at max|∇F| ≤ 1e-10 with curvature ≥ alpha = 0.1, so within 1e-8
    clean = dasklr.LogisticRegression(alpha=0.1, tol=1e-10, max_iter=300, client=client)
    clean.fit(dasklr.read_parquet(str(tmp_path / "clean"), label="y"))
    model = dasklr.LogisticRegression(alpha=0.1, tol=1e-10, max_iter=300, client=client).fit(data)
    assert model.converged_
    np.testing.assert_allclose(model.coef_, clean.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, clean.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("order", ["odd-file-first", "odd-file-last"])
def test_default_features_do_not_depend_on_which_file_comes_first(client, tmp_path, order):
    """One file holds an extra column, a decimal and a timestamp that the other files hold
    as numbers or lack: whichever file sorts first, the features are the columns numeric
    in every file, and every column left out is named in one warning."""
    n = 4
    plain = {"x0": np.arange(n, dtype=np.float64), "x1": np.ones(n), "y": np.array([0, 1] * 2)}
    odd = pa.table(
        {
            **plain,
            "amount": pa.array([1, 2, 3, 4], type=pa.decimal128(10, 2)),
            "when": pa.array(np.arange(n).astype("datetime64[s]")),
            "extra": np.arange(n, dtype=np.float64),
        }
    )
    first, last = ("a", "b") if order == "odd-file-first" else ("b", "a")
    pq.write_table(odd, tmp_path / f"{first}.parquet")
    write(tmp_path / f"{last}.parquet", {**plain, "amount": np.ones(n), "when": np.ones(n)})
    with pytest.warns(dasklr.ColumnsLeftOutWarning) as caught:
        data = dasklr.read_parquet(tmp_path, label="y")
    assert data.feature_names == ("x0", "x1")
    [warning] = caught
    message = str(warning.message)
    assert "3 column(s)" in message
    assert re.search(r"'amount' \(decimal128\(10, 2\) in \S+\.parquet\)", message)
    assert re.search(r"'when' \(timestamp\[\w+\] in \S+\.parquet\)", message)
    assert re.search(r"'extra' \(missing from \S+\.parquet\)", message)
    X, _, _ = compute(client, data)
    np.testing.assert_array_equal(X, np.tile(np.column_stack([plain["x0"], plain["x1"]]), (2, 1)))


def test_bool_label_column(client, tmp_path):
    X, y, _, _ = make_classification(300, 2, seed=3)
    write(tmp_path / "a.parquet", {"x0": X[:, 0], "x1": X[:, 1], "y": y.astype(bool)})
    data = dasklr.read_parquet(str(tmp_path), label="y")
    assert data.feature_names == ("x0", "x1")
    _, got_y, _ = compute(client, data)
    np.testing.assert_array_equal(got_y, y.astype(np.float64))  # True → 1.0, exactly
    model = dasklr.LogisticRegression(alpha=0.01, tol=1e-8, max_iter=300, client=client).fit(data)
    assert model.converged_
    # at the optimum with an intercept, Σσ(z) = Σy; tolerance: |∂F/∂b| ≤ tol = 1e-8 → n·1e-8
    p = model.predict_proba(X)[:, 1]
    assert abs(p.sum() - y.sum()) <= 300 * 1e-8


# -- schema errors: raised by read_parquet, before any pass ----------------------------


def test_label_missing_from_one_file(tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", t)
    write(tmp_path / "b.parquet", {k: v for k, v in t.items() if k != "y"})
    with pytest.raises(DataError, match=r"b\.parquet: column 'y' is missing"):
        dasklr.read_parquet(str(tmp_path), label="y")


def test_feature_missing(tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", t)
    write(tmp_path / "b.parquet", {k: v for k, v in t.items() if k != "x1"})
    with pytest.raises(DataError, match=r"a\.parquet: column 'x7' is missing"):
        dasklr.read_parquet(str(tmp_path), label="y", features=["x0", "x7"])
    # by default, a column missing from some file is not a feature, and is named
    with pytest.warns(dasklr.ColumnsLeftOutWarning, match=r"'x1' \(missing from \S+b\.parquet\)"):
        data = dasklr.read_parquet(str(tmp_path), label="y")
    assert data.feature_names == ("x0", "w")


def test_weight_missing(tmp_path):
    write(tmp_path / "a.parquet", {k: v for k, v in small_table().items() if k != "w"})
    with pytest.raises(DataError, match=r"a\.parquet: column 'w' is missing"):
        dasklr.read_parquet(str(tmp_path), label="y", weight="w")


def test_string_feature_column(tmp_path):
    t = small_table()
    t["city"] = ["Oslo"] * 40
    write(tmp_path / "a.parquet", t)
    with pytest.raises(DataError, match=r"a\.parquet: column 'city' has type string"):
        dasklr.read_parquet(str(tmp_path), label="y", features=["x0", "city"])


def test_string_labels_become_sorted_classes_across_files(client, tmp_path):
    t = small_table()
    labels = np.array(["yes", "no", "maybe", "no"] * 10)
    first, second = dict(t, y=labels), dict(t, y=pa.array(labels[::-1]).dictionary_encode())
    write(tmp_path / "a.parquet", {k: v[:20] for k, v in first.items()})
    write(tmp_path / "b.parquet", {k: v[20:] for k, v in second.items()})
    data = dasklr.read_parquet(str(tmp_path), label="y", features=["x0"])
    assert data.classes.tolist() == ["maybe", "no", "yes"]
    _, yc, _ = compute(client, data)
    expected = np.concatenate([labels[:20], labels[::-1][20:]])
    np.testing.assert_array_equal(data.classes[yc.astype(int)], expected)


def test_label_errors_name_the_file(client, tmp_path):
    t = small_table()
    write(tmp_path / "a.parquet", dict(t, y=np.linspace(0, 1, 40)))
    with pytest.raises(DataError, match=r"'y' in file .*a\.parquet holds 0\.0256.*right column"):
        dasklr.read_parquet(str(tmp_path), label="y")
    write(tmp_path / "a.parquet", dict(t, y=pa.array([[1]] * 40)))
    with pytest.raises(DataError, match=r"a\.parquet: label column 'y' has type list"):
        dasklr.read_parquet(str(tmp_path), label="y")
    write(tmp_path / "a.parquet", t)
    write(tmp_path / "b.parquet", dict(t, y=["a"] * 40))
    with pytest.raises(DataError, match=r"numbers in .*a\.parquet but strings in .*b\.parquet"):
        dasklr.read_parquet(str(tmp_path), label="y")
    (tmp_path / "b.parquet").unlink()
    write(tmp_path / "b.parquet", dict(t, y=np.full(40, 7, dtype=np.int8)))
    data = dasklr.read_parquet(str(tmp_path), label="y", classes=[0, 1])  # no scan: no 7
    with pytest.raises(
        DataError, match=r"holds 7, which is not one of the classes \[0, 1\].*b\.parq"
    ):
        compute(client, data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": []}, "features is an empty list"),
        ({"features": ["x0", "x1", "x0"]}, r"more than once: \['x0'\]"),
        ({"features": ["x0", "y"]}, "column 'y' cannot be both a feature and label"),
        ({"weight": "y"}, "weight column 'y' is also the label column"),
    ],
)
def test_inconsistent_column_choices(tmp_path, kwargs, message):
    write(tmp_path / "a.parquet", small_table())
    with pytest.raises(DataError, match=message):
        dasklr.read_parquet(str(tmp_path), label="y", **kwargs)


def test_no_numeric_features(tmp_path):
    write(tmp_path / "a.parquet", {"name": ["a", "b"], "y": [0, 1]})
    with pytest.raises(DataError, match="no numeric feature columns besides 'y'"):
        dasklr.read_parquet(str(tmp_path), label="y")


def test_path_matching_no_files(tmp_path):
    write(tmp_path / "a.parquet", small_table())
    with pytest.raises(DataError, match="matches no data files"):
        dasklr.read_parquet(str(tmp_path / "*.csv"), label="y")
    with pytest.raises(DataError, match="no such file or directory"):
        dasklr.read_parquet(str(tmp_path / "missing"), label="y")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_bytes(b"")
    with pytest.raises(DataError, match="matches no data files"):
        dasklr.read_parquet(str(tmp_path / "empty"), label="y")
    with pytest.raises(DataError, match="no input path given"):
        dasklr.read_parquet([], label="y")


def test_non_parquet_file_named_parquet(tmp_path):
    write(tmp_path / "a.parquet", small_table())
    (tmp_path / "b.parquet").write_text("x0,x1,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"b\.parquet: not a readable Parquet file"):
        dasklr.read_parquet(str(tmp_path), label="y")


def test_zero_row_dataset(tmp_path):
    t = pa.table(small_table())
    pq.write_table(t.slice(0, 0), tmp_path / "a.parquet")
    pq.write_table(t.slice(0, 0), tmp_path / "b.parquet")
    with pytest.raises(DataError, match="hold no rows"):
        dasklr.read_parquet(str(tmp_path), label="y")


# -- value errors: raised by the first pass of fit, naming file and column -------------


def bad_values(column, index, value):
    t = small_table()
    values = t[column].astype(np.float64)
    values[index] = value
    t[column] = values
    return t


@pytest.mark.parametrize(
    ("column", "value", "weighted", "message"),
    [
        ("x1", np.nan, False, "feature column 'x1' holds nan"),
        ("x1", np.inf, False, "feature column 'x1' holds inf"),
        ("x0", -np.inf, False, "feature column 'x0' holds -inf"),
        # with classes given, read_parquet does not scan the labels: the pass finds them
        ("y", 2.0, False, "label column 'y' holds 2.0, which is not one of the classes [0, 1],"),
        ("y", 0.5, False, "label column 'y' holds 0.5, which is not one of the classes [0, 1],"),
        ("w", -1.0, True, "weight column 'w' must hold finite non-negative values; found -1.0"),
        ("w", np.nan, True, "weight column 'w' must hold finite non-negative values; found nan"),
    ],
)
def test_bad_values_fail_the_first_pass(client, tmp_path, column, value, weighted, message):
    write(tmp_path / "a.parquet", small_table(seed=1), row_group_size=10)
    write(tmp_path / "b.parquet", bad_values(column, 25, value), row_group_size=10)
    data = dasklr.read_parquet(
        str(tmp_path), label="y", weight="w" if weighted else None, classes=[0, 1]
    )
    model = dasklr.LogisticRegression(client=client)
    expected = re.escape(message) + r" in file .*b\.parquet, row groups \[0, 1, 2, 3\]"
    iterations = []  # the driver calls callbacks after each iteration, from iteration 0 on
    with pytest.raises(DataError, match=expected):
        model.fit(data, callbacks=[iterations.append])
    assert iterations == []  # so the error came from the first pass, before iteration 0
    assert not hasattr(model, "coef_")


def test_null_feature_fails_the_first_pass(client, tmp_path):
    t = small_table()
    t["x1"] = pa.array([None if i == 3 else float(i) for i in range(40)])
    write(tmp_path / "a.parquet", small_table(seed=1))
    write(tmp_path / "b.parquet", t, row_group_size=40)
    data = dasklr.read_parquet(str(tmp_path), label="y")
    with pytest.raises(DataError, match=r"column 'x1' has 1 null values in file .*b\.parquet"):
        dasklr.LogisticRegression(client=client).fit(data)


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param([[0, 1], [1, 1], [0, 0]], id="binary-from-statistics"),
        pytest.param([[0, 2], [2, 2]], id="gap-of-two-read"),
        pytest.param([[3, 4], [5, 6]], id="four-classes-in-pairs"),
        pytest.param([[True, False], [True, True]], id="bools"),
        pytest.param([[0.0, 1.0], [1.0, 1.0]], id="floats-read"),
    ],
)
def test_classes_from_footer_statistics_equal_the_labels_read(client, tmp_path, labels):
    """Integer and bool labels whose row groups span at most two neighbouring values are
    settled from the footers' min/max statistics (no read of the column); the classes are
    the distinct labels, with the column's type, whatever the route."""
    for i, values in enumerate(labels):
        write(
            tmp_path / f"part-{i}.parquet",
            {"x": np.arange(len(values), dtype=np.float64), "y": np.array(values)},
            row_group_size=1,
        )
    data = dasklr.read_parquet(tmp_path, label="y")
    expected = np.unique(np.concatenate([np.array(v) for v in labels]))
    np.testing.assert_array_equal(data.classes, expected)
    assert data.classes.dtype == expected.dtype
    _, y, _ = compute(client, data)
    np.testing.assert_array_equal(data.classes[y.astype(int)], np.concatenate(labels))


def test_integer_keys_and_excluded_columns_are_not_default_features(client, tmp_path):
    """An integer column named like a row key (id, *_id, key) is named and left out; a
    float column so named, or one named in features, is used; exclude leaves columns out
    without a warning; a mistyped name gets a suggestion."""
    n = 6
    write(
        tmp_path / "a.parquet",
        {
            "id": np.arange(n, dtype=np.int64),
            "customer_id": np.arange(n, dtype=np.int32) + 100,
            "score_id": np.linspace(0, 1, n),  # a float: not a key
            "x": np.arange(n, dtype=np.float64),
            "segment": np.arange(n, dtype=np.int16) % 3,
            "y": np.array([0, 1] * 3),
        },
    )
    with pytest.warns(dasklr.ColumnsLeftOutWarning, match="'id' \\(an integer key, by its name\\)"):
        data = dasklr.read_parquet(tmp_path, label="y")
    assert data.feature_names == ("score_id", "x", "segment")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = dasklr.read_parquet(tmp_path, label="y", exclude=["id", "customer_id", "segment"])
    assert data.feature_names == ("score_id", "x")
    named = dasklr.read_parquet(tmp_path, label="y", features=["id", "x"])
    assert named.feature_names == ("id", "x")
    with pytest.raises(
        DataError, match="exclude names 'segmnt', which no file has; did you mean 'segment'"
    ):
        dasklr.read_parquet(tmp_path, label="y", exclude=["segmnt"])
    with pytest.raises(DataError, match="column 'sgment' is missing; did you mean 'segment'"):
        dasklr.read_parquet(tmp_path, label="y", features=["sgment"])


def test_numeric_hive_partition_keys_are_features(client, tmp_path):
    """Rows under region=…/date=… folders: partition keys are not default features (they
    are layout), but the integer key region can be named as one (its value in every row
    of the folder), and the text key date cannot; the fit equals scikit-learn's on the
    same rows with region as a column."""
    from sklearn.linear_model import LogisticRegression as ScikitLogisticRegression

    X, _, _, _ = make_classification(3000, 2, seed=51)
    region = np.repeat([1, 2, 3], 1000)
    z = X @ [1.0, -0.5] + 0.7 * region - 1.4
    y = (np.random.default_rng(51).random(3000) < 1 / (1 + np.exp(-z))).astype(int)
    for r in (1, 2, 3):
        folder = tmp_path / f"region={r}" / "date=2026-12-01"
        folder.mkdir(parents=True)
        rows = region == r
        write(folder / "part-0.parquet", {"x0": X[rows, 0], "x1": X[rows, 1], "y": y[rows]})
    assert dasklr.read_parquet(tmp_path, label="y").feature_names == ("x0", "x1")
    with pytest.raises(DataError, match="column 'date' has type string; expected numeric"):
        dasklr.read_parquet(tmp_path, label="y", features=["x0", "date"])
    data = dasklr.read_parquet(tmp_path, label="y", features=["x0", "x1", "region"])
    Xd, yd, _ = compute(client, data)
    np.testing.assert_array_equal(Xd, np.column_stack([X, region]))
    np.testing.assert_array_equal(yd, y)
    alpha = 1e-3
    model = dasklr.LogisticRegression(alpha=alpha, tol=1e-10, client=client).fit(data)
    reference = ScikitLogisticRegression(C=1 / (alpha * 3000), tol=1e-12, max_iter=10_000)
    reference.fit(np.column_stack([X, region]), y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-6)
    named = dasklr.read_parquet(tmp_path, label="y", features=["region", "x1"])
    np.testing.assert_array_equal(compute(client, named)[0], np.column_stack([region, X[:, 1]]))
