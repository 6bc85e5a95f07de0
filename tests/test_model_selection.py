"""``LogisticRegressionCV`` and ``fit_path`` (``dasklr.estimators.model_selection``):
the chosen model is a model like any other, with every fitted attribute."""

import numpy as np
import pytest

import dasklr
from dasklr.data.synthetic import make_classification


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = make_classification(3000, 5, seed=8)
    return X, y.astype(float)


def test_cv_model_has_a_message(client, data):
    X, y = data
    model = dasklr.LogisticRegressionCV(alphas=[1e-2, 1e-3], cv=3, client=client).fit(X, y)
    assert model.converged_
    assert model.message_ == ""  # it reached tol: nothing to explain


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_grid_and_single_fit_agree_on_every_fitted_attribute(client, data, solver):
    """The all-rows model of a one-alpha grid is the single fit at that alpha: the same
    arithmetic in the same order, so the same bits; only the passes (the grid also fits
    and scores the folds) and the seconds differ."""
    X, y = data
    alpha, params = 1e-3, {"solver": solver, "tol": 1e-9, "client": client}
    grid = dasklr.LogisticRegressionCV(alphas=[alpha], cv=2, **params).fit(X, y)
    single = dasklr.LogisticRegression(alpha=alpha, **params).fit(X, y)
    assert grid.alpha_ == alpha
    np.testing.assert_array_equal(grid.coef_, single.coef_)
    np.testing.assert_array_equal(grid.intercept_, single.intercept_)
    np.testing.assert_array_equal(grid.classes_, single.classes_)
    for name in ("n_features_in_", "n_iter_", "converged_", "message_", "solver_", "cache_"):
        assert getattr(grid, name) == getattr(single, name), name
    for key in ("iteration", "objective", "grad_norm", "step", "validation_loss"):
        assert [h[key] for h in grid.history_] == [h[key] for h in single.history_], key
    a, b = grid.statistics_, single.statistics_
    assert (a.llf, a.llnull, a.nobs, a.singular) == (b.llf, b.llnull, b.nobs, b.singular)
    np.testing.assert_array_equal(a.penalty, b.penalty)
    assert sorted(grid.covariances_) == sorted(single.covariances_)
    for label, cov in single.covariances_.items():
        np.testing.assert_array_equal(grid.covariances_[label], cov)
    assert str(grid.summary()) == str(single.summary())
