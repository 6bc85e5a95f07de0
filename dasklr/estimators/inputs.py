"""What ``fit`` accepts, made uniform: arrays and DataFrames as float arrays, labels as
class indices into the sorted classes, class weights by class index."""

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import pyarrow as pa
from dask.base import is_dask_collection

from dasklr.data.checks import check_values
from dasklr.data.formula import parse_formula
from dasklr.data.levels import Levels
from dasklr.data.parquet import ParquetData
from dasklr.errors import ConfigError, DataError, NotFittedError
from dasklr.kernels.design import Layout


def layout_of(levels: Sequence[Levels], width: int) -> Layout | None:
    """The layout of a model's design with ``levels`` (None: numeric features only)."""
    if not levels:
        return None
    sizes = tuple(len(found.coded) for found in levels)
    return Layout(width - sum(sizes), sizes)


def data_layout(data) -> Layout | None:
    """The layout of ``read_parquet`` data with categorical columns (else None)."""
    if not isinstance(data, ParquetData):
        return None
    return layout_of(data.levels, len(data.feature_names))


def check_formula_intercept(data, fit_intercept: bool) -> None:
    """A formula without an intercept (``- 1``) codes every level of its first categorical
    column, which an intercept would make collinear: it needs ``fit_intercept=False``."""
    formula = data.formula if isinstance(data, ParquetData) else None
    if formula is not None and not formula.intercept and fit_intercept:
        raise ConfigError(
            f"formula {formula.text!r} has no intercept; fit it with fit_intercept=False"
        )


def coded_like(model, data: ParquetData) -> ParquetData:
    """``read_parquet`` data as a fitted model takes it: read with the model's formula,
    its categorical columns coded with the model's levels."""
    formula = getattr(model, "formula_", None)
    if formula is not None and (data.formula is None or data.formula.text != formula):
        raise ValueError(
            f"the model's columns come from a formula: read the data with formula={formula!r}"
        )
    levels = tuple(getattr(model, "levels_", ()))
    return data.with_levels(levels) if levels or data.levels else data


def input_columns(model) -> tuple[list[str], tuple[Levels, ...]]:
    """The columns a fitted model reads from Parquet: its numeric features (a formula's
    raw columns), and its categorical columns with their frozen levels."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise DataError("the model has no feature names; it was not trained on named columns")
    levels = tuple(getattr(model, "levels_", ()))
    formula = getattr(model, "formula_", None)
    if formula is not None:
        return list(parse_formula(formula).columns), levels
    layout = layout_of(levels, len(names))
    numeric = [str(n) for n in names][: None if layout is None else layout.n_numeric]
    return numeric, levels


def index_in(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each label's index in the sorted ``classes`` (all labels are known to be there)."""
    return np.searchsorted(classes, labels).astype(np.float64)


def labels_of(y):
    """y as an array of labels: numbers, bools or strings keep their type; a column vector
    (n, 1) is taken as its n labels, with scikit-learn's ``DataConversionWarning``."""
    if y is None:
        raise ValueError(
            "LogisticRegression requires y to be passed, but the target y is None "
            "(only read_parquet data carries its labels)"
        )
    if is_dask_collection(y) and hasattr(y, "to_dask_array"):  # a Dask Series
        y = y.to_dask_array(lengths=True)
    y = known_lengths(y) if isinstance(y, da.Array) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected: its one column is "
            "taken as the labels; pass y.ravel() or a 1-D array",
            data_conversion_warning(),
            stacklevel=3,
        )
        y = y[:, 0]
    return y


def data_conversion_warning() -> type[Warning]:
    """scikit-learn's ``DataConversionWarning`` where it is installed (its tools look for
    it), else ``UserWarning``."""
    try:
        from sklearn.exceptions import DataConversionWarning
    except ImportError:
        return UserWarning
    return DataConversionWarning


def label_values(y: np.ndarray) -> np.ndarray:
    """Labels with Python-object strings (pandas) as NumPy strings, so they sort and compare."""
    return y.astype(str) if y.dtype.kind == "O" else y


def at_least_two(classes: np.ndarray, where: str) -> np.ndarray:
    if classes.size < 2:
        found = classes.tolist()[0] if classes.size else "no rows"
        raise DataError(
            f"{where} holds one class only ({found}): a single class cannot be fitted; "
            "logistic regression needs rows of at least two classes"
        )
    return classes


def same_classes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(a == b))


