"""Multinomial (K > 2 classes) logistic regression against independent references.

dasklr minimises, over one coefficient row θ_k and intercept b_k per class,

    F = (1/Σw)·Σ w·[logsumexp(z) − z_y] + alpha·(l1_ratio·‖Θ‖₁ + (1 − l1_ratio)/2·‖Θ‖²_F)

with z = Θ·x + b, and scikit-learn's multinomial LogisticRegression minimises C·Σ w·[…] plus
the same penalty without alpha: C·Σw times F, so C = 1/(alpha·Σw), Σw counting class
weights. The references are scikit-learn's "newton-cholesky" (tol 1e-12: its probabilities
agree with the optimum to ~1e-11 on digits, where lbfgs at tol 1e-12 is off by ~1e-5) and
"saga" for L1, and F is computed here in plain NumPy (``objective``), independent of dasklr.
"""

import functools

import dask.array as da
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from threadpoolctl import threadpool_limits

import dasklr
from dasklr import DataError
from dasklr.data.synthetic import write_parquet_dataset
from dasklr.fit.objective import LogisticObjective, Scaling
from dasklr.kernels.logistic import probe_sums
from dasklr.kernels.summary import summary_sums

SPECIES = np.array(["setosa", "versicolor", "virginica"])


@functools.cache
def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a bundled scikit-learn dataset; y holds class indices 0..K−1."""
    X, y = (load_iris if name == "iris" else load_digits)(return_X_y=True)
    return X.astype(np.float64), y.astype(np.int64)


def objective(X, y, w, coef, intercept, alpha, l1_ratio=0.0):
    """F above in plain NumPy: mean weighted softmax log-loss plus the elastic-net penalty.

    ``y`` holds class indices; ``coef`` is (K, d), ``intercept`` (K,).
    """
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    Z = X @ coef.T + intercept
    top = Z.max(axis=1)
    log_normaliser = top + np.log(np.exp(Z - top[:, None]).sum(axis=1))
    loss = w @ (log_normaliser - Z[np.arange(len(y)), y]) / w.sum()
    penalty = l1_ratio * np.abs(coef).sum() + 0.5 * (1.0 - l1_ratio) * np.sum(coef * coef)
    return float(loss + alpha * penalty)


def smooth_gradient(X, y, w, coef, intercept, alpha, l1_ratio=0.0):
    """∇ of F's smooth part (loss + L2) in plain NumPy: ((K, d) for Θ, (K,) for b)."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    Z = X @ coef.T + intercept
    P = np.exp(Z - Z.max(axis=1)[:, None])
    P /= P.sum(axis=1)[:, None]
    P[np.arange(len(y)), y] -= 1.0
    P *= (w / w.sum())[:, None]
    return P.T @ X + alpha * (1.0 - l1_ratio) * coef, P.sum(axis=0)


def sklearn_fit(X, y, alpha, *, w=None, fit_intercept=True, class_weight=None):
    """scikit-learn's multinomial optimum (newton-cholesky, tol 1e-12), C = 1/(alpha·Σw).

    Σw is the effective weight: sample weights times the class weights scikit-learn applies
    (for "balanced", W/(K·W_k) over the sample-weighted class totals W_k).
    """
    effective = effective_weights(y, w, class_weight)
    model = SkLogisticRegression(
        C=1.0 / (alpha * effective.sum()),
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
        fit_intercept=fit_intercept,
        class_weight=class_weight,
    )
    # one BLAS thread: on two cores shared with the cluster's workers, OpenBLAS's
    # spinning threads make this fit 20 times slower (0.5 s → 10 s on digits)
    with threadpool_limits(1):
        return model.fit(X, y, sample_weight=w)


