"""Warnings that name the features: singular information and quasi-separation, on real
fits of crafted data (the pure functions are tested in test_diagnostics.py)."""

import numpy as np
import pytest

import dasklr
from dasklr.errors import SeparationWarning, SingularInformationWarning


def _data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ [1.0, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(float)
    return X, y


def test_duplicated_column_is_named_at_fit_and_summary_refuses(client):
    X, y = _data()
    X = np.column_stack([X, X[:, 1]])
    names = ["a", "b", "c", "b_copy"]
    import pandas as pd

    frame = pd.DataFrame(X, columns=names)
    with pytest.warns(SingularInformationWarning, match="'b_copy' duplicates 'b'"):
        model = dasklr.LogisticRegression(client=client).fit(frame, y)
    with pytest.raises(ValueError, match=r"no standard errors: .*'b_copy' duplicates 'b'"):
        model.summary()


def test_constant_column_is_named(client):
    X, y = _data()
    X = np.column_stack([X[:, 0], np.full(len(y), 5.0), X[:, 1:]])
    with pytest.warns(SingularInformationWarning, match="'x1' is constant") as record:
        dasklr.LogisticRegression(client=client).fit(X, y)
    assert "'x0'" not in str(record[0].message) and "'x2'" not in str(record[0].message)


def test_collinear_columns_found_by_the_covariance_pass(client):
    """L-BFGS has no Hessian at the end: the summary's pass finds the relation."""
    X, y = _data()
    X = np.column_stack([X, X[:, 0] + 2.0 * X[:, 2]])
    model = dasklr.LogisticRegression(solver="lbfgs", client=client).fit(X, y)
    with pytest.raises(ValueError, match="'x0', 'x2', 'x3' are collinear"):
        model.summary(cov_type="HC0")


def test_a_penalty_makes_duplicates_harmless(client):
    """With alpha > 0 the information matrix is regular: no warning (errors here)."""
    X, y = _data()
    X = np.column_stack([X, X[:, 1]])
    model = dasklr.LogisticRegression(alpha=1e-3, client=client).fit(X, y)
    assert np.all(np.isfinite(model.summary().std_errors))


def test_quasi_separation_names_the_separating_feature(client):
    """Rows with x_sep > 0 are all positive; the others are mixed (quasi-complete)."""
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.normal(size=(n, 3))
    y = (X[:, 1] + rng.logistic(size=n) > 0).astype(float)
    y[X[:, 0] > 0] = 1.0
    X[:, 0] = np.maximum(X[:, 0], 0.0)  # x_sep: 0 on the mixed rows, > 0 on positives
    with pytest.warns(SeparationWarning, match="quasi-complete separation") as record:
        dasklr.LogisticRegression(tol=1e-8, max_iter=200, client=client).fit(X, y)
    message = str(record[0].message)
    assert "'x0'" in message and "'x1'" not in message and "'x2'" not in message


def test_no_warning_on_healthy_data(client):
    X, y = _data()
    model = dasklr.LogisticRegression(client=client).fit(X, y)  # warnings are errors here
    assert np.all(np.isfinite(model.summary().std_errors))


def test_a_grid_names_the_features_too(client):
    """An unpenalised model of a path warns with the data's own column names."""
    import pandas as pd

    X, y = _data()
    frame = pd.DataFrame(np.column_stack([X, X[:, 2]]), columns=["a", "b", "c", "c_copy"])
    with pytest.warns(SingularInformationWarning, match="'c_copy' duplicates 'c'"):
        dasklr.LogisticRegressionCV(alphas=[1e-2, 0.0], cv=2, client=client).fit(frame, y)
