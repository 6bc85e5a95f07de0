"""Prediction standard errors (issue 16, item 7): each row's standard error of the
log-odds and the confidence interval of its probability, against statsmodels'
``Logit(...).get_prediction`` on the same data (within 1e-6 relative: the fits agree to
that), for the observed-information and the HC0 covariance, NumPy and Dask input, and
through ``dasklr predict --std``."""

import dask.array as da
import numpy as np
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(21)
    X = rng.normal(size=(800, 3)) * [1.0, 2.0, 0.5]
    y = (X @ [0.8, -0.3, 1.5] + 0.4 + rng.logistic(size=800) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_standard_errors_and_intervals_match_statsmodels(problem, cov_type):
    X, y = problem
    model = dasklr.LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, cov_type=cov_type)
    rows = sm.add_constant(X[:50])
    linear = reference.get_prediction(rows, which="linear").summary_frame(alpha=0.1)
    mean = reference.get_prediction(rows).summary_frame(alpha=0.1)

    proba, std = model.predict_proba(X[:50], return_std=True, cov_type=cov_type)
    np.testing.assert_allclose(std, linear["se"], rtol=1e-6)
    np.testing.assert_allclose(proba[:, 1], mean["predicted"], rtol=1e-6)
    bounds = model.predict_interval(X[:50], level=0.9, cov_type=cov_type)
    np.testing.assert_allclose(bounds[:, 0], mean["ci_lower"], rtol=1e-6)
    np.testing.assert_allclose(bounds[:, 1], mean["ci_upper"], rtol=1e-6)
    # the probability's standard error by the delta method, as statsmodels reports it
    np.testing.assert_allclose(proba[:, 1] * proba[:, 0] * std, mean["se"], rtol=1e-6)


def test_dask_input_is_scored_chunk_by_chunk_to_the_same_values(problem, client):
    X, y = problem
    model = dasklr.LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    lazy = da.from_array(X, chunks=(300, 3))
    proba, std = model.predict_proba(lazy, return_std=True)
    bounds = model.predict_interval(lazy)
    assert isinstance(std, da.Array) and isinstance(bounds, da.Array)
    np.testing.assert_array_equal(proba.compute(), model.predict_proba(X))
    np.testing.assert_array_equal(std.compute(), model.predict_proba(X, return_std=True)[1])
    np.testing.assert_array_equal(bounds.compute(), model.predict_interval(X))


def test_models_without_standard_errors_say_why(problem):
    X, y = problem
    three = dasklr.LogisticRegression(alpha=0.01).fit(X, np.digitize(X[:, 0], [-0.5, 0.5]))
    lasso = dasklr.LogisticRegression(alpha=0.05, l1_ratio=1.0).fit(X, y)
    for model in (three, lasso):
        with pytest.raises(ValueError, match="need a binary fit without L1"):
            model.predict_proba(X, return_std=True)
    plain = dasklr.LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="level must be in"):
        plain.predict_interval(X, level=1.5)


def test_predict_std_on_the_command_line(tmp_path, cluster, capsys):
    X, y, _, _ = make_classification(1200, 3, seed=5)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=2, row_group_rows=400)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{tmp_path / "data"}"\nlabel = "y"\n[model]\nsolver = "newton"\n'
        f'tol = 1e-10\n[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
        f'[output]\npath = "{tmp_path / "model"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    args = ["predict", str(tmp_path / "model"), str(tmp_path / "data"), "--quiet"]
    args += ["--scheduler", cluster.scheduler_address]
    assert main([*args, "--output", str(tmp_path / "scores"), "--std", "--level", "0.8"]) == 0
    scores = pq.read_table(tmp_path / "scores").to_pandas()
    model = dasklr.load_model(tmp_path / "model")
    features = pq.read_table(tmp_path / "data").to_pandas()[["x0", "x1", "x2"]].to_numpy()
    _, std = model.predict_proba(features, return_std=True)
    bounds = model.predict_interval(features, level=0.8)
    np.testing.assert_allclose(scores["logit_se"], std, rtol=1e-12)
    np.testing.assert_allclose(scores["proba_1_low"], bounds[:, 0], rtol=1e-12)
    np.testing.assert_allclose(scores["proba_1_high"], bounds[:, 1], rtol=1e-12)

    # a model without standard errors: one line, exit 2, before any work
    lasso = dasklr.LogisticRegression(alpha=0.05, l1_ratio=1.0).fit(features, scores["prediction"])
    lasso.feature_names_in_ = np.array(["x0", "x1", "x2"], dtype=object)
    lasso.save(tmp_path / "lasso")
    capsys.readouterr()
    args[1] = str(tmp_path / "lasso")
    assert main([*args, "--output", str(tmp_path / "s2"), "--std"]) == 2
    err = capsys.readouterr().err
    assert "standard errors of predictions: prediction standard errors need" in err
    assert not (tmp_path / "s2").exists()
