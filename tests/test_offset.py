"""Offsets (issue 16, item 3): a known log-odds term added to every row's margin, as a
feature whose coefficient is held at 1 and not penalised. Against statsmodels'
``GLM(y, X, family=Binomial(), offset=o)``: coefficients, standard errors (nonrobust and
HC0) and the log-likelihood within 1e-6 relative; through fit, predict, evaluate and
summary, from Python and from a config file."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
from scipy.special import expit

import dasklr
from dasklr.cli.main import main


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(31)
    n = 1500
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.normal(0, 1, n),
            "log_exposure": np.log(rng.uniform(0.2, 3.0, n)),
        }
    )
    z = -1.0 + 0.03 * (frame["age"] - 40) + 0.5 * frame["income"] + frame["log_exposure"]
    frame["y"] = (rng.uniform(size=n) < expit(z)).astype(int)
    return frame


def _statsmodels(frame, cov_type="nonrobust"):
    exog = sm.add_constant(frame[["age", "income"]])
    model = sm.GLM(frame["y"], exog, family=sm.families.Binomial(), offset=frame["log_exposure"])
    return model.fit(tol=1e-12, cov_type=cov_type)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_offset_fit_matches_statsmodels_glm(problem, solver):
    reference = _statsmodels(problem)
    X = problem[["age", "income", "log_exposure"]]
    model = dasklr.LogisticRegression(solver=solver, tol=1e-9, max_iter=500, offset="log_exposure")
    model.fit(X, problem["y"])
    assert model.coef_[0, 2] == 1.0  # held exactly
    np.testing.assert_allclose(model.coef_[0, :2], reference.params[["age", "income"]], rtol=1e-6)
    assert model.intercept_[0] == pytest.approx(reference.params["const"], rel=1e-6)
    # predictions read the offset column like any feature
    z = X.to_numpy() @ model.coef_[0] + model.intercept_[0]
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expit(z), rtol=1e-12)
    np.testing.assert_allclose(
        model.predict_proba(X)[:, 1],
        reference.predict(
            sm.add_constant(problem[["age", "income"]]), offset=problem["log_exposure"]
        ),
        rtol=1e-6,
    )


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_offset_summary_matches_statsmodels_glm(problem, cov_type):
    reference = _statsmodels(problem, cov_type)
    model = dasklr.LogisticRegression(solver="newton", tol=1e-10, offset="log_exposure")
    model.fit(problem[["age", "income", "log_exposure"]], problem["y"])
    summary = model.summary(cov_type=cov_type)
    assert list(summary.names) == ["intercept", "age", "income"]  # no row for the offset
    np.testing.assert_allclose(summary.params, reference.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(summary.std_errors, reference.bse.to_numpy(), rtol=1e-6)
    assert summary.llf == pytest.approx(reference.llf, rel=1e-9)
    assert summary.aic == pytest.approx(reference.aic, rel=1e-9)  # 3 estimated parameters
    assert np.isnan(summary.llnull)  # the offset's null model is another fit: not claimed


def test_offset_from_a_config_file_through_train_predict_and_evaluate(tmp_path, problem, cluster):
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(problem, preserve_index=False), folder / "part.parquet")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{folder}"\nlabel = "y"\nfeatures = ["age", "income"]\n'
        'offset = "log_exposure"\n[model]\ntol = 1e-10\nsolver = "newton"\n'
        f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
        f'[output]\npath = "{tmp_path / "model"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    model = dasklr.load_model(tmp_path / "model")
    reference = _statsmodels(problem)
    assert list(model.feature_names_in_) == ["age", "income", "log_exposure"]
    np.testing.assert_allclose(
        model.coef_[0], [*reference.params[["age", "income"]], 1.0], rtol=1e-6
    )
    args = ["--scheduler", cluster.scheduler_address, "--quiet"]
    out = str(tmp_path / "scores")
    assert main(["predict", str(tmp_path / "model"), str(folder), "--output", out, *args]) == 0
    scores = pq.read_table(out).to_pandas()
    expected = reference.predict(
        sm.add_constant(problem[["age", "income"]]), offset=problem["log_exposure"]
    )
    np.testing.assert_allclose(scores["proba_1"], expected, rtol=1e-6)
    assert main(["evaluate", str(tmp_path / "model"), str(folder), "--json", *args]) == 0


def test_offset_errors_name_the_problem(problem):
    X, y = problem[["age", "income"]], problem["y"]
    with pytest.raises(dasklr.ConfigError, match="offset 'log_exposure' is not among"):
        dasklr.LogisticRegression(offset="log_exposure").fit(X, y)
    with pytest.raises(dasklr.ConfigError, match="not 'gd'"):
        dasklr.LogisticRegression(solver="gd", offset="income").fit(X, y)