def effective_weights(y, w, class_weight):
    """Each row's weight times its class weight, as scikit-learn and dasklr apply them."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    classes, index = np.unique(y, return_inverse=True)
    if class_weight is None:
        per_class = np.ones(classes.size)
    elif class_weight == "balanced":
        totals = np.bincount(index, weights=w)
        per_class = w.sum() / (classes.size * totals)
    else:
        per_class = np.array([class_weight.get(c, 1.0) for c in classes.tolist()])
    return w * per_class[index]


@functools.cache
def standardized_reference(name: str, alpha: float):
    """scikit-learn fitted on StandardScaler'd features (ddof = 0, the population σ that
    dasklr uses) with the constant columns dropped (digits has all-zero pixels, where
    dasklr's coefficient is 0): (Xs, kept columns, μ, σ, fitted model)."""
    X, y = dataset(name)
    mean, std = X.mean(axis=0), X.std(axis=0)
    kept = std > 0
    Xs = (X[:, kept] - mean[kept]) / std[kept]
    return Xs, kept, mean, std, sklearn_fit(Xs, y, alpha)


@functools.cache
def raw_reference(name: str, alpha: float):
    X, y = dataset(name)
    return sklearn_fit(X, y, alpha)


def to_standardized(model, kept, mean, std):
    """dasklr's coefficients in original units → those of the standardised kept columns:
    θ̃ = θ·σ, b̃ = b + θ·μ (the inverse of coef = θ̃/σ, intercept = b̃ − θ̃·μ/σ)."""
    coef = model.coef_[:, kept] * std[kept]
    return coef, model.intercept_ + model.coef_ @ mean


def fit(client, X, y, **params):
    return dasklr.LogisticRegression(client=client, **params).fit(X, y)


# -- 1. the default solver matches scikit-learn ------------------------------------------


@pytest.mark.parametrize(("name", "alpha"), [("iris", 1e-2), ("digits", 1e-3)])
def test_default_solver_matches_sklearn_multinomial(client, name, alpha):
    X, y = dataset(name)
    K, d = np.unique(y).size, X.shape[1]
    ours = fit(client, X, y, alpha=alpha, tol=1e-8)
    theirs = raw_reference(name, alpha)
    assert ours.converged_ and ours.solver_ == "newton"  # auto: K·d <= 1024 coefficients
    assert ours.coef_.shape == (K, d) and ours.intercept_.shape == (K,)
    np.testing.assert_array_equal(ours.classes_, np.arange(K))
    probabilities = ours.predict_proba(X)
    assert probabilities.shape == (len(y), K)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    # the tolerance: predicted probabilities within 1e-5 (max abs)
    np.testing.assert_allclose(probabilities, theirs.predict_proba(X), rtol=0, atol=1e-5)
    f_ours = objective(X, y, None, ours.coef_, ours.intercept_, alpha)
    f_theirs = objective(X, y, None, theirs.coef_, theirs.intercept_, alpha)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)  # objective within 1e-8 rel
    assert np.mean(ours.predict(X) == theirs.predict(X)) >= 0.999
    assert ours.decision_function(X).shape == (len(y), K)
    assert abs(ours.intercept_.sum()) <= 1e-8  # centred intercepts (the gauge)
    assert ours.score(X, y) == pytest.approx(np.mean(theirs.predict(X) == y), abs=1e-3)


# -- 2. every solver reaches the same optimum --------------------------------------------

# (dataset, solver, standardize, alpha, tol, max_iter). L-BFGS and GD take hundreds to
# thousands of passes on unscaled features, so they run standardised; GD on digits gets a
# stronger penalty (alpha 5e-2: ~350 passes) to stay within a few seconds.
SOLVER_CASES = [
    ("iris", "newton", False, 1e-2, 1e-9, 100),
    ("iris", "newton", True, 1e-2, 1e-9, 100),
    ("iris", "lbfgs", True, 1e-2, 1e-8, 1000),
    ("iris", "gd", True, 1e-2, 1e-7, 2000),
    ("digits", "newton", False, 1e-2, 1e-9, 100),
    ("digits", "newton", True, 1e-2, 1e-9, 100),
    ("digits", "lbfgs", True, 1e-2, 1e-7, 1000),
    ("digits", "gd", True, 5e-2, 3e-7, 2000),
]


