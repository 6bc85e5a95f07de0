"""Generated Parquet datasets for the quickstart, the examples, tests and benchmarks."""

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def make_classification(
    n_rows: int, n_features: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Rows drawn from a known logistic model: returns ``X, y, true_coef, true_intercept``.

    Features are correlated Gaussians with different scales, so the problem is not
    trivially conditioned; labels are Bernoulli draws of σ(X·coef + intercept).
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_rows, n_features))
    mixing = np.eye(n_features) + 0.3 * rng.normal(size=(n_features, n_features)) / np.sqrt(
        n_features
    )
    scales = np.exp(rng.uniform(-1.0, 1.0, size=n_features))
    X = (latent @ mixing) * scales
    coef = rng.normal(size=n_features) / (scales * np.sqrt(n_features))
    intercept = -0.5
    probability = 1.0 / (1.0 + np.exp(-(X @ coef + intercept)))
    y = (rng.uniform(size=n_rows) < probability).astype(np.int8)
    return X, y, coef, intercept


def write_parquet_dataset(
    directory: str | os.PathLike,
    X: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    n_files: int = 1,
    row_group_rows: int = 65_536,
    feature_prefix: str = "x",
) -> list[Path]:
    """Write (X, y[, w]) as ``n_files`` Parquet files of consecutive rows; return their paths.

    Columns are ``x0, x1, …`` (zero-padded to sort in order), ``y`` and ``w``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    width = len(str(max(0, X.shape[1] - 1)))
    names = [f"{feature_prefix}{j:0{width}d}" for j in range(X.shape[1])]
    bounds = np.linspace(0, X.shape[0], n_files + 1).astype(int)
    paths = []
    for i in range(n_files):
        rows = slice(bounds[i], bounds[i + 1])
        columns = {name: X[rows, j] for j, name in enumerate(names)}
        columns["y"] = y[rows]
        if sample_weight is not None:
            columns["w"] = sample_weight[rows]
        path = directory / f"part-{i:05d}.parquet"
        pq.write_table(
            pa.table(columns), path, row_group_size=row_group_rows, write_page_checksum=True
        )
        paths.append(path)
    return paths


def make_parquet_dataset(
    directory: str | os.PathLike,
    n_rows: int = 100_000,
    n_features: int = 16,
    *,
    n_files: int = 4,
    row_group_rows: int = 65_536,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Generate a dataset with ``make_classification`` and write it; return the true model."""
    X, y, coef, intercept = make_classification(n_rows, n_features, seed=seed)
    write_parquet_dataset(directory, X, y, n_files=n_files, row_group_rows=row_group_rows)
    return coef, intercept
