"""Each chunk's first row index: what row-hash kernels (folds, held-out rows) need
to know where their rows are.
"""

import dask.array as da
import numpy as np

from dasklr.errors import ConfigError


def row_offsets(X: da.Array) -> list[tuple[int]]:
    """The global index of each chunk's first row (its ``chunk_args``)."""
    sizes = X.chunks[0]
    if any(size != size for size in sizes):  # NaN: read_parquet(on_invalid="drop")
        raise ConfigError(
            "cross-validation and early stopping hold out rows by their index, which needs the "
            "chunks' row counts; they are unknown after on_invalid='drop'. Clean the data, or "
            "use a separate validation dataset"
        )
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return [(int(start),) for start in starts]
