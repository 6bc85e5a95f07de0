"""Property tests (hypothesis, a bounded number of examples each).

- The chunk kernel: for any finite data, weights and coefficients — margins up to 1e300
  included — its sums are finite, split chunks add up to the whole, and it agrees with a
  textbook row loop in long double.
- The Parquet checks: for random schemas and random bad values, `read_parquet` and the
  first pass either work or raise a `DataError` that names the file and the column —
  never another exception, never a silent success on bad data.
"""

import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dasklr
from dasklr.kernels.logistic import logistic_sums
from dasklr.passes.merge import merge_sums

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
huge = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)


@st.composite
def chunks(draw, max_rows=40, max_features=4):
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_features))
    X = draw(hnp.arrays(np.float64, (n, d), elements=finite))
    y = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0])))
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(0, 10, allow_nan=False)))
    coef = draw(hnp.arrays(np.float64, d, elements=st.one_of(finite, huge)))
    intercept = draw(st.one_of(finite, huge))
    return X, y, w, coef, intercept


def textbook(X, y, w, coef, intercept):
    """log(1 + e^z) − y·z and σ(z) − y, row by row, in long double (for moderate z)."""
    z = X.astype(np.longdouble) @ coef.astype(np.longdouble) + np.longdouble(intercept)
    loss = np.sum(w * (np.logaddexp(np.longdouble(0), z) - y * z))
    residual = w * (1 / (1 + np.exp(-z)) - y)
    return float(loss), (X.T.astype(np.longdouble) @ residual).astype(np.float64)


@settings(max_examples=60, deadline=None)
@given(chunks(), st.integers(1, 5))
def test_kernel_sums_are_finite_and_split_chunks_add_up(chunk, pieces):
    X, y, w, coef, intercept = chunk
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow is fine)
        whole = logistic_sums(X, y, w, coef, intercept, hessian=True)
        parts = [
            logistic_sums(X[rows], y[rows], w[rows], coef, intercept, hessian=True)
            for rows in np.array_split(np.arange(len(y)), pieces)
            if rows.size
        ]
    merged = merge_sums(*parts)
    assert np.isfinite(whole.loss) and np.all(np.isfinite(whole.grad_coef))
    assert np.all(np.isfinite(whole.hessian))
    scale = max(1.0, abs(whole.loss))
    assert merged.loss == pytest.approx(whole.loss, rel=1e-9, abs=1e-9 * scale)
    np.testing.assert_allclose(merged.grad_coef, whole.grad_coef, rtol=1e-9, atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(chunks())
def test_kernel_matches_a_long_double_row_loop_at_moderate_margins(chunk):
    X, y, w, coef, intercept = chunk
    coef = np.clip(coef, -1.0, 1.0)  # margins within ±5e3: long double exp stays finite
    intercept = float(np.clip(intercept, -10.0, 10.0))
    sums = logistic_sums(X, y, w, coef, intercept)
    loss, grad = textbook(X, y, w, coef, intercept)
    # float64 against long double: the loss is a sum of ≤ 40 terms up to ~1e4 each
    assert sums.loss == pytest.approx(loss, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(sums.grad_coef, grad, rtol=1e-9, atol=1e-6)


# -- the Parquet checks ---------------------------------------------------------------------

TYPES = {
    "float64": pa.float64(),
    "float32": pa.float32(),
    "int64": pa.int64(),
    "int8": pa.int8(),
    "bool": pa.bool_(),
    "string": pa.string(),
}
BAD = [None, float("nan"), float("inf"), float("-inf")]


def column(kind: str, values: np.ndarray, bad: dict[int, object]):
    items = []
    for i, v in enumerate(values):
        value = bad.get(i, v)
        if value is None:
            items.append(None)
        elif kind == "string":
            items.append(f"s{value}")
        elif kind == "bool":
            items.append(bool(value > 0) if value == value and abs(value) != np.inf else None)
        elif kind.startswith("int"):
            items.append(int(np.clip(value, -100, 100)) if np.isfinite(value) else None)
        else:
            items.append(float(value))
    return pa.array(items, type=TYPES[kind])


@st.composite
def datasets(draw):
    """Two files with a label y and two features, whose types and bad cells vary."""
    n = draw(st.integers(2, 30))
    files = []
    for _ in range(2):
        kinds = {name: draw(st.sampled_from(sorted(TYPES))) for name in ("a", "b")}
        bad = {
            name: draw(st.dictionaries(st.integers(0, n - 1), st.sampled_from(BAD), max_size=2))
            for name in ("a", "b")
        }
        labels = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
        missing = draw(st.sampled_from([None, None, None, "a", "y"]))
        files.append((kinds, bad, labels, missing))
    return n, files


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(datasets())
def test_parquet_checks_name_the_file_and_column(client, dataset):
    n, files = dataset
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (kinds, bad, labels, missing) in enumerate(files):
            table = {
                name: column(kinds[name], rng.normal(size=n), bad[name]) for name in ("a", "b")
            }
            table["y"] = pa.array(labels, pa.int8())
            if missing:
                del table[missing]
            paths.append(Path(folder) / f"part-{i}.parquet")
            pq.write_table(pa.table(table), paths[-1])
        expected_error = _expected_error(files)
        try:
            data = dasklr.read_parquet(folder, label="y", features=["a", "b"], classes=[0, 1])
            dasklr.LogisticRegression(alpha=1.0, max_iter=3, client=client).fit(data)
        except dasklr.DataError as exc:
            message = str(exc)
            assert expected_error, f"refused good data: {message}"
            if expected_error == "one class":  # the whole dataset is at fault, no one file
                assert "single class" in message, message
            else:
                assert re.search(r"part-[01]\.parquet", message), message
                assert re.search(r"'(a|b|y)'", message), message
        else:
            assert not expected_error, "bad data was accepted"


def _expected_error(files) -> str | None:
    """What dasklr must refuse in the data, if anything."""
    for kinds, _, _, missing in files:
        if missing is not None or any(kind == "string" for kind in kinds.values()):
            return "schema"
    if any(file[1][name] for file in files for name in ("a", "b")):
        return "value"
    all_labels = [label for file in files for label in file[2]]
    return "one class" if len(set(all_labels)) < 2 else None