def class_weight_by_index(class_weight, classes: np.ndarray):
    """A dict by label → a tuple by class index; "balanced" and None pass through.

    A key matches a class by value, or else by its string (TOML keys are strings).
    """
    if not isinstance(class_weight, dict):
        return class_weight
    by_text = {str(key): key for key in class_weight}
    weights, used = [], set()
    for label in classes.tolist():
        key = label if label in class_weight else by_text.get(str(label))
        if key is None:
            weights.append(1.0)
            continue
        used.add(key)
        weights.append(float(class_weight[key]))
    unknown = [key for key in class_weight if key not in used]
    if unknown:
        raise ValueError(
            f"class_weight names {unknown}, which are not classes of the data {classes.tolist()}"
        )
    return tuple(weights)


def columns_of(X) -> tuple[Any, Sequence[str] | None]:
    """Split a table into its values and column names; arrays pass through.

    A Dask DataFrame stays lazy and distributed: its partitions become the chunks (their
    lengths computed once, in one pass, when Dask does not know them). pandas, polars and
    pyarrow tables come as their values, row-major like the array a user would build
    (pandas hands them column-major, and BLAS may then round a product differently).
    """
    if is_dask_collection(X) and hasattr(X, "columns"):  # a Dask DataFrame
        names = [str(c) for c in X.columns]
        return as_array(X.to_dask_array(lengths=True)), names
    if isinstance(X, pa.Table):
        columns = [X.column(name).to_numpy(zero_copy_only=False) for name in X.column_names]
        values = np.column_stack(columns) if columns else np.empty((X.num_rows, 0))
        return as_array(np.ascontiguousarray(values, dtype=np.float64)), list(X.column_names)
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # pandas, polars
        values = np.asarray(X.to_numpy(), dtype=np.float64)
        return as_array(np.ascontiguousarray(values)), [str(c) for c in X.columns]
    return as_array(X), None


def known_lengths(a):
    """A Dask array whose chunk lengths are unknown (from a filter, a DataFrame),
    with them computed, once; anything else as it is."""
    if isinstance(a, da.Array) and any(np.isnan(n) for n in a.chunks[0]):
        return a.compute_chunk_sizes()
    return a


def as_array(a, name: str = "X"):
    """float32 stays float32 (the kernels widen it chunk by chunk); the rest → float64.

    Refused with a message that says what to pass instead: sparse matrices (dense
    arrays only), complex numbers, and X that is not 2-D or has no rows or no columns.
    """
    if hasattr(a, "tocsr") and hasattr(a, "nnz"):
        raise TypeError(
            f"{name} is a sparse {type(a).__name__}: sparse input is not supported; pass "
            f"a dense array ({name}.toarray()) or a Dask array"
        )
    if is_dask_collection(a) and hasattr(a, "to_dask_array"):  # a Dask Series of weights
        a = a.to_dask_array(lengths=True)
    a = known_lengths(a) if isinstance(a, da.Array) else np.asarray(a)
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {a.dtype}")
    if name == "X":
        check_matrix_shape(a)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def check_matrix_shape(X) -> None:
    """X must be 2-D, with at least one column and one row (where its length is known)."""
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2-D array, got shape {X.shape}: Reshape your data, with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single row"
        )
    if X.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[0] == 0:
        raise ValueError(f"0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")


def checked_numpy(X, y, sample_weight, n_classes: int):
    names = [f"column {j}" for j in range(X.shape[1])]
    check_values(
        X, y, sample_weight, feature_names=names, where="the input arrays", n_classes=n_classes
    )
    return X, y, sample_weight


def check_fitted(estimator) -> None:
    """Raise ``NotFittedError`` (scikit-learn's too, where it is installed) before ``fit``."""
    if hasattr(estimator, "coef_"):
        return
    message = f"this {type(estimator).__name__} is not fitted yet; call fit first"
    try:
        from sklearn.exceptions import NotFittedError as ScikitNotFitted
    except ImportError:
        raise NotFittedError(message) from None
    raise _not_fitted_of_both(ScikitNotFitted)(message)


@functools.cache
def _not_fitted_of_both(scikit: type) -> type:
    """One error class that is both dasklr's and scikit-learn's ``NotFittedError``."""
    return type("NotFittedError", (NotFittedError, scikit), {"__module__": "dasklr.errors"})


def check_shapes(X, y, sample_weight) -> None:
    if X.ndim != 2 or y.ndim != 1:
        raise ValueError(f"X must be 2-D and y 1-D; got shapes {X.shape} and {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if sample_weight is not None and sample_weight.shape != y.shape:
        raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected {y.shape}")
