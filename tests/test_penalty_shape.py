"""Penalty factors and a prior model (issue 16, items 4 and 6), against SciPy on the
same objective in memory.

The objective, written out here independently of dasklr:

    F(θ, b) = (1/n)·Σ[softplus(z) − y·z] + alpha·(1−r)/2·Σ f_j·θ̃_j² + alpha·r·Σ f_j·|θ̃_j|
              + λ/2·‖θ − θ_prior‖²,        z = X·θ + b,

with θ̃ = θ·σ under ``standardize`` (else θ̃ = θ). The L1 part is solved by SciPy's
L-BFGS-B through the exact split θ = u − v, u, v ≥ 0. Tolerances: coefficients within
1e-6 (absolute) and objectives within 1e-9 (relative) of SciPy's optimum at gtol 1e-12.
"""

import json

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset


def _data(seed=0, n=600, d=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.5, 2.0, 1.0])[:d] + 0.3
    true = np.array([1.5, -0.4, 2.0, 0.0, -1.0])[:d]
    y = (X @ true - 0.2 + rng.logistic(size=n) > 0).astype(float)
    return X, y


def _reference(X, y, *, alpha, l1_ratio=0.0, factor=None, prior=None, strength=0.0, scale=None):
    """SciPy's optimum of F above: (θ, b, F*)."""
    n, d = X.shape
    f = np.ones(d) if factor is None else np.asarray(factor, float)
    sigma = np.ones(d) if scale is None else scale
    prior = np.zeros(d) if prior is None else prior
    l2, l1 = alpha * (1 - l1_ratio), alpha * l1_ratio

    def parts(x):
        u, v, b = x[:d], x[d : 2 * d], x[-1]
        theta = u - v
        z = X @ theta + b
        residual = (expit(z) - y) / n
        loss = np.mean(np.logaddexp(0, z) - y * z)
        value = (
            loss
            + 0.5 * l2 * np.sum(f * (theta * sigma) ** 2)
            + l1 * np.sum(f * sigma * (u + v))
            + 0.5 * strength * np.sum((theta - prior) ** 2)
        )
        g_theta = X.T @ residual + l2 * f * sigma**2 * theta + strength * (theta - prior)
        grad = np.concatenate(
            [g_theta + l1 * f * sigma, -g_theta + l1 * f * sigma, [residual.sum()]]
        )
        return value, grad

    bounds = [(0, None)] * (2 * d) + [(None, None)]
    x0 = np.zeros(2 * d + 1)
    result = minimize(
        parts,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000, "maxcor": 30},
    )
    theta = result.x[:d] - result.x[d : 2 * d]
    return theta, result.x[-1], result.fun


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(
    ("l1_ratio", "standardize"), [(0.0, False), (0.0, True), (0.5, False), (1.0, True)]
)
def test_penalty_factors_match_scipy(solver, l1_ratio, standardize):
    X, y = _data()
    factor = {"x0": 0.0, "x1": 2.5, "x3": 0.5}  # x2, x4 keep 1
    f = np.array([0.0, 2.5, 1.0, 0.5, 1.0])
    model = dasklr.LogisticRegression(
        alpha=0.02,
        l1_ratio=l1_ratio,
        solver=solver,
        tol=1e-10,
        max_iter=500,
        standardize=standardize,
        penalty_factor=factor,
    ).fit(X, y)
    scale = X.std(axis=0) if standardize else None
    theta, b, best = _reference(X, y, alpha=0.02, l1_ratio=l1_ratio, factor=f, scale=scale)
    np.testing.assert_allclose(model.coef_[0], theta, rtol=0, atol=1e-6)
    assert model.intercept_[0] == pytest.approx(b, abs=1e-6)
    assert model.history_[-1]["objective"] == pytest.approx(best, rel=1e-9)
    if l1_ratio:  # the unpenalised control variable is never set to 0; the zeros agree
        assert model.coef_[0, 0] != 0
        np.testing.assert_array_equal(model.coef_[0] == 0, np.abs(theta) < 1e-8)


def test_a_factor_of_one_everywhere_is_the_plain_fit_bit_for_bit():
    X, y = _data(1)
    plain = dasklr.LogisticRegression(alpha=0.01, tol=1e-10).fit(X, y)
    ones = dasklr.LogisticRegression(
        alpha=0.01, tol=1e-10, penalty_factor={f"x{j}": 1.0 for j in range(5)}
    ).fit(X, y)
    np.testing.assert_allclose(ones.coef_, plain.coef_, rtol=1e-12, atol=1e-14)


