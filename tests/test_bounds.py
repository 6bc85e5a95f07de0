"""Coefficient bounds (issue 16, item 5), against SciPy's L-BFGS-B on the same objective
in memory: objective within 1e-8 (relative), the same coefficients at their bounds, the
others within 1e-5.

    F(θ, b) = (1/n)·Σ[softplus(z) − y·z] + alpha/2·Σ θ̃_j² + alpha·r·Σ|θ̃_j|,  low ≤ θ ≤ high

(θ̃ = θ·σ under ``standardize``). With L1 the bounds tested keep each coefficient on one
side of 0 (θ ≥ 0 or θ ≤ 0), so |θ| is linear there and L-BFGS-B solves it exactly.
"""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

import dasklr
from dasklr.cli.main import main
from dasklr.data.synthetic import make_classification, write_parquet_dataset

BOUNDS = {"x0": (None, 0.5), "x1": (0.0, None), "x3": (-0.2, 0.2)}


def _data(seed=0, n=700):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1.0, 2.0, 0.5, 1.5, 1.0] + 0.2
    y = (X @ [1.5, -0.4, 2.0, 0.8, -1.0] + 0.3 + rng.logistic(size=n) > 0).astype(float)
    return X, y


def _scipy(X, y, alpha, l1_ratio, bounds, scale):
    n, d = X.shape
    sigma = np.ones(d) if scale is None else scale
    l2, l1 = alpha * (1 - l1_ratio), alpha * l1_ratio
    box = [(None, None)] * d
    for name, (lo, hi) in bounds.items():
        box[int(name[1:])] = (lo, hi)
    signs = np.array(
        [
            1.0 if (lo is not None and lo >= 0) else -1.0 if (hi is not None and hi <= 0) else 0.0
            for lo, hi in box
        ]
    )
    if l1:
        assert np.all(signs != 0), "with L1 every coefficient needs a sign here"

    def parts(x):
        theta, b = x[:d], x[-1]
        z = X @ theta + b
        residual = (expit(z) - y) / n
        value = (
            np.mean(np.logaddexp(0, z) - y * z)
            + 0.5 * l2 * np.sum((theta * sigma) ** 2)
            + l1 * np.sum(sigma * signs * theta)
        )
        grad = np.append(
            X.T @ residual + l2 * sigma**2 * theta + l1 * sigma * signs, residual.sum()
        )
        return value, grad

    result = minimize(
        parts,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[*box, (None, None)],
        options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 20000, "maxcor": 30},
    )
    return result.x[:d], result.fun, box


def _at_bound(theta, box, atol=1e-9):
    return [
        (lo is not None and abs(t - lo) <= atol) or (hi is not None and abs(t - hi) <= atol)
        for t, (lo, hi) in zip(theta, box, strict=True)
    ]


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("standardize", [False, True])
def test_bounds_match_scipy_l_bfgs_b(solver, standardize):
    X, y = _data()
    model = dasklr.LogisticRegression(
        alpha=0.01,
        solver=solver,
        tol=1e-9,
        max_iter=1000,
        standardize=standardize,
        bounds=BOUNDS,
    ).fit(X, y)
    theta, best, box = _scipy(X, y, 0.01, 0.0, BOUNDS, X.std(axis=0) if standardize else None)
    assert model.converged_
    assert model.history_[-1]["objective"] == pytest.approx(best, rel=1e-8)
    assert _at_bound(model.coef_[0], box) == _at_bound(theta, box, atol=1e-6)
    assert any(_at_bound(theta, box, atol=1e-6))  # the test holds active bounds
    np.testing.assert_allclose(model.coef_[0], theta, rtol=0, atol=1e-5)
    for t, (lo, hi) in zip(model.coef_[0], box, strict=True):  # exactly feasible
        assert (lo is None or t >= lo) and (hi is None or t <= hi)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_sign_bounds_with_l1(solver):
    """Non-negative / non-positive lasso: bounds and L1 in the same non-smooth part."""
    X, y = _data(1)
    signs = {
        "x0": (0.0, None),
        "x1": (None, 0.0),
        "x2": (0.0, None),
        "x3": (None, 0.0),
        "x4": (0.0, None),
    }
    model = dasklr.LogisticRegression(
        alpha=0.02, l1_ratio=1.0, solver=solver, tol=1e-9, max_iter=2000, bounds=signs
    ).fit(X, y)
    theta, best, _ = _scipy(X, y, 0.02, 1.0, signs, None)
    assert model.history_[-1]["objective"] == pytest.approx(best, rel=1e-8)
    np.testing.assert_array_equal(model.coef_[0] == 0, np.abs(theta) < 1e-7)
    np.testing.assert_allclose(model.coef_[0], theta, rtol=0, atol=1e-5)


def test_inactive_bounds_change_nothing():
    X, y = _data(2)
    free = dasklr.LogisticRegression(alpha=0.01, tol=1e-10).fit(X, y)
    loose = dasklr.LogisticRegression(alpha=0.01, tol=1e-10, bounds={"x0": (-100.0, 100.0)}).fit(
        X, y
    )
    np.testing.assert_allclose(loose.coef_, free.coef_, rtol=0, atol=1e-9)
    assert loose.summary().std_errors.shape == free.summary().std_errors.shape


def test_active_bounds_have_no_standard_errors_and_bad_bounds_are_refused():
    X, y = _data(3, n=200)
    held = dasklr.LogisticRegression(alpha=0.01, bounds={"x2": (None, 0.0)}).fit(X, y)
    assert held.coef_[0, 2] == 0.0
    with pytest.raises(ValueError, match="held at a bound"):
        held.summary()
    for bounds, message in [
        ({"x2": (1.0, 0.0)}, "low <= high"),
        ({"price": (None, 0.0)}, "'price', which is not a feature"),
    ]:
        with pytest.raises(dasklr.ConfigError, match=message):
            dasklr.LogisticRegression(bounds=bounds).fit(X, y)
    with pytest.raises(dasklr.ConfigError, match="not 'gd'"):
        dasklr.LogisticRegression(solver="gd", bounds={"x0": (0.0, 1.0)}).fit(X, y)
    with pytest.raises(dasklr.ConfigError, match="binary models"):
        dasklr.LogisticRegression(bounds={"x0": (0.0, 1.0)}).fit(X, np.arange(200) % 3)


def test_bounds_from_a_config_file(tmp_path, cluster):
    X, y, _, _ = make_classification(1500, 4, seed=12)
    write_parquet_dataset(tmp_path / "data", X, y, n_files=2, row_group_rows=500)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\npath = "{tmp_path / "data"}"\nlabel = "y"\n'
        "[model]\nalpha = 0.01\ntol = 1e-9\nbounds = { x0 = [-inf, 0.0], x1 = [0.1, inf] }\n"
        f'[cluster]\nscheduler = "{cluster.scheduler_address}"\n'
        f'[output]\npath = "{tmp_path / "model"}"\n'
    )
    assert main(["train", "--quiet", str(config)]) == 0
    reference = dasklr.LogisticRegression(
        alpha=0.01,
        tol=1e-9,
        bounds={"x0": (None, 0.0), "x1": (0.1, None)},
        client=cluster.scheduler_address,
    ).fit(dasklr.read_parquet(tmp_path / "data", label="y"))
    model = dasklr.load_model(tmp_path / "model")
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert model.bounds == {"x0": [None, 0.0], "x1": [0.1, None]}  # JSON has no inf
