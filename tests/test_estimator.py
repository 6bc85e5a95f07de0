"""LogisticRegression: the scikit-learn contract, fitted attributes, predictions, training.

Training runs on the session LocalCluster (``client`` fixture, not the default client),
and once on the embedded cluster that ``fit`` starts when no client exists.
"""

import gc
import itertools
import math
import re

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from distributed import default_client
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import dasklr
from dasklr import ConvergenceWarning, DataError
from dasklr.data.synthetic import write_parquet_dataset

PARAMS = [
    "alpha",
    "l1_ratio",
    "fit_intercept",
    "solver",
    "tol",
    "max_iter",
    "split_every",
    "warm_start",
    "standardize",
    "class_weight",
    "cache",
    "cache_dir",
    "retries",
    "worker_timeout",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "penalty_factor",
    "prior_model",
    "prior_strength",
    "bounds",
    "offset",
    "client",
    "verbose",
]
HISTORY_KEYS = {
    "iteration",
    "objective",
    "grad_norm",
    "step",
    "seconds",
    "passes",
    "validation_loss",  # None without early stopping
}


def make_data(n=600, d=3, seed=0):
    """Standard normal features and labels from a known logistic model: well conditioned,
    so gradient descent converges in a few dozen passes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    z = X @ np.linspace(1.0, -1.0, d) + 0.3
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return X, y


@pytest.fixture(scope="module")
def fitted(client):
    X, y = make_data()
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-8, max_iter=300, client=client).fit(X, y)
    return model, X, y


# -- the scikit-learn contract ---------------------------------------------------------


def test_get_and_set_params():
    model = dasklr.LogisticRegression(alpha=0.5, max_iter=7)
    params = model.get_params()
    assert list(params) == PARAMS
    assert params["alpha"] == 0.5 and params["max_iter"] == 7 and params["client"] is None
    assert model.get_params(deep=False) == params
    assert model.set_params(tol=1e-3, fit_intercept=False) is model
    assert (model.tol, model.fit_intercept) == (1e-3, False)
    with pytest.raises(ValueError, match="invalid parameter 'C'"):
        model.set_params(C=1.0)
    assert (
        repr(model) == "LogisticRegression(alpha=0.5, fit_intercept=False, tol=0.001, max_iter=7)"
    )


def test_init_only_stores_parameters():
    # no validation in __init__ (scikit-learn contract): bad values fail at fit
    model = dasklr.LogisticRegression(alpha=-1.0, solver="nope")
    assert (model.alpha, model.solver) == (-1.0, "nope")
    assert not hasattr(model, "coef_")


def test_clone_gives_an_unfitted_copy_with_equal_params(client):
    X, y = make_data(n=100)
    model = dasklr.LogisticRegression(alpha=0.3, tol=1e-5, max_iter=50, client=client).fit(X, y)
    model.set_params(client=None)  # a Client cannot be cloned yet: test_clone_keeps_the_client
    copy = clone(model)
    assert type(copy) is dasklr.LogisticRegression and copy is not model
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coef_") and not hasattr(copy, "history_")
    assert hasattr(model, "coef_")  # the original stays fitted


def test_clone_keeps_the_client(client):
    model = dasklr.LogisticRegression(alpha=0.1, client=client)
    try:
        copy, error = clone(model), None
    except TypeError as exc:  # "cannot pickle '_asyncio.Task' object"
        copy, error = None, str(exc)
    gc.collect()  # collect the half-built copy here, not in whichever test runs next
    assert error is None, error
    assert copy.client is client and copy.get_params()["alpha"] == 0.1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": -0.1}, "alpha must be a number >= 0"),
        ({"alpha": "1"}, "alpha must be a number >= 0"),
        ({"l1_ratio": 1.5}, r"l1_ratio must be in \[0, 1\]"),
        ({"solver": "newton-cg"}, "solver must be one of"),
        ({"tol": 0.0}, "tol must be a number > 0"),
        ({"max_iter": -1}, "max_iter must be an integer >= 0"),
        ({"max_iter": 10.5}, "max_iter must be an integer >= 0"),
        ({"split_every": 1}, "split_every must be an integer >= 2"),
    ],
)
def test_invalid_params_raise_value_error(client, params, message):
    X, y = make_data(n=20)
    model = dasklr.LogisticRegression(client=client, **params)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("solver", ["gd"])
def test_l1_ratio_is_refused_by_gradient_descent(client, solver):
    X, y = make_data(n=20)
    with pytest.raises(NotImplementedError, match="l1_ratio"):
        dasklr.LogisticRegression(alpha=0.1, l1_ratio=0.5, solver=solver, client=client).fit(X, y)


# -- fitted attributes -----------------------------------------------------------------


def check_history(model):
    history = model.history_
    assert [h["iteration"] for h in history] == list(range(model.n_iter_ + 1))
    assert all(set(h) == HISTORY_KEYS for h in history)
    objectives = [h["objective"] for h in history]
    passes = [h["passes"] for h in history]
    seconds = [h["seconds"] for h in history]
    # Armijo steps only: the objective never goes up; passes and time never go back
    assert all(b <= a for a, b in itertools.pairwise(objectives))
    assert all(b >= a for a, b in itertools.pairwise(passes))
    assert all(b >= a for a, b in itertools.pairwise(seconds))
    assert passes[0] == 1 and passes[-1] == model.n_passes_
    assert history[0]["step"] == 0.0 and all(h["step"] > 0 for h in history[1:])
    if model.converged_:
        assert history[-1]["grad_norm"] <= model.tol


def test_fitted_attributes_on_numpy(fitted):
    model, X, y = fitted
    assert model.coef_.shape == (1, 3) and model.coef_.dtype == np.float64
    assert model.intercept_.shape == (1,)
    assert model.classes_.tolist() == [0, 1]
    assert model.n_features_in_ == 3
    assert not hasattr(model, "feature_names_in_")  # arrays carry no names
    assert model.converged_ and isinstance(model.n_iter_, int) and model.n_iter_ > 0
    check_history(model)
    # iteration 0 is the log-odds start θ = 0, b = log(ȳ/(1 − ȳ)): F is the entropy of
    # the label mean, −ȳ·log ȳ − (1 − ȳ)·log(1 − ȳ), and ∇F = mean((ȳ − y)·[x, 1]), whose
    # intercept entry is 0 (rtol 1e-12: means over 600 rows)
    first = model.history_[0]
    p = y.mean()
    assert first["objective"] == pytest.approx(
        -p * math.log(p) - (1 - p) * math.log(1 - p), rel=1e-12
    )
    grad0 = ((p - y) @ X) / len(y)
    assert first["grad_norm"] == pytest.approx(np.max(np.abs(grad0)), rel=1e-12)


@pytest.fixture(scope="module")
def fitted_on_parquet(client, tmp_path_factory):
    X, y = make_data(n=400, d=2, seed=1)
    path = tmp_path_factory.mktemp("fitted")
    write_parquet_dataset(path, X, y, n_files=2, row_group_rows=100)
    data = dasklr.read_parquet(str(path), label="y")
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-8, max_iter=300, client=client).fit(data)
    accuracy = np.mean((X @ model.coef_[0] + model.intercept_[0] > 0) == y)
    return model, data, accuracy, client


def test_fitted_attributes_on_parquet(fitted_on_parquet):
    model, data, accuracy, client = fitted_on_parquet
    X, y = make_data(n=400, d=2, seed=1)
    assert model.feature_names_in_.tolist() == ["x0", "x1"]
    assert model.feature_names_in_.dtype == object
    assert model.coef_.shape == (1, 2) and model.n_features_in_ == 2
    check_history(model)
    # the same rows as NumPy arrays reach the same optimum: |Δθ| ≤ 2·√3·max|∇F|/μ with
    # μ ≥ alpha + curvature of standard normal features (≈ 0.2), tol 1e-8 → ≲ 2e-7 < 1e-6
    reference = dasklr.LogisticRegression(alpha=1e-2, tol=1e-8, max_iter=300, client=client).fit(
        X, y
    )
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-6)
    # accuracy on the data itself, from NumPy (a mean of 0/1 values: exact)
    assert float(client.compute(model.score(data, None), sync=True)) == accuracy


def test_score_on_parquet_data_without_y(fitted_on_parquet):
    model, data, expected, client = fitted_on_parquet
    assert float(client.compute(model.score(data), sync=True)) == expected


def test_feature_names_from_a_dataframe(client):
    X, y = make_data(n=200, d=2, seed=2)
    frame = pd.DataFrame(X, columns=["age", "income"])
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-8, max_iter=300, client=client).fit(
        frame, y
    )
    assert model.feature_names_in_.tolist() == ["age", "income"]
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(X))
    with pytest.raises(ValueError, match="feature names differ"):
        model.predict_proba(frame[["income", "age"]])
    # refitting on arrays forgets the names
    model.fit(X, y)
    assert not hasattr(model, "feature_names_in_")


def test_max_iter_reached_warns_and_is_not_converged(client):
    X, y = make_data()
    model = dasklr.LogisticRegression(tol=1e-10, max_iter=2, client=client)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model.fit(X, y)
    assert model.converged_ is False
    assert model.n_iter_ == 2 and len(model.history_) == 3
    assert model.history_[-1]["grad_norm"] > 1e-10
    check_history(model)


def test_callbacks_see_every_iteration_and_can_stop(client):
    X, y = make_data()
    seen = []

    def stop_after_three(record):
        seen.append(record.iteration)
        return record.iteration == 3

    model = dasklr.LogisticRegression(tol=1e-10, client=client)
    # stopped on request: no ConvergenceWarning (the suite turns warnings into errors)
    model.fit(X, y, callbacks=[stop_after_three])
    assert seen == [0, 1, 2, 3]
    assert model.n_iter_ == 3 and not model.converged_


def test_verbose_prints_one_line_per_iteration(client, capsys):
    X, y = make_data(n=100)
    model = dasklr.LogisticRegression(
        alpha=0.1, tol=1e-6, max_iter=300, verbose=True, client=client
    ).fit(X, y)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == len(model.history_)
    p = y.mean()  # the log-odds start: F is the entropy of the label mean
    entropy = -p * math.log(p) - (1 - p) * math.log(1 - p)
    assert lines[0].startswith(f"iter     0  objective {entropy:.10g}"[:30])
    # stderr is not a terminal here: one plain line per pass, with its chunk count
    passes = err.splitlines()
    assert len(passes) == model.n_passes_
    assert all(re.fullmatch(r"pass +\d+: 1 chunks in \d+\.\d+ s", line) for line in passes)


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["numpy", "dataframe", "dask"])
def test_nan_in_array_input_is_a_data_error(client, kind):
    X, y = make_data(n=50)
    X[17, 1] = np.nan
    if kind == "dataframe":
        X = pd.DataFrame(X, columns=["a", "b", "c"])
    elif kind == "dask":
        X = da.from_array(X, chunks=(10, 3))  # found by the first pass, in its chunk
    with pytest.raises(DataError, match="feature column 'column 1' holds NaN in row"):
        dasklr.LogisticRegression(client=client).fit(X, y)


def test_bad_labels_and_weights_in_arrays(client):
    X, y = make_data(n=50)
    for value in (np.nan, 0.5):  # a third class would be fine, but not these
        bad = y.copy()
        bad[3] = value
        with pytest.raises(DataError, match=rf"y holds {value}: labels must be classes"):
            dasklr.LogisticRegression(client=client).fit(X, bad)
    single = np.ones(50)
    with pytest.raises(DataError, match=r"y holds one class only \(1\.0\)"):
        dasklr.LogisticRegression(client=client).fit(X, single)
    w = np.ones(50)
    w[9] = -0.5
    with pytest.raises(DataError, match=r"non-negative values; found -0\.5"):
        dasklr.LogisticRegression(client=client).fit(X, y, w)
    with pytest.raises(DataError, match=r"sample weights sum to zero \(0\.0\)"):
        dasklr.LogisticRegression(client=client).fit(X, y, np.zeros(50))


def test_shape_and_type_errors(client):
    X, y = make_data(n=50)
    model = dasklr.LogisticRegression(client=client)
    with pytest.raises(ValueError, match="X has 50 rows but y has 49"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\)"):
        model.fit(X, y, np.ones(3))
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        model.fit(X)
    with pytest.raises(AttributeError, match="not fitted"):
        model.predict(X)


# -- predictions -----------------------------------------------------------------------


def test_predictions_match_closed_form_and_sklearn(fitted):
    model, X, y = fitted
    coef, b = model.coef_[0], model.intercept_[0]
    z = X @ coef + b
    np.testing.assert_allclose(model.decision_function(X), z, rtol=1e-14, atol=1e-14)
    proba = model.predict_proba(X)
    assert proba.shape == (600, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    # closed form σ(z) = 1/(1 + e^−z) is accurate for these moderate margins: rtol 1e-14
    np.testing.assert_allclose(proba[:, 1], 1.0 / (1.0 + np.exp(-z)), rtol=1e-14)
    # scikit-learn with the same coefficients
    sk = SkLogisticRegression()
    sk.coef_, sk.intercept_, sk.classes_ = model.coef_, model.intercept_, np.array([0, 1])
    sk.n_features_in_ = 3
    np.testing.assert_allclose(proba, sk.predict_proba(X), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), sk.predict(X))
    np.testing.assert_array_equal(model.predict(X), (z > 0).astype(int))
    assert model.score(X, y) == sk.score(X, y)  # both the mean of 600 0/1 values: exact


def test_dask_input_gives_lazy_equal_predictions(fitted, client):
    model, X, y = fitted
    Xd = da.from_array(X, chunks=(150, 3))
    yd = da.from_array(y, chunks=150)
    outputs = {
        "predict_proba": model.predict_proba(Xd),
        "decision_function": model.decision_function(Xd),
        "predict": model.predict(Xd),
    }
    for name, lazy in outputs.items():
        assert isinstance(lazy, da.Array), name
        assert lazy.chunks[0] == (150,) * 4
        # per-chunk NumPy on the same rows; 1e-14 allows for BLAS vs non-BLAS products
        np.testing.assert_allclose(
            client.compute(lazy, sync=True), getattr(model, name)(X), rtol=1e-14, atol=1e-15
        )
    score = model.score(Xd, yd)
    assert isinstance(score, da.Array)
    assert float(client.compute(score, sync=True)) == model.score(X, y)
    # columns split into several chunks are joined first
    Xcols = da.from_array(X, chunks=(200, 1))
    proba = client.compute(model.predict_proba(Xcols), sync=True)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-14, atol=1e-15)


def test_wrong_number_of_features_at_predict(fitted):
    model, X, _ = fitted
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        model.predict(X[:, :2])


# -- training: chunking, determinism, where it runs ------------------------------------


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The same 1000 rows as 1 file of 1 row group, and as 5 files of 37-row groups."""
    X, y = make_data(n=1000, d=4, seed=8)
    one = tmp_path_factory.mktemp("one")
    many = tmp_path_factory.mktemp("many")
    write_parquet_dataset(one, X, y, n_files=1, row_group_rows=1000)
    write_parquet_dataset(many, X, y, n_files=5, row_group_rows=37)
    return str(one), str(many)


