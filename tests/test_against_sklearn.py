"""dasklr reaches scikit-learn's optimum on the same data, written to Parquet.

Parameter mapping (DESIGN.md): dasklr minimises

    F(θ, b) = (1/Σw)·Σ w·[log(1+e^z) − y·z] + alpha/2·‖θ‖²

and scikit-learn minimises C·Σ w·[log(1+e^z) − y·z] + 1/2·‖θ‖², which is C·Σw times F
when alpha = 1/(C·Σw). So scikit-learn's C = 1/(alpha·Σw) (= 1/(n·alpha) without
weights). Both leave the intercept unpenalised.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset


def objective(X, y, w, coef, intercept, alpha):
    """F of DESIGN.md in plain NumPy, independent of dasklr's kernel."""
    w = np.ones_like(y, dtype=np.float64) if w is None else w
    z = X @ coef + intercept
    return np.sum(w * (np.logaddexp(0.0, z) - y * z)) / np.sum(w) + 0.5 * alpha * coef @ coef


def sklearn_fit(X, y, w, alpha, fit_intercept=True):
    sw_sum = len(y) if w is None else float(np.sum(w))
    C = 1.0 / (alpha * sw_sum)  # the mapping C = 1/(alpha·Σw) derived above
    model = SkLogisticRegression(C=C, tol=1e-12, max_iter=10000, fit_intercept=fit_intercept)
    return model.fit(X, y, sample_weight=w)


def compare(client, path, X, y, w, *, alpha, fit_intercept=True, tol=1e-8):
    data = dasklr.read_parquet(str(path), label="y", weight=None if w is None else "w")
    # max_iter bounds the runtime should convergence break; a miss warns and fails the test
    ours = dasklr.LogisticRegression(
        alpha=alpha, tol=tol, max_iter=500, fit_intercept=fit_intercept, client=client
    )
    ours.fit(data)
    theirs = sklearn_fit(X, y, w, alpha, fit_intercept)
    assert ours.converged_
    f_ours = objective(X, y, w, ours.coef_[0], ours.intercept_[0], alpha)
    f_theirs = objective(X, y, w, theirs.coef_[0], float(theirs.intercept_[0]), alpha)
    # both at the same strictly convex optimum: objectives within 1e-8 relative
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)
    # max|∇F| ≤ 1e-8 and curvature ≥ alpha = 1e-2 bound |θ − θ*| ≤ √(d+1)·1e-8/1e-2 ≪ 1e-4,
    # and scikit-learn's own optimum (tol 1e-12) is tighter still
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-4)
    # dasklr's own history reports the same objective it converged to (rtol 1e-12: the
    # kernel and the NumPy formula differ only in rounding)
    assert ours.history_[-1]["objective"] == pytest.approx(f_ours, rel=1e-12)
    return ours, theirs


def test_generated_data(client, tmp_path):
    X, y, _, _ = make_classification(2000, 5, seed=4)
    write_parquet_dataset(tmp_path, X, y, n_files=3, row_group_rows=250)
    ours, _ = compare(client, tmp_path, X, y, None, alpha=1e-2)
    # the fit's gradient is small, so Σσ(z) = Σy at the optimum (intercept unpenalised);
    # tolerance n·tol
    assert abs(ours.predict_proba(X)[:, 1].sum() - y.sum()) <= 2000 * 1e-8


def test_breast_cancer(client, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    write_parquet_dataset(tmp_path, X, y.astype(np.int8), n_files=2, row_group_rows=100)
    ours, _ = compare(client, tmp_path, X, y.astype(np.float64), None, alpha=1e-2)
    # gradient descent with Barzilai–Borwein steps: converges in well under 200 iterations
    assert ours.n_iter_ < 200


def test_sample_weights(client, tmp_path):
    X, y, _, _ = make_classification(1500, 4, seed=7)
    w = np.random.default_rng(7).uniform(0.2, 3.0, size=1500)
    write_parquet_dataset(tmp_path, X, y, sample_weight=w, n_files=2, row_group_rows=300)
    ours, _ = compare(client, tmp_path, X, y, w, alpha=1e-2)
    # and the weights matter: the unweighted optimum is elsewhere (more than 1e-3 away)
    unweighted = sklearn_fit(X, y, None, 1e-2)
    assert np.max(np.abs(ours.coef_ - unweighted.coef_)) > 1e-3


def test_without_intercept(client, tmp_path):
    X, y, _, _ = make_classification(1500, 4, seed=6)
    write_parquet_dataset(tmp_path, X, y, n_files=1, row_group_rows=500)
    ours, _ = compare(client, tmp_path, X, y, None, alpha=1e-2, fit_intercept=False)
    assert ours.intercept_.tolist() == [0.0]
