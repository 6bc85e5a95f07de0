"""Pick the penalty by cross-validation, then read standard errors: all on Parquet.

    python examples/cross_validation.py

Writes a generated dataset (with a store column, for clustered errors) to a temporary
folder, cross-validates 8 alphas × 5 folds in the same passes, prints the choice and the
passes it took, then the coefficient table with cluster-robust standard errors.
"""

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import dasklr
from dasklr.data.synthetic import make_classification


def main() -> None:
    X, y, _, _ = make_classification(50_000, 6, seed=4)
    stores = np.random.default_rng(4).integers(0, 50, size=len(y))
    with tempfile.TemporaryDirectory() as tmp:
        columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
        table = pa.table({**columns, "y": y, "store": [f"store-{k}" for k in stores]})
        pq.write_table(table, Path(tmp) / "data.parquet", row_group_size=10_000)
        data = dasklr.read_parquet(Path(tmp) / "data.parquet", label="y", features=list(columns))

        model = dasklr.LogisticRegressionCV(alphas=np.logspace(-1, -6, 8), cv=5)
        model.fit(data)  # 8 alphas × (5 folds + all rows) = 48 models, same passes
        print(
            f"alpha_ = {model.alpha_:g} (mean held-out log-loss {model.mean_scores_.min():.5f}); "
            f"{model.n_passes_} passes for the whole grid"
        )
        print(model.summary(cov_type="cluster", groups="store"))


if __name__ == "__main__":
    main()
