"""Singular information and quasi-separation diagnostics against facts built into the data.

Every matrix is made here from crafted columns, as Σ w·h(1−h)·x̃x̃ᵀ at arbitrary
coefficients (or Σ w·x̃x̃ᵀ), with x̃ = [x, 1]. The relations planted in the columns (a
constant 5, an exact copy, x3 = x1 + 2·x2, …) are the expected answer; relation
coefficients are compared at 1e-8 relative, far above float64 rounding in a 400-row sum
(≈ 1e-13) and far below any coefficient a wrong answer would give.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dasklr.errors import SingularInformationWarning
from dasklr.stats.diagnostics import (
    LARGE_STANDARDISED_COEF,
    Problem,
    quasi_separation,
    singular_directions,
    singular_message,
    warn_singular,
)

N = 400
RELATION_RTOL = 1e-8


def information(X, w, coef, intercept):
    """Σ w·h(1−h)·x̃x̃ᵀ with the intercept last, the textbook way (one row at a time)."""
    H = np.zeros((X.shape[1] + 1, X.shape[1] + 1))
    for row, weight in zip(X, w, strict=True):
        x = np.append(row, 1.0)
        h = 1.0 / (1.0 + np.exp(-(row @ coef + intercept)))
        H += weight * h * (1 - h) * np.outer(x, x)
    return H


def moments(X, w):
    """Σ w·x̃x̃ᵀ: the data-only Gram matrix, intercept last."""
    Xt = np.column_stack([X, np.ones(len(X))])
    return (Xt * w[:, None]).T @ Xt


def fitted_information(X, seed=0):
    """The information at random moderate coefficients and random positive weights."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 2.0, len(X))
    std = X.std(axis=0)
    coef = rng.normal(scale=0.3, size=X.shape[1]) / np.where(std > 0, std, 1.0)
    return information(X, w, coef, 0.2)


def columns(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(6, N))


def summary(problems):
    return [(p.kind, p.features) for p in problems]


def test_healthy_random_design_has_no_problem():
    X = columns().T
    assert singular_directions(fitted_information(X), [f"x{j}" for j in range(6)]) == []


def test_badly_scaled_but_regular_design_is_not_flagged():
    # cond(H) is ~1e18 only because of units; scaled to unit diagonal it is well conditioned
    a, b, c, d, _, _ = columns()
    X = np.column_stack([1e6 * a, 1e-3 * b, c, c + 0.05 * d])
    H = fitted_information(X)
    assert np.linalg.cond(H) > 1e15
    assert singular_directions(H, ["big", "small", "c", "c_near"]) == []
    assert singular_directions(moments(X, np.ones(N)), ["big", "small", "c", "c_near"]) == []


def test_constant_column_is_named_with_its_value():
    a, b, *_ = columns()
    X = np.column_stack([a, np.full(N, 5.0), b])
    problems = singular_directions(fitted_information(X), ["a", "five", "b"])
    assert summary(problems) == [("constant", ("five", "intercept"))]
    # five − 5·1 = 0
    np.testing.assert_allclose(problems[0].relation, [1.0, -5.0], rtol=RELATION_RTOL)


def test_zero_column_is_constant_even_without_intercept():
    a, b, *_ = columns()
    X = np.column_stack([a, np.zeros(N), b])
    H = fitted_information(X)
    assert summary(singular_directions(H, ["a", "zero", "b"])) == [("constant", ("zero",))]
    no_intercept = singular_directions(H[:3, :3], ["a", "zero", "b"], fit_intercept=False)
    assert summary(no_intercept) == [("constant", ("zero",))]


def test_duplicate_and_multiple_are_pairs():
    a, b, c, *_ = columns()
    X = np.column_stack([a, b, a, c, -2.0 * c])
    problems = singular_directions(fitted_information(X), ["a", "b", "a_copy", "c", "c_neg"])
    assert summary(problems) == [("duplicate", ("a", "a_copy")), ("duplicate", ("c", "c_neg"))]
    np.testing.assert_allclose(problems[0].relation, [-1.0, 1.0], rtol=RELATION_RTOL)
    # c_neg + 2·c = 0
    np.testing.assert_allclose(problems[1].relation, [2.0, 1.0], rtol=RELATION_RTOL)