def fit_parquet(path, client, **kwargs):
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-10, max_iter=300, client=client, **kwargs)
    return model.fit(dasklr.read_parquet(path, label="y"))


def test_file_and_row_group_layout_does_not_change_the_model(client, layouts):
    one, many = layouts
    assert dasklr.read_parquet(many, label="y").files[0].row_group_rows == ((37,) * 5 + (15,))
    a = fit_parquet(one, client)
    b = fit_parquet(many, client, split_every=2)
    assert a.converged_ and b.converged_
    # both at max|∇F| ≤ 1e-10; |Δθ| ≤ 2·√5·1e-10/μ with μ ≈ 0.2 (alpha plus the curvature
    # of standard normal features) ≈ 2e-9, so within 1e-8 of each other
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)


def assert_bit_identical(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert [h["objective"] for h in a.history_] == [h["objective"] for h in b.history_]
    assert [h["grad_norm"] for h in a.history_] == [h["grad_norm"] for h in b.history_]


def test_two_fits_on_one_chunk_are_bit_identical(client, layouts):
    one, _ = layouts
    assert dasklr.read_parquet(one, label="y").X.numblocks == (1, 1)
    assert_bit_identical(fit_parquet(one, client), fit_parquet(one, client))


def test_two_fits_on_the_same_files_are_bit_identical(client, layouts):
    _, many = layouts
    a = fit_parquet(many, client)
    b = fit_parquet(many, client)
    assert_bit_identical(a, b)


def test_current_client_is_used_when_none_is_given(client, cluster):
    X, y = make_data(n=100)
    before = cluster.scheduler.transition_counter
    with client.as_current():
        model = dasklr.LogisticRegression(alpha=0.1, tol=1e-10, max_iter=300).fit(X, y)
    assert model.converged_
    assert cluster.scheduler.transition_counter > before  # it ran on the session cluster
    # the same fit with the client passed explicitly; both at max|∇F| ≤ 1e-10 with
    # curvature ≥ alpha = 0.1: |Δθ| ≤ 2·2·1e-10/0.1 = 4e-9 < 1e-8
    reference = dasklr.LogisticRegression(alpha=0.1, tol=1e-10, max_iter=300, client=client)
    reference.fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-8)


def test_data_error_with_a_current_client(client):
    X, y = make_data(n=50)
    with client.as_current(), pytest.raises(DataError, match="sample weights sum to zero"):
        dasklr.LogisticRegression().fit(X, y, np.zeros(50))


def test_embedded_cluster_matches_the_explicit_client(client, layouts):
    one, _ = layouts
    with pytest.raises(ValueError, match="No clients found"):
        default_client()  # so client=None must start its own cluster
    explicit = fit_parquet(one, client)
    embedded = fit_parquet(one, None)
    assert embedded.converged_ and embedded.client is None
    # the same chunk and kernel on another cluster; both at max|∇F| ≤ 1e-10: within 1e-8
    # (the bound of test_file_and_row_group_layout_does_not_change_the_model)
    np.testing.assert_allclose(embedded.coef_, explicit.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(embedded.intercept_, explicit.intercept_, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="No clients found"):
        default_client()  # the embedded cluster and its client were closed
