"""model.summary() against statsmodels' Logit: standard errors, tests, likelihoods."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

import dasklr
from dasklr.inference import chi2_survival
from dasklr.synthetic import make_classification


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


def test_summary_needs_a_newton_fit_without_l1(client):
    X, y = generated()
    for params in ({"solver": "lbfgs"}, {"alpha": 0.01, "l1_ratio": 1.0}):
        model = dasklr.LogisticRegression(client=client, **params).fit(X, y)
        with pytest.raises(ValueError, match="summary\\(\\) needs a binary fit without L1"):
            model.summary()
    model = dasklr.LogisticRegression(client=client).fit(X, y)
    with pytest.raises(NotImplementedError, match="HC0"):
        model.summary(cov_type="HC0")


@pytest.mark.parametrize("df", [1, 2, 3, 7, 64, 501])
def test_chi2_survival_matches_scipy(df):
    for x in (0.0, 0.5, float(df), 3.0 * df + 10.0, 400.0):
        assert chi2_survival(x, df) == pytest.approx(chi2.sf(x, df), rel=1e-9, abs=1e-300)