def test_linear_combination_names_exactly_its_features():
    a, b, c, d, *_ = columns()
    X = np.column_stack([a, c, b, a + 2.0 * b, d])
    problems = singular_directions(fitted_information(X), ["x1", "c", "x2", "x3", "d"])
    assert summary(problems) == [("collinear", ("x1", "x2", "x3"))]
    # x3 − x1 − 2·x2 = 0
    np.testing.assert_allclose(problems[0].relation, [-1.0, -2.0, 1.0], rtol=RELATION_RTOL)


def test_affine_copy_involves_the_intercept():
    a, b, *_ = columns()
    X = np.column_stack([a, b, 3.0 * a + 2.0])
    problems = singular_directions(fitted_information(X), ["a", "b", "a_shifted"])
    assert summary(problems) == [("collinear", ("a", "a_shifted", "intercept"))]
    # a_shifted − 3·a − 2 = 0
    np.testing.assert_allclose(problems[0].relation, [-3.0, 1.0, -2.0], rtol=RELATION_RTOL)


def test_every_kind_at_once_is_reported_once_each():
    # Four independent relations: a 4-dimensional null space whose eigenvectors would mix
    # them. Each must come back on its own, named exactly, and nothing twice.
    a, b, c, d, e, f = columns()
    X = np.column_stack([a, np.full(N, -1.5), b, a, np.zeros(N), c, d, c + d - e, e, f])
    names = ["a", "k", "b", "a_copy", "zero", "c", "d", "cde", "e", "f"]
    problems = singular_directions(fitted_information(X), names)
    assert summary(problems) == [
        ("constant", ("zero",)),
        ("constant", ("k", "intercept")),
        ("duplicate", ("a", "a_copy")),
        ("collinear", ("c", "d", "cde", "e")),
    ]
    # e is the later column, so it is written in terms of c, d and cde: e = c + d − cde
    np.testing.assert_allclose(problems[3].relation, [-1.0, -1.0, 1.0, 1.0], rtol=RELATION_RTOL)


def test_result_does_not_depend_on_the_matrix_scale_or_on_h():
    a, b, c, *_ = columns()
    X = np.column_stack([a, b, a + 2.0 * b, c, np.full(N, 4.0)])
    names = ["x1", "x2", "x3", "c", "four"]
    w = np.random.default_rng(5).uniform(0.5, 2.0, N)
    H = information(X, w, np.array([0.3, -0.2, 0.1, 0.5, 0.0]), -0.4)
    expected = summary(singular_directions(H, names))
    assert expected == [("collinear", ("x1", "x2", "x3")), ("constant", ("four", "intercept"))]
    for matrix in [H / w.sum(), H * 1e-200, H * 1e200, moments(X, w), moments(X, w) / w.sum()]:
        assert summary(singular_directions(matrix, names)) == expected


def test_without_intercept_a_constant_column_is_fine_but_a_copy_is_not():
    a, b, *_ = columns()
    X = np.column_stack([a, np.full(N, 5.0), b, b])
    names = ["a", "five", "b", "b_copy"]
    H = fitted_information(X)
    expected = [("duplicate", ("b", "b_copy"))]
    # the augmented (d+1)×(d+1) matrix loses its intercept row; a d×d one is used as is
    assert summary(singular_directions(H, names, fit_intercept=False)) == expected
    assert summary(singular_directions(H[:4, :4], names, fit_intercept=False)) == expected


def test_near_collinear_depends_on_rtol():
    # x3 = x1 + x2 + 1e-4·noise: 1 − R² ≈ 1e-8 / 2 — regular at the default 1e-10, not at 1e-6
    a, b, c, *_ = columns()
    X = np.column_stack([a, b, a + b + 1e-4 * c])
    H = fitted_information(X)
    assert singular_directions(H, ["x1", "x2", "x3"]) == []
    loose = singular_directions(H, ["x1", "x2", "x3"], rtol=1e-6)
    assert summary(loose) == [("collinear", ("x1", "x2", "x3"))]
    np.testing.assert_allclose(loose[0].relation, [-1.0, -1.0, 1.0], rtol=1e-3)


