"""The stable formulas and the chunk kernel against textbook references.

References are written independently of ``dasklr.numerics``: per-row Python loops over
``math`` functions, closed forms at extreme margins, and central finite differences.
"""

import itertools
import math

import numpy as np
import pytest

from dasklr.errors import DataError
from dasklr.fit.objective import LogisticObjective
from dasklr.kernels.logistic import LogisticSums, logistic_sums, probe_sums
from dasklr.kernels.numerics import log_loss_terms, sigmoid, softplus
from dasklr.passes.merge import merge_sums

# Margins where the textbook formulas log(1 + e^z) and 1/(1 + e^-z) are themselves accurate
# (no overflow, no cancellation worth more than an ulp or two).
MODERATE = [-30.0, -12.5, -3.0, -1.0, -1e-3, 0.0, 1e-8, 0.5, 2.0, 7.25, 30.0]


def textbook_softplus(z: float) -> float:
    return math.log1p(math.exp(z))


def textbook_sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def reference_sums(X, y, w, coef, intercept):
    """Per-row loop: the definition of every sum in ``LogisticSums``, in Python floats.

    Returns the sums and, for each, the sum of absolute values of its terms: the scale
    against which floating-point summation error is measured.
    """
    n, d = X.shape
    loss, grad, grad_b, weight = [], [[] for _ in range(d)], [], []
    for i in range(n):
        z = math.fsum(float(X[i, j]) * float(coef[j]) for j in range(d)) + intercept
        wi = 1.0 if w is None else float(w[i])
        loss.append(wi * (textbook_softplus(z) - float(y[i]) * z))
        r = wi * (textbook_sigmoid(z) - float(y[i]))
        for j in range(d):
            grad[j].append(r * float(X[i, j]))
        grad_b.append(r)
        weight.append(wi)
    sums = {
        "loss": math.fsum(loss),
        "grad_coef": np.array([math.fsum(g) for g in grad]),
        "grad_intercept": math.fsum(grad_b),
        "weight": math.fsum(weight),
    }
    scale = {
        "loss": math.fsum(abs(t) for t in loss),
        "grad_coef": np.array([math.fsum(abs(t) for t in g) for g in grad]),
        "grad_intercept": math.fsum(abs(t) for t in grad_b),
        "weight": math.fsum(weight),
    }
    return sums, scale


def assert_sums_match(got: LogisticSums, ref, scale, n_rows, rtol=1e-12):
    """|got − ref| <= rtol·Σ|terms|: a summation error bound, so cancellation cannot fool it."""
    assert got.rows == n_rows
    assert abs(got.loss - ref["loss"]) <= rtol * scale["loss"]
    assert abs(got.grad_intercept - ref["grad_intercept"]) <= rtol * scale["grad_intercept"]
    assert abs(got.weight - ref["weight"]) <= rtol * scale["weight"]
    assert got.grad_coef.dtype == np.float64
    np.testing.assert_array_less(
        np.abs(got.grad_coef - ref["grad_coef"]), rtol * scale["grad_coef"]
    )


def problem(n=157, d=4, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.2, 5.0])[:d]
    y = (rng.uniform(size=n) < 0.4).astype(np.float64)
    w = rng.uniform(0.1, 3.0, size=n)
    coef = np.array([0.7, -0.4, 2.0, 0.15])[:d]
    return X, y, w, coef, -0.3


# -- numerics --------------------------------------------------------------------------


@pytest.mark.parametrize("z", MODERATE)
def test_softplus_and_sigmoid_match_textbook_at_moderate_margins(z):
    # tolerance: 4 ulp-ish (rtol 1e-15), both sides are correctly rounded to a few ulp here
    assert softplus(np.array([z]))[0] == pytest.approx(textbook_softplus(z), rel=1e-15, abs=0)
    assert sigmoid(np.array([z]))[0] == pytest.approx(textbook_sigmoid(z), rel=1e-15, abs=0)


@pytest.mark.parametrize("z", MODERATE)
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_log_loss_terms_match_textbook_at_moderate_margins(z, y):
    expected = textbook_softplus(z) - y * z
    got = log_loss_terms(np.array([z]), np.array([y]))[0]
    # tolerance: rtol 1e-14 relative to the larger of the two terms subtracted
    assert abs(got - expected) <= 1e-14 * max(textbook_softplus(z), abs(z))


