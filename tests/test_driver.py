"""The driver of one fit (``dasklr.fit.driver``): what a fit ends with when the data has
no optimum, and where its numbers come from."""

import numpy as np
import pytest

import dasklr
from dasklr.data.synthetic import write_parquet_dataset


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_separable_parquet_without_penalty_warns_and_saves(client, tmp_path, solver):
    """Separable classes read from Parquet with alpha = 0: a SeparationWarning,
    converged_ False, finite coefficients, and a model that saves and loads (this used to
    end in a TypeError: the separation check's metric sums leaked into the row count)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(float)  # a hyperplane separates the classes
    write_parquet_dataset(tmp_path / "data", X, y, n_files=2, row_group_rows=500)
    data = dasklr.read_parquet(tmp_path / "data", label="y")
    model = dasklr.LogisticRegression(solver=solver, max_iter=40, client=client)
    with pytest.warns(dasklr.SeparationWarning, match=r"separable.*Set alpha > 0"):
        model.fit(data)
    assert not model.converged_
    assert model.message_.startswith("separable classes")
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert model.training_data_["rows_used"] == 3000  # the rows of the pass, not of metrics
    # every row is classified correctly by the coefficients it stopped at
    assert np.array_equal((X @ model.coef_[0] + model.intercept_[0] > 0), y == 1)
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.converged_ is False


def test_rows_and_likelihoods_come_from_the_last_pass(client):
    """``statistics_`` (what summary() needs) against a closed form at the fitted point:
    llf = Σ[y·log p + (1−y)·log(1−p)], llnull from the label share, nobs the rows."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 2))
    y = (X @ [1.0, -1.0] + rng.logistic(size=2000) > 0).astype(float)
    model = dasklr.LogisticRegression(solver="lbfgs", tol=1e-9, client=client).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    llf = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
    share = y.mean()
    llnull = float(y.sum() * np.log(share) + (1 - y).sum() * np.log1p(-share))
    stats = model.statistics_
    assert stats.nobs == 2000
    assert stats.llf == pytest.approx(llf, rel=1e-9)
    assert stats.llnull == pytest.approx(llnull, rel=1e-12)