@pytest.mark.parametrize(
    ("name", "solver", "standardize", "alpha", "tol", "max_iter"), SOLVER_CASES
)
def test_every_solver_reaches_sklearns_optimum(
    client, name, solver, standardize, alpha, tol, max_iter
):
    X, y = dataset(name)
    ours = fit(
        client,
        X,
        y,
        alpha=alpha,
        solver=solver,
        standardize=standardize,
        tol=tol,
        max_iter=max_iter,
    )
    assert ours.converged_ and ours.solver_ == solver
    if standardize:
        Xs, kept, mean, std, theirs = standardized_reference(name, alpha)
        coef, intercept = to_standardized(ours, kept, mean, std)
        assert np.all(ours.coef_[:, ~kept] == 0)  # constant columns get coefficient 0
        # the objective dasklr minimised: the penalty is on the standardised coefficients
        f_ours = objective(Xs, y, None, coef, intercept, alpha)
        f_theirs = objective(Xs, y, None, theirs.coef_, theirs.intercept_, alpha)
        their_probabilities = theirs.predict_proba(Xs)
        # the solver's intercepts are b̃; Σ_k ∂F/∂b̃_k = K·Σ_k b̃_k (the gauge), so
        # max|∇F| <= tol bounds |Σ_k b̃_k| by tol
        assert abs(intercept.sum()) <= tol
    else:
        theirs = raw_reference(name, alpha)
        coef, intercept = ours.coef_, ours.intercept_
        f_ours = objective(X, y, None, coef, intercept, alpha)
        f_theirs = objective(X, y, None, theirs.coef_, theirs.intercept_, alpha)
        their_probabilities = theirs.predict_proba(X)
        assert abs(intercept.sum()) <= tol
    # coefficients and intercepts (in standardised units where standardised) within 1e-4:
    # up to 2.4e-5 apart at these tolerances, ~1e-13 for Newton on raw features
    np.testing.assert_allclose(coef, theirs.coef_, rtol=0, atol=1e-4)
    np.testing.assert_allclose(intercept, theirs.intercept_, rtol=0, atol=1e-4)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)  # the tolerance
    # a sanity margin over the ~5e-6 that tol 1e-7 leaves in the probabilities
    np.testing.assert_allclose(ours.predict_proba(X), their_probabilities, rtol=0, atol=1e-4)


# -- 3. intercept, sample weights and class weights --------------------------------------


@pytest.fixture(scope="module")
def imbalanced_iris():
    """Iris with 50, 30 and 12 rows of its classes, species names as labels, and random
    positive sample weights."""
    X, y = dataset("iris")
    rows = np.concatenate([np.arange(50), np.arange(50, 80), np.arange(100, 112)])
    w = np.random.default_rng(3).uniform(0.2, 3.0, size=rows.size)
    return X[rows], SPECIES[y[rows]], w


WEIGHT_CASES = {
    "no-intercept": {"fit_intercept": False},
    "sample-weight": {"weighted": True},
    "no-intercept-sample-weight": {"fit_intercept": False, "weighted": True},
    "balanced": {"class_weight": "balanced"},
    "balanced-sample-weight": {"class_weight": "balanced", "weighted": True},
    "dict": {"class_weight": {"setosa": 2.0, "virginica": 0.4}},  # versicolor weighs 1
    "dict-sample-weight": {"class_weight": {"versicolor": 3.0}, "weighted": True},
}


@pytest.mark.parametrize("case", list(WEIGHT_CASES))
def test_intercept_and_weights_match_sklearn(client, imbalanced_iris, case):
    X, labels, w = imbalanced_iris
    options = dict(WEIGHT_CASES[case])
    w = w if options.pop("weighted", False) else None
    fit_intercept = options.get("fit_intercept", True)
    class_weight = options.get("class_weight")
    alpha = 1e-2
    ours = dasklr.LogisticRegression(alpha=alpha, tol=1e-9, client=client, **options)
    ours.fit(X, labels, sample_weight=w)
    theirs = sklearn_fit(
        X, labels, alpha, w=w, fit_intercept=fit_intercept, class_weight=class_weight
    )
    assert ours.converged_
    np.testing.assert_array_equal(ours.classes_, SPECIES)
    # the tolerance: predicted probabilities within 1e-5 (max abs)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-5)
    y = np.searchsorted(SPECIES, labels)
    effective = effective_weights(labels, w, class_weight)
    f_ours = objective(X, y, effective, ours.coef_, ours.intercept_, alpha)
    f_theirs = objective(X, y, effective, theirs.coef_, theirs.intercept_, alpha)
    assert f_ours == pytest.approx(f_theirs, rel=1e-8, abs=0)
    if not fit_intercept:
        assert np.all(ours.intercept_ == 0)


