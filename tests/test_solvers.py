"""Every solver reaches the same optimum as scikit-learn and statsmodels, in few passes.

scikit-learn's C = 1/(alpha·Σw) (see test_against_sklearn.py for the derivation). The
objectives of both fits are computed here in plain NumPy, independent of dasklr.
"""

import itertools

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

import dasklr
from dasklr.data.synthetic import make_classification, write_parquet_dataset
from dasklr.fit.objective import LogisticObjective
from dasklr.kernels.logistic import LogisticSums, Probe, logistic_sums, probe_sums
from dasklr.kernels.summary import summary_sums
from dasklr.solvers.newton import NEWTON_MAX_FEATURES, newton_direction
from dasklr.solvers.registry import AUTO_NEWTON_MAX_FEATURES, choose_solver

SOLVERS = ["newton", "lbfgs", "gd", "auto"]


def objective(X, y, w, coef, intercept, alpha):
    """F of DESIGN.md in plain NumPy."""
    w = np.ones_like(y, dtype=np.float64) if w is None else w
    z = X @ coef + intercept
    return np.sum(w * (np.logaddexp(0.0, z) - y * z)) / np.sum(w) + 0.5 * alpha * coef @ coef


def sklearn_fit(X, y, w, alpha, fit_intercept=True, solver="lbfgs"):
    C = 1.0 / (alpha * (len(y) if w is None else w.sum()))  # C = 1/(alpha·Σw)
    model = SkLogisticRegression(
        C=C, tol=1e-12, max_iter=10_000, fit_intercept=fit_intercept, solver=solver
    )
    return model.fit(X, y, sample_weight=w)


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    path = tmp_path_factory.mktemp("bc")
    write_parquet_dataset(path, X, y.astype(np.int8), n_files=2, row_group_rows=100)
    return path, X, y.astype(np.float64)


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    X, y, _, _ = make_classification(3000, 6, seed=11)
    w = np.random.default_rng(11).uniform(0.1, 3.0, size=3000)
    path = tmp_path_factory.mktemp("weighted")
    write_parquet_dataset(path, X, y, sample_weight=w, n_files=3, row_group_rows=400)
    return path, X, y.astype(np.float64), w


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_breast_cancer_optimum(client, breast_cancer, solver, fit_intercept):
    path, X, y = breast_cancer
    alpha = 1e-2
    ours = dasklr.LogisticRegression(
        alpha=alpha,
        solver=solver,
        tol=1e-9,
        max_iter=2000,
        fit_intercept=fit_intercept,
        client=client,
    ).fit(dasklr.read_parquet(path, label="y"))
    theirs = sklearn_fit(X, y, None, alpha, fit_intercept)
    f_ours = objective(X, y, None, ours.coef_[0], ours.intercept_[0], alpha)
    f_theirs = objective(X, y, None, theirs.coef_[0], float(theirs.intercept_[0]), alpha)
    assert ours.converged_
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)  # the issue's tolerance
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)


@pytest.mark.parametrize("solver", SOLVERS)
def test_weighted_optimum(client, weighted, solver):
    path, X, y, w = weighted
    alpha = 1e-3
    ours = dasklr.LogisticRegression(
        alpha=alpha, solver=solver, tol=1e-9, max_iter=2000, client=client
    ).fit(dasklr.read_parquet(path, label="y", weight="w"))
    theirs = sklearn_fit(X, y, w, alpha)
    f_ours = objective(X, y, w, ours.coef_[0], ours.intercept_[0], alpha)
    f_theirs = objective(X, y, w, theirs.coef_[0], float(theirs.intercept_[0]), alpha)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_unpenalised_fit_matches_statsmodels_logit(client, tmp_path, solver):
    X, y, _, _ = make_classification(4000, 5, seed=21)  # noisy labels: not separable
    write_parquet_dataset(tmp_path, X, y, n_files=2, row_group_rows=500)
    ours = dasklr.LogisticRegression(alpha=0.0, solver=solver, tol=1e-10, client=client)
    ours.fit(dasklr.read_parquet(tmp_path, label="y"))
    result = sm.Logit(y.astype(np.float64), sm.add_constant(X)).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(ours.intercept_[0], result.params[0], rtol=1e-5)
    np.testing.assert_allclose(ours.coef_[0], result.params[1:], rtol=1e-5)  # issue: 1e-5


