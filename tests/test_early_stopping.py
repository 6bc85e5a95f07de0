"""Early stopping on held-out rows: the kept iteration is the one with the lowest held-out
log-loss, measured independently in NumPy, and it is the fit that stops there."""

import numpy as np
import pytest

import dasklr
from dasklr.kernels.folds import held_out


def overfitting_data(n=600, d=120, seed=0):
    """Few informative features among many: an unpenalised fit overfits as it converges."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, :3] @ [1.0, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(float)
    return X, y


def held_out_log_loss(model, X, y, held):
    p = model.predict_proba(X[held])[:, 1]
    return float(-np.mean(y[held] * np.log(p) + (1 - y[held]) * np.log1p(-p)))


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_keeps_the_iteration_with_the_lowest_held_out_loss(client, solver):
    X, y = overfitting_data()
    model = dasklr.LogisticRegression(
        solver=solver,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        max_iter=300,
        client=client,
    ).fit(X, y)
    held = held_out(np.arange(len(y)), 0.2)
    assert 0.15 < held.mean() < 0.25
    losses = [h["validation_loss"] for h in model.history_ if h["validation_loss"] is not None]
    best = min(losses)
    # independent: the kept model's log-loss on the held-out rows, in NumPy
    assert held_out_log_loss(model, X, y, held) == pytest.approx(best, rel=1e-12)
    best_iteration = next(h["iteration"] for h in model.history_ if h["validation_loss"] == best)
    assert model.n_iter_ == best_iteration
    assert model.history_[-1]["iteration"] == best_iteration + 3  # patience, then stop
    assert not model.converged_ and "early stopping" in model.message_
    # the same fit without early stopping, on the training rows only, stopped there
    again = dasklr.LogisticRegression(solver=solver, max_iter=best_iteration, client=client)
    with pytest.warns(dasklr.ConvergenceWarning):
        again.fit(X, y, sample_weight=np.where(held, 0.0, 1.0))
    np.testing.assert_array_equal(again.coef_, model.coef_)


def test_newton_keeps_its_best_iteration_even_after_converging(client):
    """Newton converges in a few iterations; if the held-out loss was lower before the
    end, that iteration is kept (and said so), else the converged one."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, 4))
    y = (X @ [1.0, -1.0, 0.5, 0.0] + rng.logistic(size=5000) > 0).astype(float)
    model = dasklr.LogisticRegression(
        solver="newton", alpha=1e-3, early_stopping=True, client=client
    ).fit(X, y)
    records = [h for h in model.history_ if h["validation_loss"] is not None]
    best = min(records, key=lambda h: h["validation_loss"])
    assert model.n_iter_ == best["iteration"]
    held = held_out(np.arange(len(y)), 0.1)
    assert held_out_log_loss(model, X, y, held) == pytest.approx(best["validation_loss"], rel=1e-12)
    if best is records[-1]:
        assert model.converged_
    else:
        assert "until the fit converged" in model.message_ and not model.converged_


@pytest.mark.parametrize(
    "params, message",
    [
        ({"validation_fraction": 1.0}, "validation_fraction must be in"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be an integer >= 1"),
    ],
)
def test_bad_early_stopping_parameters(client, params, message):
    X, y = overfitting_data(100, 3)
    with pytest.raises(ValueError, match=message):
        dasklr.LogisticRegression(early_stopping=True, client=client, **params).fit(X, y)