def test_class_weights_change_the_fit(client, imbalanced_iris):
    """The weighted fits above are not the unweighted one by accident."""
    X, labels, _ = imbalanced_iris
    plain = fit(client, X, labels, alpha=1e-2, tol=1e-9)
    balanced = fit(client, X, labels, alpha=1e-2, tol=1e-9, class_weight="balanced")
    # the rarest class (virginica, 12 rows) gains probability when classes are balanced
    assert balanced.predict_proba(X)[:, 2].mean() > plain.predict_proba(X)[:, 2].mean() + 0.02


# -- 4. label types ----------------------------------------------------------------------

# class index 0, 1, 2 → label; classes_ is the labels sorted
LABELINGS = {
    "strings": SPECIES,
    "object-strings": SPECIES.astype(object),
    "shuffled-ints": np.array([10, 3, 7]),
    "whole-floats": np.array([2.0, -1.0, 4.0]),
    "int8": np.array([5, 1, 3], dtype=np.int8),
}


@pytest.fixture(scope="module")
def iris_index_fit(client):
    """The fit on class indices 0, 1, 2 that every relabelling must reproduce."""
    X, y = dataset("iris")
    return fit(client, X, y, alpha=1e-2, solver="newton", tol=1e-11)


@pytest.mark.parametrize("labeling", list(LABELINGS))
def test_label_types_give_sorted_classes_and_the_same_fit(client, iris_index_fit, labeling):
    X, y = dataset("iris")
    mapping = LABELINGS[labeling]
    labels = mapping[y]
    if labeling == "object-strings":
        labels = pd.Series(labels, dtype=object)  # what pandas hands over
    model = fit(client, X, labels, alpha=1e-2, solver="newton", tol=1e-11)
    expected_classes = np.sort(mapping.astype(str) if mapping.dtype == object else mapping)
    np.testing.assert_array_equal(model.classes_, expected_classes)
    # row k of coef_ belongs to classes_[k], i.e. to the class index that maps to it
    order = np.array([np.flatnonzero(mapping == c)[0] for c in model.classes_.tolist()])
    # the same data in another order of the classes: the same optimum (rtol 1e-8)
    np.testing.assert_allclose(model.coef_, iris_index_fit.coef_[order], rtol=1e-8)
    np.testing.assert_allclose(model.intercept_, iris_index_fit.intercept_[order], rtol=1e-8)
    predicted = model.predict(X)
    np.testing.assert_array_equal(predicted, mapping[iris_index_fit.predict(X)])
    assert model.score(X, labels) == pytest.approx(iris_index_fit.score(X, y), abs=0)


@pytest.mark.parametrize("dictionary", [False, True])
def test_parquet_string_labels_across_files_and_row_groups(client, tmp_path, dictionary):
    X, y = dataset("iris")
    labels = SPECIES[y]
    # iris is sorted by class: each of the three files holds rows of one class only, in
    # row groups of 20 rows (the last one short)
    for i, rows in enumerate(np.array_split(np.arange(len(y)), 3)):
        column = pa.array(labels[rows])
        columns = {f"f{j}": X[rows, j] for j in range(X.shape[1])}
        columns["species"] = column.dictionary_encode() if dictionary else column
        pq.write_table(pa.table(columns), tmp_path / f"part-{i}.parquet", row_group_size=20)
    # chunk_bytes below one row group's 20 × 6 × 8 bytes: every row group is a chunk
    data = dasklr.read_parquet(tmp_path, label="species", chunk_bytes=1000)
    assert data.X.numblocks[0] == 9  # 3 files × row groups of 20, 20 and 10 rows
    np.testing.assert_array_equal(data.classes, SPECIES)
    model = dasklr.LogisticRegression(alpha=1e-2, tol=1e-11, client=client).fit(data)
    reference = fit(client, X, labels, alpha=1e-2, tol=1e-11)  # the NumPy fit
    np.testing.assert_array_equal(model.classes_, SPECIES)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8)  # issue: rtol 1e-8
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=1e-8)
    assert list(model.feature_names_in_) == ["f0", "f1", "f2", "f3"]
    predicted = np.asarray(model.predict(data).compute())
    assert predicted.dtype.kind == "U"
    np.testing.assert_array_equal(predicted, reference.predict(X))
    assert float(model.score(data).compute()) == pytest.approx(reference.score(X, labels), abs=0)
    np.testing.assert_allclose(
        model.predict_proba(data).compute(), reference.predict_proba(X), rtol=0, atol=1e-10
    )