def test_newton_needs_few_passes_on_a_well_conditioned_problem(client, tmp_path):
    X, y, _, _ = make_classification(20_000, 8, seed=5)
    write_parquet_dataset(tmp_path, X, y, n_files=4, row_group_rows=2000)
    model = dasklr.LogisticRegression(alpha=1e-4, solver="newton", tol=1e-8, client=client)
    model.fit(dasklr.read_parquet(tmp_path, label="y"))
    assert model.converged_ and model.n_passes_ <= 10
    assert model.history_[-1]["passes"] == model.n_passes_  # the history counts honestly


def test_passes_are_counted_honestly(client, breast_cancer):
    """n_passes_ = 1 summary pass + one per evaluation, as counted by a callback."""
    path, _, _ = breast_cancer
    records = []
    model = dasklr.LogisticRegression(alpha=1e-2, solver="lbfgs", tol=1e-8, client=client)
    model.fit(dasklr.read_parquet(path, label="y"), callbacks=[records.append])
    passes = [r.passes for r in records]
    assert passes[0] == 1  # the summary pass gives the start
    assert all(b > a for a, b in itertools.pairwise(passes))  # ≥ 1 per step
    assert passes[-1] == model.n_passes_


def test_warm_start_starts_at_the_previous_optimum(client, breast_cancer):
    path, _, _ = breast_cancer
    data = dasklr.read_parquet(path, label="y")
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-8, warm_start=True, client=client)
    model.fit(data)
    first = model.coef_.copy()
    model.fit(data)
    # already at max|∇F| ≤ 1e-8: one pass to check, no step taken, same coefficients
    assert model.n_iter_ == 0 and model.n_passes_ == 1
    np.testing.assert_array_equal(model.coef_, first)


def test_single_class_is_an_error(client, tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 2))
    write_parquet_dataset(tmp_path, X, np.ones(50, dtype=np.int8))
    with pytest.raises(dasklr.DataError, match="single class"):
        dasklr.LogisticRegression(client=client).fit(dasklr.read_parquet(tmp_path, label="y"))


def test_auto_chooses_by_number_of_features():
    assert choose_solver("auto", AUTO_NEWTON_MAX_FEATURES) == "newton"
    assert choose_solver("auto", AUTO_NEWTON_MAX_FEATURES + 1) == "lbfgs"
    with pytest.raises(ValueError, match="at most 4096 coefficients"):
        choose_solver("newton", NEWTON_MAX_FEATURES + 1)


def test_newton_direction_is_safe_on_a_singular_hessian():
    # a duplicated feature: rank-deficient Hessian; the direction must stay finite and
    # descend (gᵀp < 0), and on a regular Hessian it is the exact solution (rtol 1e-12)
    A = np.random.default_rng(1).normal(size=(20, 3))
    A[:, 2] = A[:, 1]
    singular = A.T @ A
    g = np.array([1.0, -2.0, -2.0])
    p = newton_direction(singular, g)
    assert np.isfinite(p).all() and g @ p < 0
    regular = singular + np.eye(3)
    np.testing.assert_allclose(regular @ newton_direction(regular, g), -g, rtol=1e-12)


# -- kernel pieces behind the solvers --------------------------------------------------


def small_problem(seed=0, n=300, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    y = (rng.uniform(size=n) < 0.4).astype(np.float64)
    w = rng.uniform(0.1, 2.0, size=n)
    return X, y, w


def test_kernel_hessian_matches_per_row_sum():
    X, y, w = small_problem()
    coef, b = np.array([0.3, -0.2, 0.1, 0.05]), -0.4
    got = logistic_sums(X, y, w, coef, b, hessian=True).hessian
    expected = np.zeros((5, 5))
    for i in range(len(y)):
        xa = np.append(X[i], 1.0)
        h = 1.0 / (1.0 + np.exp(-(X[i] @ coef + b)))
        expected += w[i] * h * (1 - h) * np.outer(xa, xa)
    np.testing.assert_allclose(got, expected, rtol=1e-12)  # only summation order differs


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_matches_finite_differences_of_the_gradient(fit_intercept):
    X, y, w = small_problem(seed=3)
    objective = LogisticObjective(
        lambda probe: probe_sums(X, y, w, probe), 4, alpha=0.3, fit_intercept=fit_intercept
    )
    params = np.random.default_rng(3).normal(scale=0.3, size=objective.n_params)
    hessian = objective.evaluate(params, hessian=True).hessian
    eps = 1e-6
    numeric = np.empty_like(hessian)
    for j in range(objective.n_params):
        e = np.zeros(objective.n_params)
        e[j] = eps
        upper = objective.evaluate(params + e).grad
        lower = objective.evaluate(params - e).grad
        numeric[:, j] = (upper - lower) / (2 * eps)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-9)  # central differences


