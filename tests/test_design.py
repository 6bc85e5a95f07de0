"""The categorical design kernels (``kernels/design.py``) against the dense one-hot design
built independently here: margins, transposed products and the weighted Gram, for one
and two categorical columns, with reference-level rows, to 1e-12 relative."""

import numpy as np
import pytest

from dasklr.kernels.design import (
    Layout,
    design_gram,
    design_margins,
    design_transpose,
    one_hot,
)


def _chunk(layout: Layout, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, layout.n_numeric))
    codes = [rng.integers(-1, count, size=n) for count in layout.levels]  # −1: reference
    return np.column_stack([numeric, *codes]).astype(np.float64)


def _dense(X: np.ndarray, layout: Layout) -> np.ndarray:
    """The one-hot design, written out row by row (the reference level: all zeros)."""
    rows = []
    for row in X:
        parts = [row[: layout.n_numeric]]
        for c, count in enumerate(layout.levels):
            hot = np.zeros(count)
            code = int(row[layout.n_numeric + c])
            if code >= 0:
                hot[code] = 1.0
            parts.append(hot)
        rows.append(np.concatenate(parts))
    return np.array(rows)


LAYOUTS = [Layout(3, (4,)), Layout(2, (5, 3)), Layout(0, (6,)), Layout(4, ())]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_products_equal_the_dense_design(layout):
    X = _chunk(layout, 500, 1)
    A = _dense(X, layout)
    np.testing.assert_array_equal(one_hot(X, layout), A)
    rng = np.random.default_rng(2)
    coef, r = rng.normal(size=layout.width), rng.normal(size=500)
    np.testing.assert_allclose(design_margins(X, coef, layout), A @ coef, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(design_transpose(X, r, layout), A.T @ r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gram_equals_the_dense_gram(layout):
    X = _chunk(layout, 700, 3)
    augmented = np.column_stack([_dense(X, layout), np.ones(700)])
    s = np.random.default_rng(4).uniform(0, 2, size=700)
    expected = augmented.T @ (augmented * s[:, None])
    found = design_gram(X, s, layout)
    np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(found, found.T)


@pytest.mark.parametrize("layout", LAYOUTS[:3])
def test_gram_on_rows_sorted_by_the_first_code_is_the_same(layout):
    """Sorted chunks take the run-by-run path for the cross block: same Gram."""
    X = _chunk(layout, 600, 5)
    X = X[np.argsort(X[:, layout.n_numeric], kind="stable")]
    augmented = np.column_stack([_dense(X, layout), np.ones(600)])
    s = np.random.default_rng(6).uniform(0, 2, size=600)
    expected = augmented.T @ (augmented * s[:, None])
    np.testing.assert_allclose(design_gram(X, s, layout), expected, rtol=1e-12, atol=1e-12)


def test_layout_counts():
    layout = Layout(3, (4, 2))
    assert (layout.width, layout.n_columns, layout.offsets()) == (9, 5, [3, 7])