def test_multinomial_penalty_factors_reach_scipys_objective():
    """Three classes: the factor-shaped softmax objective, minimised by SciPy over the
    K·d coefficients and K intercepts, gives the same optimal value."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    y = np.digitize(X @ [1.0, -1.0, 0.5] + rng.logistic(size=500), [-1.0, 1.0])
    f = np.array([0.0, 1.0, 3.0])
    model = dasklr.LogisticRegression(
        alpha=0.05, tol=1e-10, penalty_factor={"x0": 0.0, "x2": 3.0}
    ).fit(X, y)
    Y = np.eye(3)[y]

    def objective(x):
        W, b = x[:9].reshape(3, 3), x[9:]
        Z = X @ W.T + b
        top = Z.max(axis=1, keepdims=True)
        logsum = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
        P = np.exp(Z - logsum[:, None])
        value = np.mean(logsum - (Z * Y).sum(axis=1)) + 0.025 * np.sum(f * W**2)
        gW = (P - Y).T @ X / len(y) + 0.05 * f * W
        return value, np.concatenate([gW.ravel(), (P - Y).mean(axis=0)])

    best = minimize(
        objective,
        np.zeros(12),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000},
    )
    assert model.history_[-1]["objective"] == pytest.approx(best.fun, rel=1e-9)
    # the unpenalised feature's coefficients are identified up to a common shift only:
    # the centred ones agree
    W = best.x[:9].reshape(3, 3)
    np.testing.assert_allclose(
        model.coef_ - model.coef_.mean(axis=0), W - W.mean(axis=0), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("standardize", [False, True])
def test_a_prior_pulls_towards_yesterdays_model_as_scipy_says(tmp_path, standardize):
    X, y = _data(4)
    yesterday = dasklr.LogisticRegression(alpha=0.01, tol=1e-10).fit(X[:200] * 1.1, y[:200])
    yesterday.save(tmp_path / "yesterday")
    model = dasklr.LogisticRegression(
        alpha=0.01,
        tol=1e-10,
        standardize=standardize,
        prior_model=str(tmp_path / "yesterday"),
        prior_strength=0.05,
    ).fit(X, y)
    scale = X.std(axis=0) if standardize else None
    theta, b, best = _reference(
        X, y, alpha=0.01, prior=yesterday.coef_[0], strength=0.05, scale=scale
    )
    np.testing.assert_allclose(model.coef_[0], theta, rtol=0, atol=1e-6)
    assert model.intercept_[0] == pytest.approx(b, abs=1e-6)
    assert model.history_[-1]["objective"] == pytest.approx(best, rel=1e-9)
    # the closed form of the optimum: ∇loss(θ) + alpha·θ̃-part + λ·(θ − θ_prior) = 0, so
    # θ_prior = θ + (∇loss + ridge)/λ; computed here from the fitted θ in NumPy
    z = X @ model.coef_[0] + model.intercept_[0]
    grad_loss = X.T @ (expit(z) - y) / len(y)
    ridge = 0.01 * (scale**2 if standardize else 1.0) * model.coef_[0]
    recovered = model.coef_[0] + (grad_loss + ridge) / 0.05
    np.testing.assert_allclose(recovered, yesterday.coef_[0], rtol=0, atol=1e-6)


def test_prior_strength_limits_give_the_plain_fit_and_the_prior():
    X, y = _data(5)
    prior = dasklr.LogisticRegression(alpha=0.1).fit(X[:, ::-1] * 0.5, y)  # other coefs
    plain = dasklr.LogisticRegression(alpha=0.01, tol=1e-10).fit(X, y)
    weak = dasklr.LogisticRegression(
        alpha=0.01, tol=1e-10, prior_model=prior, prior_strength=1e-12
    ).fit(X, y)
    strong = dasklr.LogisticRegression(  # |θ − θ_prior| <= max|∇loss|/λ ≈ 1e-6
        alpha=0.0, tol=1e-8, prior_model=prior, prior_strength=1e6
    ).fit(X, y)
    np.testing.assert_allclose(weak.coef_, plain.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(strong.coef_, prior.coef_, rtol=0, atol=2e-6)
    assert strong.converged_  # with alpha = 0 the prior alone makes the optimum unique


def test_prior_aligns_by_name_and_new_features_shrink_to_zero():
    """Yesterday's model had x3, x0, x1 (in that order); today's data has x0..x4. With a
    strong prior (λ = 1e6: within max|∇loss|/λ) the coefficients equal yesterday's by
    name, and x2, x4 are 0."""
    X, y = _data(6)
    import pandas as pd

    old = pd.DataFrame(X[:, [3, 0, 1]], columns=["x3", "x0", "x1"])
    yesterday = dasklr.LogisticRegression(alpha=0.01).fit(old, y)
    today = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    model = dasklr.LogisticRegression(
        alpha=0.0, tol=1e-8, prior_model=yesterday, prior_strength=1e6
    ).fit(today, y)
    expected = dict(zip(yesterday.feature_names_in_, yesterday.coef_[0], strict=True))
    for j, name in enumerate(model.feature_names_in_):
        assert model.coef_[0, j] == pytest.approx(expected.get(name, 0.0), abs=2e-6)


def test_summary_under_a_prior_takes_the_penalty_out_of_the_likelihood():
    X, y = _data(7)
    prior = dasklr.LogisticRegression(alpha=0.1).fit(X, y)
    model = dasklr.LogisticRegression(
        solver="newton", tol=1e-10, prior_model=prior, prior_strength=0.01
    ).fit(X, y)
    z = X @ model.coef_[0] + model.intercept_[0]
    llf = float(np.sum(y * z - np.logaddexp(0, z)))  # the log-likelihood, in NumPy
    assert model.summary().llf == pytest.approx(llf, rel=1e-10)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalty_factor": {"x9": 0.0}}, "'x9', which is not a feature"),
        ({"penalty_factor": {"x1": -1.0}}, "factors >= 0"),
        ({"prior_strength": 1.0}, "needs a prior_model"),
    ],
)
def test_bad_shapes_are_refused_by_name(params, message):
    X, y = _data(8, n=50)
    with pytest.raises(dasklr.ConfigError, match=message):
        dasklr.LogisticRegression(**params).fit(X, y)


def test_a_prior_of_other_classes_is_refused():
    X, y = _data(9, n=90)
    three = dasklr.LogisticRegression().fit(X, np.arange(90) % 3)
    with pytest.raises(dasklr.ConfigError, match="has classes \\[0, 1, 2\\], this fit"):
        dasklr.LogisticRegression(prior_model=three, prior_strength=1.0).fit(X, y)


def test_config_keys_and_the_command_line(tmp_path, cluster):
    """model.penalty_factor and model.prior_model/prior_strength from a TOML file: the
    model equals the same estimator fitted from Python; the model file records them."""
    X, y, _, _ = make_classification(1500, 4, seed=11)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=2, row_group_rows=500)
    config = tmp_path / "c.toml"
    base = (
        f'[data]\npath = "{tmp_path / "data"}"\nlabel = "y"\n'
        f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
    )
    config.write_text(base + f'[model]\nalpha = 0.02\n[output]\npath = "{tmp_path / "old"}"\n')
    assert main(["train", "--quiet", str(config)]) == 0
    config.write_text(
        base
        + "[model]\nalpha = 0.02\ntol = 1e-9\npenalty_factor = { x0 = 0.0, x2 = 3 }\n"
        + f'prior_model = "{tmp_path / "old"}"\nprior_strength = 0.1\n'
        + f'[output]\npath = "{tmp_path / "new"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    reference = dasklr.LogisticRegression(
        alpha=0.02,
        tol=1e-9,
        penalty_factor={"x0": 0.0, "x2": 3.0},
        prior_model=str(tmp_path / "old"),
        prior_strength=0.1,
        client=cluster.scheduler_address,
    ).fit(dasklr.read_parquet(tmp_path / "data", label="y"))
    model = dasklr.load_model(tmp_path / "new")
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    params = json.loads((tmp_path / "new" / "metadata.json").read_text())["params"]
    assert params["penalty_factor"] == {"x0": 0.0, "x2": 3.0}
    assert params["prior_model"] == str(tmp_path / "old") and params["prior_strength"] == 0.1