def test_extreme_margins_are_exact_and_raise_nothing():
    z = np.array([-1e300, -1e10, -800.0, -745.0, -40.0, 40.0, 800.0, 1e10, 1e300])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        sp = softplus(z)
        s = sigmoid(z)
        loss0 = log_loss_terms(z, np.zeros_like(z))
        loss1 = log_loss_terms(z, np.ones_like(z))
    # closed forms: softplus(z) = z + log1p(e^-z) → z for z ≥ 40 (e^-40 < ulp(40)/2),
    # and e^z (which underflows to 0 below -745) for very negative z; exact equality.
    np.testing.assert_array_equal(sp[[0, 1, 2]], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(sp[5:], z[5:])
    # softplus(-745) = e^-745 (the smallest subnormal), softplus(-40) = e^-40 to 1 ulp.
    assert sp[3] == math.exp(-745.0) > 0
    assert sp[4] == pytest.approx(math.exp(-40.0), rel=1e-15)
    # sigmoid is 0 or 1 exactly beyond the float range, e^z for very negative z.
    np.testing.assert_array_equal(s[[0, 1, 2]], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s[[6, 7, 8]], [1.0, 1.0, 1.0])
    assert s[4] == pytest.approx(math.exp(-40.0), rel=1e-15)
    assert s[5] == 1.0 - math.exp(-40.0)  # rounds to 1.0, as the exact value does
    # y = 0: loss = softplus(z); y = 1: loss = softplus(−z) = softplus(z) − z.
    np.testing.assert_array_equal(loss0, sp)
    np.testing.assert_array_equal(loss1[[6, 7, 8]], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(loss1[[0, 1, 2]], [1e300, 1e10, 800.0])
    assert np.isfinite(np.concatenate([sp, s, loss0, loss1])).all()


def test_sigmoid_is_symmetric():
    z = np.linspace(-50, 50, 1001)
    # σ(−z) = 1 − σ(z); tolerance 1 ulp of 1 (the subtraction 1 − σ rounds to that)
    np.testing.assert_allclose(sigmoid(-z), 1.0 - sigmoid(z), rtol=0, atol=2.3e-16)


# -- the chunk kernel ------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "bounds",
    [(0, 157), (0, 80, 157), (0, 1, 2, 50, 157), (0, 20, 40, 60, 80, 100, 120, 140, 157)],
    ids=["1 chunk", "2 chunks", "4 uneven", "8 chunks"],
)
def test_kernel_over_chunks_matches_row_loop(weighted, bounds):
    X, y, w, coef, b = problem()
    w = w if weighted else None
    ref, scale = reference_sums(X, y, w, coef, b)
    parts = [
        logistic_sums(X[lo:hi], y[lo:hi], None if w is None else w[lo:hi], coef, b)
        for lo, hi in itertools.pairwise(bounds)
    ]
    # tolerance: 1e-12 of Σ|terms| per sum, far above 157 rows of float64 rounding
    assert_sums_match(merge_sums(*parts), ref, scale, X.shape[0])


def test_kernel_accepts_bool_labels_and_float32_features():
    X, y, _, coef, b = problem(n=40)
    ref, scale = reference_sums(X.astype(np.float32), y, None, coef, b)
    got = logistic_sums(X.astype(np.float32), y.astype(bool), None, coef, b)
    # tolerance as above: the float32 values are exact in float64, sums are float64
    assert_sums_match(got, ref, scale, 40)


def test_kernel_with_unit_weights_equals_unweighted():
    X, y, _, coef, b = problem(n=60)
    a = logistic_sums(X, y, None, coef, b)
    c = logistic_sums(X, y, np.ones(60), coef, b)
    # multiplying by 1.0 is exact, so the sums are bit-identical
    assert a.loss == c.loss and a.grad_intercept == c.grad_intercept and a.weight == c.weight
    np.testing.assert_array_equal(a.grad_coef, c.grad_coef)


def test_merge_is_left_to_right_addition():
    X, y, w, coef, b = problem(n=30)
    parts = [
        logistic_sums(X[i : i + 10], y[i : i + 10], w[i : i + 10], coef, b) for i in (0, 10, 20)
    ]
    merged = merge_sums(*parts)
    # bit-exact: merge_sums must be ((p0 + p1) + p2) in float64
    assert merged.loss == (parts[0].loss + parts[1].loss) + parts[2].loss
    np.testing.assert_array_equal(
        merged.grad_coef, (parts[0].grad_coef + parts[1].grad_coef) + parts[2].grad_coef
    )
    assert merge_sums(parts[1]) is parts[1]


def unaligned_copy(a: np.ndarray, offset: int = 3) -> np.ndarray:
    """A copy of ``a`` (same memory order) whose data starts ``offset`` bytes into a buffer,
    as arrays deserialised from a network frame can."""
    buffer = bytearray(a.nbytes + 16)
    order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    view = np.frombuffer(buffer, dtype=a.dtype, count=a.size, offset=offset)
    view = view.reshape(a.shape, order=order)
    view[...] = a
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("order", ["C", "F"])
def test_kernel_bits_do_not_depend_on_alignment(order):
    X, y, w, coef, b = problem(n=100)
    X = np.asarray(X, order=order)
    aligned = logistic_sums(X, y, w, coef, b)
    unaligned = logistic_sums(unaligned_copy(X), y, w, coef, b)
    # same values, same order of operations promised: bit-identical
    assert unaligned.loss == aligned.loss
    np.testing.assert_array_equal(unaligned.grad_coef, aligned.grad_coef)


def test_kernel_at_margins_of_1e300():
    # one feature of ±1e300 and coef 1: the margins are ±1e300 for labels 0 and 1
    X = np.array([[1e300], [1e300], [-1e300], [-1e300]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    coef = np.array([1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        rows = [logistic_sums(X[i : i + 1], y[i : i + 1], None, coef, 0.0) for i in range(4)]
        total = logistic_sums(X, y, None, coef, 0.0)
        objective = LogisticObjective(lambda probe: probe_sums(X, y, None, probe), 1, alpha=0.5)
        loss, grad = objective.loss_and_grad(np.array([1.0, 0.0]))
    # closed forms, exact: loss(y=1, z=1e300) = 0, loss(y=0, z=1e300) = 1e300,
    # loss(y=1, z=-1e300) = 1e300, loss(y=0, z=-1e300) = 0; residual σ(z) − y ∈ {0, ±1}.
    assert [r.loss for r in rows] == [0.0, 1e300, 1e300, 0.0]
    assert [r.grad_intercept for r in rows] == [0.0, 1.0, -1.0, 0.0]
    assert [float(r.grad_coef[0]) for r in rows] == [0.0, 1e300, 1e300, 0.0]
    assert total.loss == 2e300 and total.grad_coef[0] == 2e300 and total.grad_intercept == 0.0
    # F = 2e300/4 + 0.5·0.5·1²; ∇F = (2e300/4 + 0.5·1, 0/4); rtol 1e-15 (one rounding)
    assert loss == pytest.approx(5e299, rel=1e-15)
    np.testing.assert_allclose(grad, [5e299, 0.0], rtol=1e-15, atol=0)
    assert np.isfinite(grad).all()


# -- the objective ---------------------------------------------------------------------


def central_differences(f, x, h=1e-5):
    g = np.empty_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize(
    ("alpha", "fit_intercept", "weighted"),
    [(0.0, True, False), (0.3, True, True), (0.05, False, True), (1.0, False, False)],
)
def test_gradient_matches_finite_differences(alpha, fit_intercept, weighted):
    X, y, w, _, _ = problem()
    w = w if weighted else None
    objective = LogisticObjective(
        lambda probe: probe_sums(X, y, w, probe),
        X.shape[1],
        alpha=alpha,
        fit_intercept=fit_intercept,
    )
    rng = np.random.default_rng(7)
    for _ in range(3):
        params = rng.normal(size=objective.n_params)
        _, grad = objective.loss_and_grad(params)
        numeric = central_differences(lambda p: objective.loss_and_grad(p)[0], params)
        # tolerance: central differences with h=1e-5 are good to ~1e-9 here; rtol 1e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_objective_matches_closed_form():
    X, y, w, coef, b = problem()
    alpha = 0.2
    objective = LogisticObjective(lambda probe: probe_sums(X, y, w, probe), 4, alpha=alpha)
    loss, _ = objective.loss_and_grad(np.append(coef, b))
    z = X @ coef + b
    # DESIGN.md: F = (1/Σw)·Σ w·[log(1+e^z) − y·z] + alpha/2·‖θ‖²; intercept not penalised
    expected = np.sum(w * (np.logaddexp(0.0, z) - y * z)) / w.sum() + alpha / 2 * coef @ coef
    assert loss == pytest.approx(expected, rel=1e-13)


def test_zero_total_weight_is_a_data_error():
    X, y, _, coef, b = problem(n=10)
    objective = LogisticObjective(lambda probe: probe_sums(X, y, np.zeros(10), probe), 4, alpha=0)
    with pytest.raises(DataError, match=r"sample weights sum to zero \(0\.0\)"):
        objective.loss_and_grad(np.append(coef, b))


def test_l1_ratio_splits_the_penalty():
    # alpha·(1 − l1_ratio) stays in the smooth part, alpha·l1_ratio goes to the L1 part,
    # which never touches the intercept
    objective = LogisticObjective(lambda probe: None, 3, alpha=2.0, l1_ratio=0.25)
    assert (objective.l2, objective.l1) == (1.5, 0.5)
    np.testing.assert_array_equal(objective.l1_strength, [0.5, 0.5, 0.5, 0.0])
    assert LogisticObjective(lambda probe: None, 3, alpha=2.0).l1_strength is None