def test_losses_along_a_line_equal_direct_evaluations():
    X, y, w = small_problem(seed=4)
    objective = LogisticObjective(lambda probe: probe_sums(X, y, w, probe), 4, alpha=0.2)
    params = np.array([0.1, 0.2, -0.3, 0.0, 0.5])
    direction = np.array([1.0, -0.5, 0.25, 2.0, -1.0])
    steps = np.array([-0.5, -0.75, 0.5, 1e-3])
    along = objective.evaluate(params, direction=direction, steps=steps).step_losses
    direct = [objective.evaluate(params + s * direction).loss for s in steps]
    np.testing.assert_allclose(along, direct, rtol=1e-13)  # same sums, other rounding


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_summary_start_equals_a_direct_evaluation(fit_intercept):
    X, y, w = small_problem(seed=5)
    objective = LogisticObjective(
        lambda probe: probe_sums(X, y, w, probe), 4, alpha=0.1, fit_intercept=fit_intercept
    )
    parts = [
        summary_sums(X[i : i + 100], y[i : i + 100], w[i : i + 100], True) for i in (0, 100, 200)
    ]
    params, start = objective.start(parts[0] + parts[1] + parts[2])
    if fit_intercept:  # the weighted log-odds of the labels
        p = (w @ y) / w.sum()
        assert params[-1] == pytest.approx(np.log(p / (1 - p)), rel=1e-14)
    direct = objective.evaluate(params, hessian=True)
    assert start.loss == pytest.approx(direct.loss, rel=1e-13)
    np.testing.assert_allclose(start.grad, direct.grad, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(start.hessian, direct.hessian, rtol=1e-12)
    diagonal_only = summary_sums(X, y, w, False)
    full = summary_sums(X, y, w, True)
    np.testing.assert_allclose(diagonal_only.spread, full.spread, rtol=1e-13)
    # Chan's merge of chunk spreads equals the two-pass weighted variance (rtol 1e-12)
    merged = parts[0] + parts[1] + parts[2]
    mean = np.average(X, axis=0, weights=w)
    np.testing.assert_allclose(merged.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(merged.spread, ((X - mean) ** 2).T @ w, rtol=1e-12)


def test_merged_sums_keep_the_optional_parts():
    X, y, w = small_problem(seed=6)
    coef = np.array([0.1, 0.0, -0.1, 0.2])
    probe = Probe(coef, 0.1, hessian=True, direction=np.ones(5), steps=np.array([-0.5]))
    halves = [probe_sums(X[s], y[s], w[s], probe) for s in (slice(0, 150), slice(150, None))]
    whole = probe_sums(X, y, w, probe)
    merged = halves[0] + halves[1]
    assert isinstance(merged, LogisticSums)
    np.testing.assert_allclose(merged.hessian, whole.hessian, rtol=1e-12)
    np.testing.assert_allclose(merged.step_losses, whole.step_losses, rtol=1e-12)


# -- standardisation -------------------------------------------------------------------


@pytest.fixture(scope="module")
def unscaled(tmp_path_factory):
    """Features of very different scales and offsets, and one constant column."""
    X, y, _, _ = make_classification(2500, 5, seed=17)
    X = X * np.array([1e-3, 1.0, 50.0, 3.0, 1e3]) + np.array([5.0, -2.0, 100.0, 0.0, 1e4])
    X = np.column_stack([X, np.full(len(y), 7.0)])  # constant
    w = np.random.default_rng(17).uniform(0.5, 2.0, size=len(y))
    path = tmp_path_factory.mktemp("unscaled")
    write_parquet_dataset(path, X, y, sample_weight=w, n_files=2, row_group_rows=500)
    return path, X, y.astype(np.float64), w


# Without an intercept the scaled features keep their means (up to 3000 standard
# deviations here), which leaves plain gradient descent thousands of passes from tol:
# the few-pass solvers are the ones standardisation is for.
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "auto"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize_matches_sklearn_on_scaled_features(client, unscaled, solver, fit_intercept):
    path, X, y, w = unscaled
    alpha = 1e-2
    ours = dasklr.LogisticRegression(
        alpha=alpha,
        solver=solver,
        standardize=True,
        fit_intercept=fit_intercept,
        tol=1e-9,
        max_iter=3000,
        client=client,
    ).fit(dasklr.read_parquet(path, label="y", weight="w"))
    # the reference scales with the weighted mean and population std; without an
    # intercept (as Spark MLlib) the features are scaled but not centred
    mean = np.average(X, axis=0, weights=w)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    # the constant column: dropped (coefficient 0) beside an intercept; without one it
    # plays the intercept's part and keeps its original scale
    std[5] = 1.0
    scaled = (X - (mean if fit_intercept else 0.0)) / std
    if fit_intercept:
        scaled[:, 5] = 0.0
    # scikit-learn's lbfgs (1.9) stops 5% short along the constant column without an
    # intercept (an ill-conditioned direction); its newton-cholesky reaches the optimum
    theirs = sklearn_fit(scaled, y, w, alpha, fit_intercept, solver="newton-cholesky")
    # coef_ is in original units: θ = θ̃/σ, b = b̃ − θ·μ
    ours_scaled = ours.coef_[0] * std
    intercept_scaled = ours.intercept_[0] + (ours.coef_[0] @ mean if fit_intercept else 0.0)
    f_ours = objective(scaled, y, w, ours_scaled, intercept_scaled, alpha)
    f_theirs = objective(scaled, y, w, theirs.coef_[0], float(theirs.intercept_[0]), alpha)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)
    np.testing.assert_allclose(ours_scaled, theirs.coef_[0], atol=1e-4)
    if fit_intercept:
        assert ours.coef_[0, 5] == 0.0  # the constant feature, exactly
    # predictions on the original features equal the reference's on the scaled ones
    np.testing.assert_allclose(
        ours.predict_proba(X)[:, 1], theirs.predict_proba(scaled)[:, 1], atol=1e-6
    )


def test_standardize_warm_start_round_trips(client, unscaled):
    path, _, _, _ = unscaled
    data = dasklr.read_parquet(path, label="y", weight="w")
    model = dasklr.LogisticRegression(
        alpha=1e-2, standardize=True, warm_start=True, tol=1e-9, client=client
    )
    first = model.fit(data).coef_.copy()
    model.fit(data)
    # summary pass for the scaling + one evaluation at the previous optimum, no step
    assert model.n_iter_ == 0 and model.n_passes_ == 2
    np.testing.assert_allclose(model.coef_, first, rtol=1e-12)


# -- class weights ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory):
    X, y, _, _ = make_classification(3000, 4, seed=23)
    y = X @ np.array([0.5, -0.3, 0.2, 0.1]) + np.random.default_rng(23).logistic(size=3000) > 1.8
    y = y.astype(np.int8)  # about 1 positive in 6
    w = np.random.default_rng(24).uniform(0.5, 2.0, size=3000)
    path = tmp_path_factory.mktemp("imbalanced")
    write_parquet_dataset(path, X, y, sample_weight=w, n_files=2, row_group_rows=500)
    return path, X, y.astype(np.float64), w


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("class_weight", ["balanced", {0: 0.5, 1: 3.0}])
def test_class_weight_matches_sklearn(client, imbalanced, solver, class_weight):
    path, X, y, w = imbalanced
    alpha = 1e-3
    ours = dasklr.LogisticRegression(
        alpha=alpha, solver=solver, class_weight=class_weight, tol=1e-9, client=client
    ).fit(dasklr.read_parquet(path, label="y", weight="w"))
    # scikit-learn: "balanced" is W / (2·W_c) over the sample-weighted class totals,
    # multiplied into sample_weight; dasklr's objective divides by the total effective
    # weight, so C = 1/(alpha·Σ w·c_y)
    totals = np.bincount(y.astype(int), weights=w)
    per_class = w.sum() / (2.0 * totals) if class_weight == "balanced" else np.array([0.5, 3.0])
    effective = w * per_class[y.astype(int)]
    theirs = SkLogisticRegression(
        C=1.0 / (alpha * effective.sum()), class_weight=class_weight, tol=1e-12, max_iter=10_000
    ).fit(X, y, sample_weight=w)
    f_ours = objective(X, y, effective, ours.coef_[0], ours.intercept_[0], alpha)
    f_theirs = objective(X, y, effective, theirs.coef_[0], float(theirs.intercept_[0]), alpha)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    # and the weights matter: without them the intercept is far lower
    assert ours.intercept_[0] > sklearn_fit(X, y, w, alpha).intercept_[0] + 0.3


def test_class_weight_is_saved_and_loaded(client, imbalanced, tmp_path):
    path, X, _, _ = imbalanced
    model = dasklr.LogisticRegression(alpha=1e-3, class_weight={0: 1.0, 1: 2.0}, client=client)
    model.fit(dasklr.read_parquet(path, label="y", weight="w"))
    model.save(tmp_path / "m")
    loaded = dasklr.load_model(tmp_path / "m")
    assert loaded.class_weight == {0: 1.0, 1: 2.0}
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_invalid_class_weight(client):
    with pytest.raises(ValueError, match="class_weight must be"):
        dasklr.LogisticRegression(class_weight={0: -1.0}).fit_options()
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    model = dasklr.LogisticRegression(class_weight={2: 1.0}, client=client)
    with pytest.raises(ValueError, match=r"names \[2\], which are not classes of the data"):
        model.fit(X, y)


# -- L1 and elastic net ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse_truth(tmp_path_factory):
    """Standardised features, of which only 3 of 10 enter the true model."""
    rng = np.random.default_rng(31)
    X = rng.normal(size=(4000, 10))
    truth = np.array([1.5, 0, 0, -2.0, 0, 0, 0, 0.8, 0, 0])
    y = (rng.uniform(size=4000) < 1 / (1 + np.exp(-(X @ truth - 0.3)))).astype(np.int8)
    path = tmp_path_factory.mktemp("sparse")
    write_parquet_dataset(path, X, y, n_files=2, row_group_rows=1000)
    return path, X, y.astype(np.float64), truth


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_elastic_net_matches_sklearn_saga(client, sparse_truth, l1_ratio, solver):
    path, X, y, truth = sparse_truth
    alpha = 0.02
    ours = dasklr.LogisticRegression(
        alpha=alpha, l1_ratio=l1_ratio, solver=solver, tol=1e-10, client=client
    )
    ours.fit(dasklr.read_parquet(path, label="y"))
    # scikit-learn: C·Σ loss + (1 − l1_ratio)/2·‖θ‖² + l1_ratio·‖θ‖₁, i.e. ours times C·n
    # with C = 1/(alpha·n)
    theirs = SkLogisticRegression(
        C=1.0 / (alpha * len(y)),
        l1_ratio=l1_ratio,  # scikit-learn >= 1.8: l1_ratio alone selects the penalty
        solver="saga",
        tol=1e-12,
        max_iter=100_000,
    ).fit(X, y)
    assert ours.converged_ and ours.solver_ == solver
    # the same support: exact zeros in coef_, where scikit-learn has (near) zeros
    support = np.flatnonzero(ours.coef_[0])
    np.testing.assert_array_equal(support, np.flatnonzero(np.abs(theirs.coef_[0]) > 1e-8))
    assert set(support) >= set(np.flatnonzero(truth))  # the true features survive
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)  # the issue's tolerance
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-4)
    # proximal Newton: a handful of passes; OWL-QN: one pass per trial step
    assert ours.n_passes_ <= (15 if solver == "newton" else 60)


