"""Small in-memory data is fitted in this process, with no cluster started, and gives the
bits a cluster gives (``dasklr.passes.in_process``)."""

import dask.array as da
import numpy as np
import psutil
import pytest
from distributed import get_task_stream

import dasklr
from dasklr.data.synthetic import make_classification
from dasklr.passes.in_process import IN_PROCESS_BYTES, fits_in_process


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = make_classification(3000, 4, seed=31)
    w = np.random.default_rng(31).uniform(0.5, 2.0, size=len(y))
    return X, y, w


def child_processes() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def same_bits(a, b) -> None:
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert [h["objective"] for h in a.history_] == [h["objective"] for h in b.history_]
    assert a.n_passes_ == b.n_passes_


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "newton", "alpha": 1e-3},
        {"solver": "lbfgs", "alpha": 1e-3},
        {"solver": "gd", "alpha": 1e-2, "max_iter": 50, "tol": 1e-4},
        {"solver": "newton", "alpha": 1e-2, "l1_ratio": 0.5},
        {"solver": "lbfgs", "alpha": 1e-3, "standardize": True},
    ],
)
def test_a_small_fit_starts_no_cluster_and_equals_the_cluster_fit(client, data, params):
    X, y, w = data
    before = child_processes()
    params = {"tol": 1e-9, **params}
    here = dasklr.LogisticRegression(**params).fit(X, y, w)
    assert child_processes() == before  # no worker process was started
    there = dasklr.LogisticRegression(**params, client=client)
    same_bits(here, there.fit(X, y, w))


def test_multinomial_cross_validation_and_statistics_in_process(client, data):
    X, y, w = data
    classes = np.digitize(X[:, 1], [-0.5, 0.5])  # three classes
    before = child_processes()
    here = dasklr.LogisticRegression(alpha=1e-3, tol=1e-9).fit(X, classes)
    grid = dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2], cv=3, tol=1e-9).fit(X, y, w)
    binary = dasklr.LogisticRegression(alpha=1e-3, tol=1e-9).fit(X, y)
    robust = binary.summary(cov_type="HC0")
    assert child_processes() == before
    same_bits(here, dasklr.LogisticRegression(alpha=1e-3, tol=1e-9, client=client).fit(X, classes))
    there = dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2], cv=3, tol=1e-9, client=client)
    there.fit(X, y, w)
    same_bits(grid, there)
    np.testing.assert_array_equal(grid.scores_, there.scores_)
    on_cluster = dasklr.LogisticRegression(alpha=1e-3, tol=1e-9, client=client).fit(X, y)
    np.testing.assert_array_equal(robust.std_errors, on_cluster.summary(cov_type="HC0").std_errors)


def test_a_current_client_is_used_and_large_or_lazy_input_is_not_in_process(client, data):
    X, y, _ = data
    with client.as_current(), get_task_stream(client) as stream:
        dasklr.LogisticRegression(alpha=1e-3).fit(X, y)
    assert any("dasklr-partial" in str(task["key"]) for task in stream.data)
    large = np.broadcast_to(np.zeros(1), (IN_PROCESS_BYTES // 8 + 1, 1))  # no memory taken
    assert not fits_in_process(large)
    assert fits_in_process(X, y, None) and fits_in_process(X.tolist(), list(y))
    assert not fits_in_process(da.from_array(X), y)