def test_ill_conditioning_the_ordered_pass_misses_is_caught_by_eigenvalues():
    # Kahan's matrix: every column keeps 1 − R² ≥ 0.01 against the columns before it, yet
    # the unit-diagonal Gram matrix has condition number ~2e10 (a classical failure of
    # Cholesky without pivoting to reveal rank).
    n, theta = 30, 1.2
    R = np.diag(np.sin(theta) ** np.arange(n)) @ (
        np.eye(n) - np.cos(theta) * np.triu(np.ones((n, n)), 1)
    )
    G = R.T @ R  # = Σ x xᵀ over the rows of R, no intercept
    root = np.sqrt(np.diag(G))
    scaled = G / np.outer(root, root)
    assert np.diag(np.linalg.cholesky(scaled)).min() ** 2 > 1e-2
    names = [f"k{j}" for j in range(n)]
    problems = singular_directions(G, names, fit_intercept=False)
    assert [p.kind for p in problems] == ["collinear"]
    # Independent reference: the smallest right singular vector of the column-scaled data
    # (SVD of R, where the function used eigh of RᵀR), in the features' own units.
    direction = np.linalg.svd(R / root)[2][-1]
    named = np.abs(direction) >= 1e-3 * np.abs(direction).max()
    assert problems[0].features == tuple(np.array(names)[named])
    expected = direction[named] / root[named]
    expected /= expected[np.argmax(np.abs(direction[named]))]
    np.testing.assert_allclose(problems[0].relation, expected, rtol=1e-6, atol=1e-9)


def test_all_zero_matrix_is_one_problem():
    problems = singular_directions(np.zeros((3, 3)), ["a", "b"])
    assert summary(problems) == [("constant", ("a", "b", "intercept"))]


@pytest.mark.parametrize(
    ("matrix", "names", "fit_intercept", "match"),
    [
        (np.eye(3), ["a", "b", "c"], True, r"shape \(4, 4\) for 3 features"),
        (np.eye(2), ["a", "b", "c"], False, r"\(3, 3\) or \(4, 4\)"),
        (np.ones((3, 2)), ["a", "b"], True, "got shape"),
        (np.diag([1.0, np.nan, 1.0]), ["a", "b"], True, "NaN or infinite"),
    ],
)
def test_bad_matrix_says_what_was_expected(matrix, names, fit_intercept, match):
    with pytest.raises(ValueError, match=match):
        singular_directions(matrix, names, fit_intercept=fit_intercept)


def test_message_names_every_feature_and_the_remedy():
    a, b, *_ = columns()
    X = np.column_stack([a, b, a, np.full(N, 5.0), a - b])
    names = ["x1", "x2", "x1_copy", "x3", "x1_minus_x2"]
    message = singular_message(singular_directions(fitted_information(X), names))
    assert message.startswith("the information matrix is singular: ")
    for phrase in [
        "'x1_copy' duplicates 'x1'",
        "'x3' is constant (≈ 5;",
        "'x1', 'x2', 'x1_minus_x2' are collinear ('x1_minus_x2' ≈ 1·'x1' - 1·'x2')",
        "set alpha > 0",
    ]:
        assert phrase in message
    assert singular_message([]) == ""