def test_dask_array_labels(client, iris_index_fit):
    """Dask arrays: the classes are found by one pass over y; predictions stay lazy."""
    X, y = dataset("iris")
    mapping = np.array([10, 3, 7])
    model = fit(
        client,
        da.from_array(X, chunks=(40, 4)),
        da.from_array(mapping[y], chunks=40),
        alpha=1e-2,
        solver="newton",
        tol=1e-11,
    )
    np.testing.assert_array_equal(model.classes_, [3, 7, 10])
    order = np.array([1, 2, 0])  # classes_ 3, 7, 10 are class indices 1, 2, 0
    np.testing.assert_allclose(model.coef_, iris_index_fit.coef_[order], rtol=1e-8)
    predicted = model.predict(da.from_array(X, chunks=(40, 4)))
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), mapping[iris_index_fit.predict(X)])


# -- 5. gradient and Hessian against finite differences ----------------------------------


def small_problem(seed=0, n=240, d=4, K=4):
    """Features of different means and scales (and one constant column), K classes drawn
    from a softmax model, positive weights; y as float class indices, as kernels see it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 4.0, size=d) + rng.uniform(-3, 5, size=d)
    X[:, 1] = 2.5  # constant: 1/σ = 0 when standardised
    Z = X @ rng.normal(scale=0.3, size=(d, K)) + rng.normal(size=K)
    y = (Z + rng.gumbel(size=(n, K))).argmax(axis=1).astype(np.float64)
    w = rng.uniform(0.3, 2.0, size=n)
    return X, y, w


FD_CASES = [
    # (standardize, fit_intercept, alpha, weighted, class_weight)
    (False, True, 0.05, True, None),
    (True, True, 0.05, True, None),
    (True, False, 0.05, True, None),
    (False, False, 0.0, False, None),
    (True, True, 0.0, True, None),  # alpha = 0: the gauge also covers Θ
    (True, True, 0.02, True, (0.5, 2.0, 1.0, 3.0)),
]


def in_memory_objective(X, y, w, *, standardize, fit_intercept, alpha, class_weight, K):
    """dasklr's LogisticObjective evaluated in memory (no Dask), and the summary sums."""
    summary = summary_sums(X, y, w, True, K)
    scaling = Scaling.from_summary(summary, center=fit_intercept) if standardize else None
    target = LogisticObjective(
        lambda probe: probe_sums(X, y, w, probe),
        X.shape[1],
        alpha=alpha,
        fit_intercept=fit_intercept,
        scaling=scaling,
        class_weight=class_weight,
        n_classes=K,
    )
    return target, summary


