"""Why a fit's standard errors cannot be trusted, in terms of the user's feature names.

Two failures make the summary meaningless while the solver itself reports success:

* **A singular information matrix** H = Σ w·h(1−h)·x̃x̃ᵀ (x̃ = [x_1..x_d, 1]). Since every
  weight w·h(1−h) ≥ 0, Hv = 0 exactly when x̃ᵀv = 0 on every row that carries weight, so a
  null direction of H *is* a linear relation between columns of the data: a constant or
  all-zero feature, a copy of another feature, or a combination of several.
  ``singular_directions`` names each relation and gives its coefficients in the
  features' own units.
* **Quasi-complete separation**: some rows are predicted with certainty and the likelihood
  keeps rising along some coefficients, which the solver stops at an arbitrary large value.
  ``quasi_separation`` recognises that from the fitted coefficients and the share of
  rows at probability 0 or 1.

Everything here is pure NumPy and works on the driver, after the fit, from sums already
computed: no pass over the data.
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dasklr.errors import SingularInformationWarning

# 1 − R² of a column regressed on the columns before it, at or below which the column is
# reported as dependent. The variance inflation factor 1/(1 − R²) is then ≥ 1e10: the
# standard error is inflated ≥ 1e5-fold, and inverting H in float64 (eps ≈ 2.2e-16) leaves
# only about six correct digits — the coefficient is not identified in any useful sense.
DEPENDENCE_RTOL = 1e-10

# A feature is named in a relation when its share, in unit-diagonal scaling, is at least
# this fraction of the largest share. Rounding noise in a relation found at 1 − R² ≤ 1e-10
# is about √1e-10 = 1e-5, so 1e-3 stays 100× above it while still naming a feature that
# enters a relation with a small but real coefficient.
NAMED_SHARE = 1e-3

# |coef_j · std_j| above which a coefficient counts as runaway: one standard deviation of
# the feature then moves the log-odds by more than 10, i.e. multiplies the odds by more
# than e^10 ≈ 22,000. Real effects that strong are rare; with probabilities at 0 or 1 it
# is the signature of a coefficient the solver stopped on the way to infinity.
LARGE_STANDARDISED_COEF = 10.0

INTERCEPT = "intercept"


@dataclass(frozen=True)
class Problem:
    """One linear relation between columns that makes the matrix singular.

    ``relation`` is aligned with ``features`` and holds coefficients a with
    Σ a_k·x_k ≈ 0 on every row with weight (``"intercept"`` stands for the constant 1),
    in the features' own units, scaled so the dependent feature has coefficient 1.
    """

    kind: Literal["constant", "duplicate", "collinear"]
    features: tuple[str, ...]
    detail: str
    relation: tuple[float, ...] = ()


def singular_directions(
    matrix: np.ndarray,
    names: Sequence[str],
    *,
    fit_intercept: bool = True,
    rtol: float = DEPENDENCE_RTOL,
) -> list[Problem]:
    """Name the linear relations between columns that make ``matrix`` (near-)singular.

    Works on H = Σ w·h(1−h)·x̃x̃ᵀ or on the data-only Σ w·x̃x̃ᵀ, at any overall scale, with
    the intercept as the last row and column. The matrix is first scaled to unit diagonal,
    so features in units of 1e6 and 1e-3 are judged alike. Columns are then taken in
    order (intercept first, then the features as named) and each is regressed on the ones
    kept before it: a column with 1 − R² ≤ ``rtol`` is reported, with the earlier columns
    it depends on, and not kept. This names each relation once and exactly, where the
    eigenvectors of a repeated zero eigenvalue would mix unrelated relations. A final
    eigenvalue check (λ ≤ ``rtol``·λ_max) on the kept columns catches what the ordered
    pass can miss.

    Parameters
    ----------
    matrix : ndarray of shape (d+1, d+1), or (d, d) when ``fit_intercept`` is False
        Symmetric positive semi-definite; the last row/column belongs to the intercept.
    names : sequence of d str
        Feature names, in column order.
    fit_intercept : bool
        When False the intercept row and column, if present, are dropped.
    rtol : float
        Largest 1 − R² (and eigenvalue ratio) treated as dependence.

    Returns
    -------
    list of Problem
        Empty when the matrix is safely non-singular.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [3.0, 7.0, 5.0], [4.0, 1.0, 5.0]])
    >>> Xt = np.column_stack([X, np.ones(4)])
    >>> [(p.kind, p.features) for p in singular_directions(Xt.T @ Xt, ["a", "b", "c"])]
    [('constant', ('c', 'intercept'))]
    """
    labels, H = _checked(matrix, names, fit_intercept)
    diagonal = np.diag(H).copy()
    if not np.any(diagonal > 0):
        return [Problem("constant", tuple(labels), "the matrix is zero: no row carries weight")]
    problems = [
        Problem("constant", (labels[j],), f"'{labels[j]}' is zero on every row", (1.0,))
        for j in np.flatnonzero(diagonal <= 0)
    ]
    live = np.flatnonzero(diagonal > 0)
    root = np.sqrt(diagonal[live])
    scaled = H[np.ix_(live, live)] / np.outer(root, root)
    # Intercept first: a feature that depends on it alone is then a constant.
    order = np.roll(np.arange(live.size), 1) if fit_intercept else np.arange(live.size)

    kept: list[np.integer] = []
    # Schur complement of the kept columns, in processing order; only the columns not yet
    # processed are updated (a Cholesky factorisation that skips dependent columns).
    residual = scaled[np.ix_(order, order)]
    for position, j in enumerate(order):
        pivot = residual[position, position]
        if pivot > rtol:
            kept.append(j)
            rest = residual[position + 1 :, position]
            residual[position + 1 :, position + 1 :] -= np.outer(rest, rest) / pivot
            continue
        # scaled column j ≈ Σ β_k · scaled column k over the kept k
        beta = np.linalg.solve(scaled[np.ix_(kept, kept)], scaled[kept, j])
        shares = np.zeros(live.size)
        shares[kept], shares[j] = -beta, 1.0
        problems.append(_problem(shares, j, live, root, labels))

    if len(kept) > 1:
        block = scaled[np.ix_(kept, kept)]
        values, vectors = np.linalg.eigh(block)
        for value, vector in zip(values, vectors.T, strict=True):
            if value <= rtol * values[-1]:
                shares = np.zeros(live.size)
                shares[kept] = vector
                problems.append(_problem(shares, None, live, root, labels))
    return problems


def _checked(
    matrix: np.ndarray, names: Sequence[str], fit_intercept: bool
) -> tuple[list[str], np.ndarray]:
    """Validate the matrix against the names; return the labels and the symmetric matrix."""
    H = np.asarray(matrix, dtype=np.float64)
    d = len(names)
    sizes = (d + 1,) if fit_intercept else (d, d + 1)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] not in sizes:
        expected = " or ".join(f"({n}, {n})" for n in sizes)
        raise ValueError(
            f"expected a matrix of shape {expected} for {d} features "
            f"(fit_intercept={fit_intercept}), got shape {H.shape}"
        )
    if not np.all(np.isfinite(H)):
        raise ValueError("the matrix holds NaN or infinite entries; diagnose the fit first")
    H = H[:d, :d] if not fit_intercept else H
    labels = [str(name) for name in names] + ([INTERCEPT] if fit_intercept else [])
    return labels, (H + H.T) / 2


def _problem(
    shares: np.ndarray,
    dependent: int | np.integer | None,
    live: np.ndarray,
    root: np.ndarray,
    labels: list[str],
) -> Problem:
    """Turn a relation in unit-diagonal scaling into a named Problem in the features' units.

    ``shares`` are coefficients of the scaled columns x̃_k/√H_kk; dividing by √H_kk gives
    coefficients of the columns themselves. ``dependent`` is the column the ordered pass
    found dependent (coefficient 1); None for a direction from the eigenvalue check.
    """
    named = np.flatnonzero(np.abs(shares) >= NAMED_SHARE * np.abs(shares).max())
    coefficients = shares[named] / root[named]
    anchor = dependent if dependent is not None else named[np.argmax(np.abs(shares[named]))]
    coefficients = coefficients / (shares[anchor] / root[anchor])
    features = tuple(labels[live[k]] for k in named)
    relation = tuple(float(c) for c in coefficients)
    by_name = dict(zip(features, relation, strict=True))
    target = labels[live[anchor]]
    others = [name for name in features if name != target]

    kind: Literal["constant", "duplicate", "collinear"]
    if dependent is None:
        kind = "collinear"
        listed = ", ".join(f"'{name}'" for name in features)
        detail = f"{listed} are nearly collinear ({_equation(target, others, by_name)})"
    elif others == [INTERCEPT]:
        kind = "constant"
        detail = f"'{target}' is constant (≈ {-by_name[INTERCEPT]:.6g}; the intercept carries it)"
    elif len(others) == 1:
        kind = "duplicate"
        factor = -by_name[others[0]]
        if abs(factor - 1) <= 1e-6:
            detail = f"'{target}' duplicates '{others[0]}'"
        else:
            equation = _equation(target, others, by_name)
            detail = f"'{target}' is a multiple of '{others[0]}' ({equation})"
    else:
        kind = "collinear"
        listed = ", ".join(f"'{name}'" for name in features)
        detail = f"{listed} are collinear ({_equation(target, others, by_name)})"
    return Problem(kind, features, detail, relation)


def _equation(target: str, others: list[str], by_name: dict[str, float]) -> str:
    """``'c' ≈ 1·'a' + 2·'b' + 3``: the target column written as a sum of the others."""
    terms = []
    for name in others:
        c = -by_name[name] / by_name[target]
        sign = "-" if c < 0 else "+"
        term = f"{abs(c):.3g}" if name == INTERCEPT else f"{abs(c):.3g}·'{name}'"
        terms.append((sign, term))
    text = ("-" if terms[0][0] == "-" else "") + terms[0][1]
    text += "".join(f" {sign} {term}" for sign, term in terms[1:])
    return f"'{target}' ≈ {text}"


def singular_message(problems: Sequence[Problem], what: str = "the information matrix") -> str:
    """One readable sentence for a warning or error; empty when there are no problems.

    Examples
    --------
    >>> message = singular_message([Problem("duplicate", ("a", "b"), "'b' duplicates 'a'")])
    >>> message.startswith("the information matrix is singular: 'b' duplicates 'a'.")
    True
    """
    if not problems:
        return ""
    details = "; ".join(problem.detail for problem in problems)
    return (
        f"{what} is singular: {details}. The coefficients of these features are not "
        "identifiable and their standard errors are meaningless: drop one feature of each "
        "relation, or set alpha > 0"
    )


def warn_singular(
    matrix: np.ndarray,
    names: Sequence[str],
    *,
    fit_intercept: bool = True,
    rtol: float = DEPENDENCE_RTOL,
    stacklevel: int = 3,
) -> list[Problem]:
    """Warn once, naming the features, if ``matrix`` is singular; return the problems.

    ``stacklevel=3`` points the warning at the caller of the function that calls this one
    (the user's ``fit``/``summary`` call, not the driver).
    """
    problems = singular_directions(matrix, names, fit_intercept=fit_intercept, rtol=rtol)
    if problems:
        warnings.warn(singular_message(problems), SingularInformationWarning, stacklevel=stacklevel)
    return problems


def quasi_separation(
    coef: np.ndarray,
    intercept: float,
    feature_std: np.ndarray,
    names: Sequence[str],
    *,
    extreme_share: float,
    threshold: float = LARGE_STANDARDISED_COEF,
) -> str | None:
    """A message naming the runaway features if the fit shows quasi-complete separation.

    Both signs are required: some weight sits at a fitted probability of 0 or 1
    (``extreme_share`` > 0) *and* some standardised coefficient |coef_j·std_j| exceeds
    ``threshold``. Either alone is common in healthy fits (a strong feature; a few
    confident rows). The intercept is not judged: it has no scale of its own.

    Examples
    --------
    >>> quasi_separation(np.array([40.0, 0.5]), 0.0, np.array([1.0, 1.0]), ["a", "b"],
    ...                  extreme_share=0.2)[:44]
    'quasi-complete separation: 20% of the weight'
    """
    coef = np.asarray(coef, dtype=np.float64)
    std = np.asarray(feature_std, dtype=np.float64)
    if coef.shape != (len(names),) or std.shape != (len(names),):
        raise ValueError(
            f"expected coef and feature_std of shape ({len(names)},) for {len(names)} names, "
            f"got {coef.shape} and {std.shape}"
        )
    if not 0.0 <= extreme_share <= 1.0:
        raise ValueError(f"expected extreme_share in [0, 1], got {extreme_share}")
    standardised = np.abs(coef * std)
    runaway = np.flatnonzero(standardised > threshold)
    if extreme_share <= 0 or runaway.size == 0:
        return None
    runaway = runaway[np.argsort(-standardised[runaway], kind="stable")]
    listed = ", ".join(f"'{names[int(j)]}' ({standardised[j]:.3g})" for j in runaway)
    return (
        f"quasi-complete separation: {100 * extreme_share:.3g}% of the weight has a fitted "
        f"probability of 0 or 1, and the log-odds move by more than "
        f"{threshold:g} per standard deviation of {listed} (intercept {intercept:.3g}). "
        "The maximum-likelihood coefficients do not exist (they grow without bound), so "
        "these values, their standard errors and p-values are meaningless: set alpha > 0, "
        "or check whether these features leak the label"
    )