def test_l1_optimality_conditions_hold(client, sparse_truth):
    """At the optimum |∂F/∂θⱼ| ≤ λ where θⱼ = 0 and ∂F/∂θⱼ = −λ·sign(θⱼ) elsewhere."""
    path, X, y, _ = sparse_truth
    alpha, l1_ratio = 0.05, 0.8
    model = dasklr.LogisticRegression(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, client=client)
    model.fit(dasklr.read_parquet(path, label="y"))
    coef, b = model.coef_[0], model.intercept_[0]
    p = 1 / (1 + np.exp(-(X @ coef + b)))
    smooth = X.T @ (p - y) / len(y) + alpha * (1 - l1_ratio) * coef  # plain NumPy
    lam = alpha * l1_ratio
    zero = coef == 0
    assert zero.any() and (~zero).any()
    assert np.all(np.abs(smooth[zero]) <= lam + 1e-9)
    np.testing.assert_allclose(smooth[~zero], -lam * np.sign(coef[~zero]), atol=1e-9)
    assert abs(np.mean(p - y)) < 1e-10  # the unpenalised intercept


def test_invalid_weights_and_penalties_are_refused():
    for params in ({"class_weight": {0: 0.0, 1: 1.0}}, {"alpha": float("inf")}, {"tol": 0.0}):
        with pytest.raises(ValueError):
            dasklr.LogisticRegression(**params).fit_options()
    assert choose_solver("auto", NEWTON_MAX_FEATURES + 1, l1=True) == "lbfgs"  # OWL-QN