def test_warn_singular_warns_once_and_only_when_singular():
    a, b, *_ = columns()
    singular = fitted_information(np.column_stack([a, b, b]))
    with pytest.warns(SingularInformationWarning, match="'b_copy' duplicates 'b'") as record:
        problems = warn_singular(singular, ["a", "b", "b_copy"])
    assert len(record) == 1
    assert problems == [
        Problem("duplicate", ("b", "b_copy"), "'b_copy' duplicates 'b'", (-1.0, 1.0))
    ]

    regular = fitted_information(np.column_stack([a, b]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_singular(regular, ["a", "b"]) == []


# --- quasi-separation -------------------------------------------------------------------

EXTREME = 1e-8  # the driver's definition: fitted probability within 1e-8 of 0 or 1


def separated_data(seed=3, n=2000):
    """x_sep > 0 ⇒ y = 1 (20% of rows); where x_sep = 0, y is mixed and depends on x1, x2.

    Quasi-complete separation: the likelihood rises without bound along x_sep's coefficient,
    while x1 and x2 have finite maximum-likelihood values (0.8 and −0.5 generating).
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    separated = rng.random(n) < 0.2
    x_sep = np.where(separated, rng.uniform(1.0, 3.0, n), 0.0)
    p = 1.0 / (1.0 + np.exp(-(0.8 * x1 - 0.5 * x2 - 0.3)))
    y = np.where(separated, 1.0, (rng.random(n) < p).astype(float))
    return np.column_stack([x1, x_sep, x2]), y


def nearly_unpenalised_fit(X, y):
    """sklearn with C = 1e10, i.e. alpha = 1/(n·C) ≈ 5e-14: the maximum-likelihood path.

    tol=1e-8 lets L-BFGS follow the separating coefficient until the separated rows sit at
    probability 1 (it stops there on its own, in ~50 iterations, without a warning).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would make the fit moot
        model = LogisticRegression(C=1e10, tol=1e-8, max_iter=10000).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    extreme_share = float(np.mean((proba < EXTREME) | (proba > 1 - EXTREME)))
    return model.coef_[0], float(model.intercept_[0]), extreme_share


def test_quasi_separation_names_the_separating_feature_only():
    X, y = separated_data()
    coef, intercept, extreme_share = nearly_unpenalised_fit(X, y)
    # independent fact: the rows at probability 0 or 1 are exactly the separated rows
    assert extreme_share == np.mean(X[:, 1] > 0)
    message = quasi_separation(
        coef, intercept, X.std(axis=0), ["x1", "x_sep", "x2"], extreme_share=extreme_share
    )
    assert message is not None
    assert "'x_sep'" in message
    assert "'x1'" not in message
    assert "'x2'" not in message
    assert "alpha > 0" in message


def test_regular_fit_is_not_separation():
    X, y = separated_data()
    regular = X[:, [0, 2]]
    rng = np.random.default_rng(4)
    y = (
        rng.random(len(y)) < 1.0 / (1.0 + np.exp(-(0.8 * regular[:, 0] - 0.5 * regular[:, 1])))
    ).astype(float)
    coef, intercept, extreme_share = nearly_unpenalised_fit(regular, y)
    assert extreme_share == 0.0
    std = regular.std(axis=0)
    assert quasi_separation(coef, intercept, std, ["x1", "x2"], extreme_share=extreme_share) is None


def test_both_signs_are_needed_and_features_are_sorted_by_size():
    std = np.array([1.0, 0.5, 2.0, 1.0])
    coef = np.array([11.0, 40.0, 0.5, -30.0])  # standardised: 11, 20, 1, 30
    names = ["a", "b", "c", "d"]
    # large coefficients but no probability at 0 or 1: a strong, well-identified effect
    assert quasi_separation(coef, 0.0, std, names, extreme_share=0.0) is None
    # confident rows but moderate coefficients: nothing runs away
    small = np.full(4, 0.9 * LARGE_STANDARDISED_COEF)
    assert quasi_separation(small, 0.0, np.ones(4), names, extreme_share=0.3) is None
    message = quasi_separation(coef, 0.0, std, names, extreme_share=0.05)
    assert message is not None
    assert message.index("'d'") < message.index("'b'") < message.index("'a'")
    assert "'c'" not in message
    assert "5% of the weight" in message


def test_quasi_separation_checks_its_inputs():
    with pytest.raises(ValueError, match=r"shape \(2,\) for 2 names"):
        quasi_separation(np.ones(3), 0.0, np.ones(2), ["a", "b"], extreme_share=0.1)
    with pytest.raises(ValueError, match=r"extreme_share in \[0, 1\]"):
        quasi_separation(np.ones(2), 0.0, np.ones(2), ["a", "b"], extreme_share=1.5)
