"""Value checks shared by every input path: finite features, class indices, weights >= 0.

Pure NumPy. ``where`` says where the rows came from (a file and its row groups, or
"rows of the input array"), so the error can name it.
"""

from collections.abc import Sequence

import numpy as np

from dasklr.errors import DataError


def check_values(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    feature_names: Sequence[str],
    label: str = "y",
    weight: str = "sample_weight",
    where: str = "the input",
    n_classes: int = 2,
) -> None:
    """Raise ``DataError`` naming the first column (and ``where``) that holds a bad value.

    Labels must be class indices 0..``n_classes``−1 (0/1 for binary).
    """
    check_finite_features(X, feature_names, where)
    if n_classes == 2:
        invalid = (y != 0) & (y != 1)
        expected = "0/1 or bool values"
    else:
        invalid = ~((y >= 0) & (y < n_classes) & (y == np.floor(y)))
        expected = f"class indices 0..{n_classes - 1}"
    if invalid.any():
        raise DataError(
            f"label column '{label}' must hold {expected}; found {y[invalid][0]} in {where}"
        )
    if sample_weight is not None:
        check_weights(sample_weight, weight, where)


def check_finite_features(X: np.ndarray, feature_names: Sequence[str], where: str) -> None:
    """Raise ``DataError`` naming the first column that holds NaN or ±inf (a finite sum
    proves every value finite, so the elementwise test runs only when it is not)."""
    if np.isfinite(X.sum()):
        return
    finite = np.isfinite(X)
    if finite.all():  # the sum overflowed
        return
    column = int(np.argmin(finite.all(axis=0)))
    row = int(np.argmin(finite[:, column]))
    raise DataError(
        f"feature column '{feature_names[column]}' holds {shown(X[row, column])} in row "
        f"{row} of {where}; NaN and ±inf are not allowed"
    )


def shown(value) -> str:
    """A bad value as people write it: NaN, inf, -inf, or the number."""
    value = float(value)
    return "NaN" if np.isnan(value) else str(value)


def check_weights(sample_weight: np.ndarray, weight: str, where: str) -> None:
    """Raise ``DataError`` unless every weight is finite and non-negative."""
    invalid = ~np.isfinite(sample_weight) | (sample_weight < 0)
    if invalid.any():
        raise DataError(
            f"weight column '{weight}' must hold finite non-negative values; "
            f"found {sample_weight[invalid][0]} in {where}"
        )


def checked_classes(classes: np.ndarray, where: str) -> np.ndarray:
    """Sorted distinct labels, refused when they are not classes.

    Like scikit-learn, float labels must be whole numbers: a float column with
    fractions (a feature, a score) is more likely a wrong label column than a
    classification target with a class per distinct value.
    """
    if classes.dtype.kind == "f":
        bad = classes[~np.isfinite(classes) | (classes != np.round(classes))]
        if bad.size:
            raise DataError(
                f"{where} holds {bad[0]}: labels must be classes (integers, whole-number "
                "floats, bools or strings), not continuous values; is it the right column?"
            )
    return classes