def test_standardize_hessian_transform_equals_the_dense_jacobian():
    """Jᵀ·H·J applied in O(d²) equals the product with J built densely (rtol 1e-13)."""
    from dasklr.fit.objective import Scaling

    rng = np.random.default_rng(8)
    A = rng.normal(size=(5, 5))
    H = A @ A.T
    scaling = Scaling(mean=rng.normal(size=4), inverse_scale=rng.uniform(0.5, 2.0, size=4))
    objective = LogisticObjective(lambda probe: None, 4, alpha=0.0, scaling=scaling)
    J = np.zeros((5, 5))
    J[np.arange(4), np.arange(4)] = scaling.inverse_scale
    J[4, :4] = -scaling.inverse_scale * scaling.mean
    J[4, 4] = 1.0
    np.testing.assert_allclose(objective._hessian(H), J.T @ H @ J, rtol=1e-13)
    p = rng.normal(size=5)
    np.testing.assert_allclose(objective._direction_to_original(p), J @ p, rtol=1e-13)


def test_single_class_is_an_error_on_a_warm_start_too(client, tmp_path):
    # a warm start skips the summary pass; the first evaluation must still refuse it
    X = np.random.default_rng(1).normal(size=(60, 2))
    both, single = tmp_path / "both", tmp_path / "single"
    write_parquet_dataset(both, X, (X[:, 0] > 0).astype(np.int8))
    write_parquet_dataset(single, X, np.zeros(60, dtype=np.int8))
    model = dasklr.LogisticRegression(alpha=0.1, warm_start=True, client=client)
    model.fit(dasklr.read_parquet(both, label="y"))
    with pytest.raises(dasklr.DataError, match="single class"):
        model.fit(dasklr.read_parquet(single, label="y"))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("standardize", [False, True])