@pytest.mark.parametrize(
    ("standardize", "fit_intercept", "alpha", "weighted", "class_weight"), FD_CASES
)
def test_gradient_and_hessian_match_finite_differences(
    standardize, fit_intercept, alpha, weighted, class_weight
):
    X, y, w = small_problem()
    K = 4
    target, _ = in_memory_objective(
        X,
        y,
        w if weighted else None,
        standardize=standardize,
        fit_intercept=fit_intercept,
        alpha=alpha,
        class_weight=class_weight,
        K=K,
    )
    assert target.n_params == K * (X.shape[1] + int(fit_intercept))
    x = np.random.default_rng(1).normal(scale=0.4, size=target.n_params)
    at_x = target.evaluate(x, hessian=True)
    h = 1e-5  # central differences: truncation ~h², rounding ~1e-16/h, both << 1e-6
    basis = np.eye(x.size)
    fd_grad = np.array(
        [
            (target.evaluate(x + h * e).loss - target.evaluate(x - h * e).loss) / (2 * h)
            for e in basis
        ]
    )
    # relative error of the gradient <= 1e-6 (the tolerance)
    assert np.linalg.norm(fd_grad - at_x.grad) <= 1e-6 * np.linalg.norm(at_x.grad)
    np.testing.assert_allclose(at_x.hessian, at_x.hessian.T, rtol=1e-12, atol=1e-15)
    for j, e in enumerate(basis):
        column = (target.evaluate(x + h * e).grad - target.evaluate(x - h * e).grad) / (2 * h)
        # relative error of each Hessian column <= 1e-5 (the tolerance)
        error = np.linalg.norm(column - at_x.hessian[:, j])
        assert error <= 1e-5 * np.linalg.norm(at_x.hessian[:, j]), j
    # and the loss is the plain-NumPy F of the same coefficients, the L2 penalty on the
    # solver's (standardised) parameters, plus the gauge term
    coef, intercept = target.to_original(x)
    per_class = np.ones(K) if class_weight is None else np.asarray(class_weight)
    effective = (w if weighted else np.ones(len(y))) * per_class[y.astype(int)]
    blocks = x.reshape(K, -1)
    theta = blocks[:, : X.shape[1]]
    gauge = blocks[:, X.shape[1] :].sum(axis=0)  # the intercepts (none without)
    if alpha == 0:
        gauge = np.concatenate([theta.sum(axis=0), gauge])
    plain = objective(X, y.astype(int), effective, coef, intercept, 0.0)
    plain += 0.5 * alpha * np.sum(theta**2) + 0.5 * gauge @ gauge
    assert at_x.loss == pytest.approx(plain, rel=1e-12)


@pytest.mark.parametrize(
    ("standardize", "fit_intercept", "alpha", "weighted"),
    [(False, True, 0.05, True), (True, True, 0.05, True), (True, False, 0.0, False)],
)
def test_start_evaluation_equals_a_real_evaluation(standardize, fit_intercept, alpha, weighted):
    X, y, w = small_problem(seed=2)
    target, summary = in_memory_objective(
        X,
        y,
        w if weighted else None,
        standardize=standardize,
        fit_intercept=fit_intercept,
        alpha=alpha,
        class_weight=None,
        K=4,
    )
    x0, start = target.start(summary)
    real = target.evaluate(x0, hessian=True)
    # rtol 1e-10 (the tolerance); the intercept gradient is 0 at the log-odds
    # start, so it is compared in absolute terms against the gradient's scale
    scale = np.abs(real.grad).max()
    assert start.loss == pytest.approx(real.loss, rel=1e-10)
    np.testing.assert_allclose(start.grad, real.grad, rtol=1e-10, atol=1e-14 * scale)
    np.testing.assert_allclose(start.hessian, real.hessian, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(start.hessian_diagonal, np.diag(real.hessian), rtol=1e-10)
    if fit_intercept:  # the start's probabilities are the class shares
        coef, intercept = target.to_original(x0)
        assert np.all(coef == 0)
        shares = np.bincount(y.astype(int), weights=w if weighted else None) / (
            w.sum() if weighted else len(y)
        )
        np.testing.assert_allclose(
            intercept - intercept.mean(), np.log(shares) - np.log(shares).mean(), rtol=1e-12
        )


# -- 6. Newton's pass count ----------------------------------------------------------------


def test_newton_needs_few_passes_on_a_well_conditioned_multinomial_problem(client, tmp_path):
    rng = np.random.default_rng(6)
    n, d, K = 20_000, 8, 4
    X = rng.normal(size=(n, d))
    Z = X @ rng.normal(scale=0.5, size=(d, K)) + rng.normal(scale=0.3, size=K)
    y = (Z + rng.gumbel(size=(n, K))).argmax(axis=1).astype(np.int8)  # softmax draws
    write_parquet_dataset(tmp_path, X, y, n_files=4, row_group_rows=2000)
    model = dasklr.LogisticRegression(alpha=1e-4, solver="newton", tol=1e-8, client=client)
    model.fit(dasklr.read_parquet(tmp_path, label="y"))
    assert model.converged_ and model.coef_.shape == (K, d)
    assert model.n_passes_ <= 10  # the bound
    assert model.history_[-1]["passes"] == model.n_passes_
    theirs = sklearn_fit(X, y, 1e-4)
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-5)


