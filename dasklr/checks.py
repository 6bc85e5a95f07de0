"""Value checks shared by every input path: finite features, 0/1 labels, weights >= 0.

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
) -> None:
    """Raise ``DataError`` naming the first column (and ``where``) that holds a bad value."""
    finite = np.isfinite(X)
    if not finite.all():
        column = int(np.argmin(finite.all(axis=0)))
        bad = X[~finite[:, column], column][0]
        raise DataError(f"feature column '{feature_names[column]}' holds {bad} in {where}")
    invalid = (y != 0) & (y != 1)
    if invalid.any():
        raise DataError(
            f"label column '{label}' must hold 0/1 or bool values; found {y[invalid][0]} in {where}"
        )
    if sample_weight is not None:
        invalid = ~np.isfinite(sample_weight) | (sample_weight < 0)
        if invalid.any():
            raise DataError(
                f"weight column '{weight}' must hold finite non-negative values; "
                f"found {sample_weight[invalid][0]} in {where}"
            )
