"""model.summary() against statsmodels' Logit: standard errors, tests, likelihoods."""

import sys

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

import dasklr
from dasklr.data.synthetic import make_classification
from dasklr.stats.inference import chi2_survival


def spector():
    data = sm.datasets.spector.load_pandas()  # bundled with statsmodels: 32 rows, 3 features
    return data.exog.to_numpy(float), data.endog.to_numpy(float)


def generated():
    X, y, _, _ = make_classification(3000, 5, seed=17)
    return X, y.astype(float)


@pytest.mark.parametrize("dataset", [spector, generated])
@pytest.mark.parametrize("standardize", [False, True])
def test_summary_matches_statsmodels_logit(client, dataset, standardize):
    X, y = dataset()
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, maxiter=100)
    model = dasklr.LogisticRegression(
        tol=1e-12, max_iter=100, standardize=standardize, client=client
    ).fit(X, y)
    summary = model.summary()
    assert list(summary.names) == ["intercept", *[f"x{j}" for j in range(X.shape[1])]]
    # statsmodels' order is [const, x…] too; all within 1e-6 relative (the issue's tolerance)
    for mine, theirs in [
        (summary.params, reference.params),
        (summary.std_errors, reference.bse),
        (summary.z, reference.tvalues),
        (summary.p_values, reference.pvalues),
        (summary.conf_int, reference.conf_int()),
    ]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)
    for mine, theirs in [
        (summary.llf, reference.llf),
        (summary.llnull, reference.llnull),
        (summary.aic, reference.aic),
        (summary.bic, reference.bic),
        (summary.pseudo_r2, reference.prsquared),
        (summary.lr_pvalue, reference.llr_pvalue),
    ]:
        assert mine == pytest.approx(theirs, rel=1e-6)
    assert "std err" in str(summary) and summary.to_frame().shape == (X.shape[1] + 1, 6)
    np.testing.assert_array_equal(summary.to_frame()["std_err"].to_numpy(), summary.std_errors)


def test_to_frame_without_pandas_says_what_to_install(monkeypatch):
    X, y = generated()
    summary = dasklr.LogisticRegression(tol=1e-10).fit(X, y).summary()
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(ImportError, match=r"to_frame\(\) needs pandas"):
        summary.to_frame()
    assert "std err" in str(summary)  # the text table needs no pandas


def test_summary_refuses_l1_and_unknown_cov_types(client):
    X, y = generated()
    model = dasklr.LogisticRegression(alpha=0.01, l1_ratio=1.0, client=client).fit(X, y)
    with pytest.raises(ValueError, match="summary\\(\\) needs a binary fit without L1"):
        model.summary()
    model = dasklr.LogisticRegression(client=client).fit(X, y)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        model.summary(cov_type="HC3")
    with pytest.raises(ValueError, match="groups= goes with cov_type='cluster'"):
        model.summary(cov_type="cluster")


def _statsmodels(X, y, **fit):
    return sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, maxiter=100, **fit)


@pytest.mark.parametrize("dataset", [spector, generated])
def test_lbfgs_summary_matches_newton_and_statsmodels(client, dataset):
    X, y = dataset()
    newton = dasklr.LogisticRegression(tol=1e-10, client=client).fit(X, y)
    lbfgs = dasklr.LogisticRegression(solver="lbfgs", tol=1e-10, client=client).fit(X, y)
    reference = _statsmodels(X, y)
    np.testing.assert_allclose(lbfgs.summary().std_errors, reference.bse, rtol=1e-6)
    np.testing.assert_allclose(lbfgs.summary().std_errors, newton.summary().std_errors, rtol=1e-6)


@pytest.mark.parametrize("dataset", [spector, generated])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_hc0_standard_errors_match_statsmodels(client, dataset, solver):
    X, y = dataset()
    reference = _statsmodels(X, y, cov_type="HC0")
    model = dasklr.LogisticRegression(solver=solver, tol=1e-10, client=client).fit(X, y)
    summary = model.summary(cov_type="HC0")
    np.testing.assert_allclose(summary.std_errors, reference.bse, rtol=1e-6)
    np.testing.assert_allclose(summary.p_values, reference.pvalues, rtol=1e-6)
    np.testing.assert_allclose(summary.conf_int, reference.conf_int(), rtol=1e-6)
    assert summary.cov_type == "HC0"