# -- 7. errors and warm start --------------------------------------------------------------


def write_table(path, columns, row_group_size=None):
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)


def test_single_class_is_a_data_error(client, tmp_path):
    X, _ = dataset("iris")
    with pytest.raises(DataError, match="single class"):
        fit(client, X, np.full(len(X), "setosa"), alpha=1e-2)
    with pytest.raises(DataError, match="single class"):
        fit(client, X, np.full(len(X), 7), alpha=1e-2)
    columns = {"f0": X[:, 0], "f1": X[:, 1], "species": np.full(len(X), "setosa")}
    write_table(tmp_path / "a.parquet", columns, row_group_size=40)
    write_table(tmp_path / "b.parquet", columns)
    with pytest.raises(DataError, match="single class"):
        dasklr.LogisticRegression(client=client).fit(dasklr.read_parquet(tmp_path, label="species"))


def test_fractional_float_label_is_a_data_error_naming_the_column(client, tmp_path):
    X, y = dataset("iris")
    labels = y.astype(np.float64)
    labels[7] = 0.5
    with pytest.raises(DataError, match=r"y holds 0\.5: labels must be classes"):
        fit(client, X, labels, alpha=1e-2)
    write_table(tmp_path / "a.parquet", {"f0": X[:, 0], "f1": X[:, 1], "target": labels})
    with pytest.raises(DataError, match=r"label column 'target' in file .*a\.parquet holds 0\.5"):
        dasklr.read_parquet(tmp_path, label="target")


def test_warm_start_reuses_the_coefficients(client):
    X, y = dataset("iris")
    labels = SPECIES[y]
    warm = dasklr.LogisticRegression(alpha=1e-2, tol=1e-10, warm_start=True, client=client)
    warm.fit(X, labels)
    first = warm.coef_.copy()
    warm.set_params(alpha=1.3e-2).fit(X, labels)
    cold = fit(client, X, labels, alpha=1.3e-2, tol=1e-10)
    assert warm.converged_ and cold.converged_
    assert warm.n_passes_ < cold.n_passes_  # it started near the optimum
    assert not np.array_equal(warm.coef_, first)
    f_warm = objective(X, y, None, warm.coef_, warm.intercept_, 1.3e-2)
    f_cold = objective(X, y, None, cold.coef_, cold.intercept_, 1.3e-2)
    assert f_warm == pytest.approx(f_cold, rel=1e-8, abs=0)  # the same optimum
    # other classes (same count, or fewer) cannot reuse the coefficients
    with pytest.raises(ValueError, match="warm_start: the previous fit had classes"):
        warm.fit(X, np.array(["setosa", "versicolor", "other"])[y])
    with pytest.raises(ValueError, match="warm_start"):
        warm.fit(X[:100], labels[:100])
    # a failed warm start leaves the fitted model as it was
    np.testing.assert_array_equal(warm.classes_, SPECIES)