def test_hessian_diagonal_pass_equals_the_full_hessians_diagonal(n_classes, standardize):
    """diag(∇²F) from O(n·d) sums (warm-started L-BFGS) = the diagonal of the full ∇²F."""
    from dasklr.fit.objective import Scaling
    from dasklr.kernels.summary import summary_sums

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4)) * [1.0, 5.0, 0.2, 3.0] + [0.0, 2.0, -1.0, 10.0]
    y = rng.integers(0, n_classes, size=300).astype(float)
    w = rng.uniform(0.5, 2.0, size=300)
    summary = summary_sums(X, y, w, False, n_classes)
    objective = LogisticObjective(
        lambda probe: probe_sums(X, y, w, probe),
        4,
        alpha=0.05,
        n_classes=n_classes,
        scaling=Scaling.from_summary(summary, center=True) if standardize else None,
    )
    params = rng.normal(scale=0.3, size=objective.n_params)
    full = objective.evaluate(params, hessian=True).hessian
    diagonal = objective.evaluate(params, diagonal=True).hessian_diagonal
    np.testing.assert_allclose(diagonal, np.diag(full), rtol=1e-12)  # same sums, reordered


@pytest.mark.parametrize(
    ("solver", "l1_ratio"),
    [("gd", 0.0), ("newton", 0.0), ("lbfgs", 0.0), ("newton", 0.5), ("lbfgs", 0.5)],
)
def test_resuming_from_a_remembered_state_repeats_the_run_bit_for_bit(solver, l1_ratio):
    """A solver continued from state k's memory yields exactly the states it would have."""
    from dasklr.solvers.registry import SOLVERS, solve
    from dasklr.solvers.state import NonSmooth

    X, y, _ = _problem()
    objective = LogisticObjective(
        lambda probe: probe_sums(X, y, None, probe), X.shape[1], alpha=0.01, l1_ratio=l1_ratio
    )
    extra = {"penalty": NonSmooth(objective.l1_strength)} if l1_ratio else {}
    x0 = np.zeros(objective.n_params)
    run = SOLVERS[solver].run
    states = list(solve(run(x0, None, tol=1e-10, max_iter=60, **extra), objective.evaluate))
    assert len(states) >= 5
    k = 3
    resumed = list(
        solve(run(x0, None, tol=1e-10, max_iter=60, resume=states[k], **extra), objective.evaluate)
    )
    assert [s.iteration for s in resumed] == [s.iteration for s in states[k + 1 :]]
    for a, b in zip(resumed, states[k + 1 :], strict=True):
        np.testing.assert_array_equal(a.params, b.params)
        assert a.objective == b.objective


def _problem():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(400, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0]
    y = (rng.uniform(size=400) < 1 / (1 + np.exp(-(X @ [1.0, -0.5, 2.0, 0.0, 0.3])))).astype(float)
    return X, y, None
