"""The categorical design kernels (``kernels/design.py``) against the dense one-hot design
built independently here: margins, transposed products and the weighted Gram, for one
and two categorical columns, with reference-level rows, to 1e-12 relative."""

import numpy as np
import pytest

from dasklr.kernels.design import Design, Layout
from dasklr.kernels.logistic import logistic_sums, softmax_sums
from dasklr.kernels.metrics import metric_sums
from dasklr.kernels.prediction import margin_std
from dasklr.kernels.robust import robust_sums
from dasklr.kernels.summary import summary_sums


def design_margins(X, coef, layout):
    return Design(X, layout).margins(coef)


def design_transpose(X, r, layout):
    return Design(X, layout).transpose(r)


def design_gram(X, s, layout):
    return Design(X, layout).gram(s)


def one_hot(X, layout):
    return Design(X, layout).dense()


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


# -- the chunk kernels with a layout equal the same kernels on the dense one-hot design ------

KERNEL_LAYOUTS = [Layout(3, (4,)), Layout(2, (5, 3))]


def _labelled(layout, n, seed, classes=2, sort=True):
    X = _chunk(layout, n, seed)
    if sort:  # as the training reader hands chunks over
        X = X[np.argsort(X[:, layout.n_numeric], kind="stable")]
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, classes, size=n).astype(np.float64)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, _dense(X, layout), y, w


def _same(a, b):
    for name in ("loss", "grad_coef", "grad_intercept", "weight", "hessian", "step_losses"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-10)
    for x, y in zip(a.diagonal, b.diagonal, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)
    assert a.hessian_weight == pytest.approx(b.hessian_weight, rel=1e-12)


@pytest.mark.parametrize("layout", KERNEL_LAYOUTS)
def test_logistic_sums_with_a_layout_equal_the_dense_design(layout):
    X, A, y, w = _labelled(layout, 9000, 11)
    rng = np.random.default_rng(12)
    coef, direction = rng.normal(size=layout.width) * 0.3, rng.normal(size=layout.width + 1)
    kwargs = dict(hessian=True, direction=direction, steps=(0.5, 1.0), diagonal=True)
    found = logistic_sums(X, y, w, coef, 0.2, layout=layout, **kwargs)
    _same(found, logistic_sums(A, y, w, coef, 0.2, **kwargs))


@pytest.mark.parametrize("layout", KERNEL_LAYOUTS)
@pytest.mark.parametrize("sort", [True, False])
def test_a_sampled_hessian_scales_up_a_row_sample_with_every_level_as_a_floor(layout, sort):
    """Every 3rd row's Gram scaled by Σw / Σw sampled, plus on each level's diagonal what
    the sample lacks of its exact Σs: positive semi-definite, and no level without
    curvature even where the sample misses it (rows sorted by level: whole runs)."""
    X, A, y, w = _labelled(layout, 9000, 11, sort=sort)
    coef = np.random.default_rng(12).normal(size=layout.width) * 0.3
    found = logistic_sums(X, y, w, coef, 0.2, hessian=True, hessian_stride=3, layout=layout)
    assert found.hessian_weight == pytest.approx(w.sum(), rel=1e-12)
    h = 1 / (1 + np.exp(-(A @ coef + 0.2)))
    s = w * h * (1 - h)
    rows = np.arange(0, 9000, 3)
    augmented = np.column_stack([A, np.ones(9000)])
    sample = augmented[rows]
    expected = sample.T @ (sample * s[rows, None]) * (w.sum() / w[rows].sum())
    levels = np.arange(layout.n_numeric, layout.width)
    exact = A[:, levels].T @ s
    expected[levels, levels] += np.maximum(exact - expected[levels, levels], 0.0)
    np.testing.assert_allclose(found.hessian, expected, rtol=1e-10, atol=1e-10)
    assert np.all(found.hessian[levels, levels] >= exact * (1 - 1e-12))
    assert np.linalg.eigvalsh(found.hessian).min() > -1e-9


@pytest.mark.parametrize("layout", KERNEL_LAYOUTS)
def test_softmax_sums_with_a_layout_equal_the_dense_design(layout):
    X, A, y, w = _labelled(layout, 3000, 13, classes=3)
    rng = np.random.default_rng(14)
    coef, direction = (
        rng.normal(size=(3, layout.width)) * 0.3,
        rng.normal(size=(3, layout.width + 1)),
    )
    kwargs = dict(hessian=True, direction=direction, steps=(1.0,), diagonal=True)
    found = softmax_sums(X, y, w, coef, np.zeros(3), layout=layout, **kwargs)
    _same(found, softmax_sums(A, y, w, coef, np.zeros(3), **kwargs))


@pytest.mark.parametrize("classes", [2, 3])
def test_summary_sums_with_a_layout_equal_the_dense_design(classes):
    layout = Layout(2, (5, 3))
    X, A, y, w = _labelled(layout, 5000, 15, classes=classes)
    found = summary_sums(X, y, w, True, classes, layout=layout)
    expected = summary_sums(A, y, w, True, classes)
    for name in ("weight", "weighted_labels", "mean", "spread", "label_first", "moments"):
        np.testing.assert_allclose(
            getattr(found, name), getattr(expected, name), rtol=1e-10, atol=1e-10
        )


def test_robust_metric_and_prediction_kernels_with_a_layout_equal_the_dense_design():
    layout = Layout(2, (5, 3))
    X, A, y, w = _labelled(layout, 5000, 17, sort=False)
    rng = np.random.default_rng(18)
    coef = rng.normal(size=layout.width) * 0.3
    groups = rng.integers(0, 40, size=5000)
    found = robust_sums(X, y, w, groups, coef, 0.1, layout=layout)
    expected = robust_sums(A, y, w, groups, coef, 0.1)
    for name in ("hessian", "meat", "group_keys", "group_scores"):
        np.testing.assert_allclose(getattr(found, name), getattr(expected, name), rtol=1e-10)
    metrics = metric_sums(X, y, w, coef[None], np.array([0.1]), 0.5, False, layout=layout)
    dense = metric_sums(A, y, w, coef[None], np.array([0.1]), 0.5, False)
    assert metrics.log_loss == pytest.approx(dense.log_loss, rel=1e-12)
    np.testing.assert_array_equal(metrics.positive_histogram, dense.positive_histogram)
    C = rng.normal(size=(layout.width + 1, layout.width + 1))
    C = C @ C.T / 100
    np.testing.assert_allclose(margin_std(X, C, layout), margin_std(A, C), rtol=1e-10)