# -- 8. L1 and elastic net -----------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "l1_ratio"), [(1e-2, 1.0), (2e-2, 0.5)])
def test_l1_multinomial_newton_and_lbfgs_agree_with_saga(client, alpha, l1_ratio):
    X, y = dataset("iris")
    mean, std = X.mean(axis=0), X.std(axis=0)
    Xs = (X - mean) / std
    tol = 1e-9
    fits = {
        solver: fit(
            client,
            X,
            y,
            alpha=alpha,
            l1_ratio=l1_ratio,
            solver=solver,
            standardize=True,
            tol=tol,
            max_iter=2000,
        )
        for solver in ("newton", "lbfgs")
    }
    # scikit-learn's l1_ratio alone selects the penalty (>= 1.8); C = 1/(alpha·n)
    saga = SkLogisticRegression(
        C=1.0 / (alpha * len(y)), l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=200_000
    ).fit(Xs, y)
    assert saga.n_iter_[0] < 200_000  # converged (its own warning would fail the test)
    values = {}
    kept = np.ones(X.shape[1], dtype=bool)
    for solver, model in fits.items():
        assert model.converged_ and model.solver_ == solver
        assert np.any(model.coef_ == 0), solver  # exact zeros
        coef, intercept = to_standardized(model, kept, mean, std)
        values[solver] = objective(Xs, y, None, coef, intercept, alpha, l1_ratio)
        # saga's support and values, within 1e-3 (it converges to ~1e-8 here)
        np.testing.assert_array_equal(coef != 0, np.abs(saga.coef_) > 1e-6)
        np.testing.assert_allclose(coef, saga.coef_, rtol=0, atol=1e-3)
        np.testing.assert_allclose(intercept, saga.intercept_, rtol=0, atol=1e-3)
        # the L1 optimality conditions, in plain NumPy over the standardised coefficients:
        # |∂F/∂θ| <= λ at zeros, ∂F/∂θ + λ·sign(θ) = 0 elsewhere, ∂F/∂b = 0
        grad, grad_b = smooth_gradient(Xs, y, None, coef, intercept, alpha, l1_ratio)
        lam = alpha * l1_ratio
        zero = coef == 0
        assert np.all(np.abs(grad[zero]) <= lam + 10 * tol)
        np.testing.assert_allclose(grad[~zero] + lam * np.sign(coef[~zero]), 0, atol=10 * tol)
        np.testing.assert_allclose(grad_b, 0, atol=10 * tol)
    assert values["newton"] == pytest.approx(values["lbfgs"], rel=1e-7, abs=0)
    saga_value = objective(Xs, y, None, saga.coef_, saga.intercept_, alpha, l1_ratio)
    assert values["newton"] <= saga_value * (1 + 1e-10)  # at least as low as saga's


# -- unpenalised: alpha = 0 against statsmodels ------------------------------------------


@pytest.fixture(scope="module")
def softmax_draws():
    """Non-separable softmax data of shifted, scaled features: a finite unpenalised optimum."""
    rng = np.random.default_rng(4)
    n, d, K = 3000, 3, 3
    X = rng.normal(size=(n, d)) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]
    Z = X @ rng.normal(scale=0.6, size=(d, K)) + rng.normal(scale=0.3, size=K)
    y = (Z + rng.gumbel(size=(n, K))).argmax(axis=1)
    with threadpool_limits(1):  # see sklearn_fit
        result = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    return X, y, result


@pytest.mark.parametrize(
    ("solver", "standardize", "tol"),
    [("newton", False, 1e-10), ("newton", True, 1e-10), ("lbfgs", True, 1e-8)],
)
def test_unpenalised_fit_matches_statsmodels_mnlogit(
    client, softmax_draws, solver, standardize, tol
):
    """alpha = 0 leaves adding one vector to every class row free: dasklr's gauge term
    centres the coefficients; statsmodels fixes class 0's row at 0 instead."""
    X, y, result = softmax_draws
    model = fit(client, X, y, alpha=0.0, solver=solver, standardize=standardize, tol=tol)
    assert model.converged_
    np.testing.assert_allclose(
        model.predict_proba(X), result.predict(sm.add_constant(X)), rtol=0, atol=1e-6
    )
    # class k's row minus class 0's is statsmodels' (intercept, coefficients) of class k
    ours = np.column_stack([model.intercept_, model.coef_])
    np.testing.assert_allclose((ours[1:] - ours[0]).T, result.params, rtol=1e-5, atol=1e-7)
    # centred: Σ_k ∂F/∂θ̃_kj = K·Σ_k θ̃_kj with θ̃ = θ·σ, so |Σ_k θ_kj| <= tol/σ_j
    scale = X.std(axis=0) if standardize else np.ones(X.shape[1])
    assert np.all(np.abs(model.coef_.sum(axis=0)) <= tol / scale)


# -- 9. save and load ----------------------------------------------------------------------


def test_save_and_load_keep_string_classes_and_probabilities(client, tmp_path):
    X, y = dataset("iris")
    model = fit(client, X, SPECIES[y], alpha=1e-2, class_weight={"setosa": 2.0})
    model.save(tmp_path / "model")
    loaded = dasklr.load_model(tmp_path / "model")
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype.kind == "U"
    assert loaded.coef_.shape == (3, 4) and loaded.intercept_.shape == (3,)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.class_weight == {"setosa": 2.0}