def test_cluster_standard_errors_match_statsmodels(client):
    """statsmodels' default correction for cov_type='cluster' (use_correction=True):
    G/(G−1)·(N−1)/(N−K), G clusters, N rows, K parameters."""
    X, y = generated()
    groups = np.random.default_rng(3).integers(0, 40, size=len(y))
    reference = _statsmodels(X, y, cov_type="cluster", cov_kwds={"groups": groups})
    model = dasklr.LogisticRegression(tol=1e-10, client=client).fit(X, y)
    summary = model.summary(cov_type="cluster", groups=groups)
    np.testing.assert_allclose(summary.std_errors, reference.bse, rtol=1e-6)
    np.testing.assert_allclose(summary.p_values, reference.pvalues, rtol=1e-6)


def test_cluster_by_a_parquet_column_and_summary_after_load(client, tmp_path):
    """Clusters named by a string column of the Parquet data, spread over every chunk;
    the covariances computed before saving come back with the model."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = generated()
    labels = np.array([f"store-{k}" for k in np.random.default_rng(5).integers(0, 30, len(y))])
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(
        pa.table({**columns, "y": y, "store": labels}),
        tmp_path / "d.parquet",
        row_group_size=700,
    )
    data = dasklr.read_parquet(tmp_path / "d.parquet", label="y", features=list(columns))
    model = dasklr.LogisticRegression(tol=1e-10, client=client).fit(data)
    _, codes = np.unique(labels, return_inverse=True)
    reference = _statsmodels(X, y, cov_type="cluster", cov_kwds={"groups": codes})
    summary = model.summary(cov_type="cluster", groups="store")
    np.testing.assert_allclose(summary.std_errors, reference.bse, rtol=1e-6)
    hc0 = model.summary(cov_type="HC0")
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    np.testing.assert_array_equal(loaded.summary().std_errors, model.summary().std_errors)
    np.testing.assert_array_equal(loaded.summary(cov_type="HC0").std_errors, hc0.std_errors)
    again = loaded.summary(cov_type="cluster", groups="store")
    np.testing.assert_array_equal(again.std_errors, summary.std_errors)
    assert loaded.summary().llf == model.summary().llf
    with pytest.raises(ValueError, match="needs a pass over the training data"):
        loaded.summary(cov_type="cluster", groups="region")


def test_hc0_without_intercept_matches_statsmodels(client):
    X, y = generated()
    reference = sm.Logit(y, X).fit(disp=0, tol=1e-12, maxiter=100, cov_type="HC0")
    model = dasklr.LogisticRegression(fit_intercept=False, tol=1e-10, client=client).fit(X, y)
    np.testing.assert_allclose(model.summary(cov_type="HC0").std_errors, reference.bse, rtol=1e-6)


@pytest.mark.parametrize("standardize", [False, True])
def test_l2_covariance_from_the_pass_equals_newtons_hessian(client, standardize):
    """The bread of the pass (data Hessian + the penalty's curvature in original units)
    is the matrix Newton inverts: two independent routes to the same covariance."""
    X, y = generated()
    X = X * [1.0, 10.0, 0.1, 1.0, 3.0]
    params = {"alpha": 0.05, "standardize": standardize, "tol": 1e-10, "client": client}
    newton = dasklr.LogisticRegression(**params).fit(X, y)
    lbfgs = dasklr.LogisticRegression(solver="lbfgs", **params).fit(X, y)
    np.testing.assert_allclose(lbfgs.summary().std_errors, newton.summary().std_errors, rtol=1e-6)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 64, 501])
def test_chi2_survival_matches_scipy(df):
    for x in (0.0, 0.5, float(df), 3.0 * df + 10.0, 400.0):
        assert chi2_survival(x, df) == pytest.approx(chi2.sf(x, df), rel=1e-9, abs=1e-300)
