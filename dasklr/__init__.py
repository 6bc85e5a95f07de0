"""dasklr: logistic regression on Parquet data larger than memory, trained with Dask.

read_parquet  → (X, y, sample_weight) Dask arrays, one chunk per row group
kernels       → raw loss/gradient sums of one chunk (pure NumPy)
reduction     → one pass: kernel on every chunk, partials added in a fixed tree
objective     → one division by Σw plus the penalty, on the driver
solvers       → see only loss_and_grad
driver        → owns the client and the loop, history and callbacks
estimator     → LogisticRegression (scikit-learn shaped)
path          → many models (alphas × folds) in the same passes, solvers in lockstep
model_selection → fit_path, LogisticRegressionCV
inference     → summary(): standard errors, tests, likelihoods
covariance    → the pass behind summary(): HC0 and cluster-robust sandwiches (robust)
diagnostics   → singular information and quasi-separation, named by feature
folds         → held-out rows by a hash of the row index
persistence   → save/load: JSON + .npy, atomic, no pickle
onnx_export   → the prediction rule as an ONNX graph, to serve without Python
config, cli   → TOML configs and the ``dasklr`` command
"""

from importlib.metadata import PackageNotFoundError, version

from dasklr.data.parquet import ParquetData, read_parquet
from dasklr.errors import (
    ClusterError,
    ColumnsLeftOutWarning,
    ConfigError,
    ConvergenceWarning,
    DasklrError,
    DataError,
    ModelFormatError,
    NotFittedError,
    SeparationWarning,
    SingularInformationWarning,
    StorageError,
)
from dasklr.estimators.estimator import LogisticRegression, load_model
from dasklr.estimators.model_selection import LogisticRegressionCV, RegularizationPath, fit_path
from dasklr.estimators.onnx_export import export_onnx, to_onnx
from dasklr.kernels.folds import fold_ids

try:
    __version__ = version("dasklr")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ClusterError",
    "ColumnsLeftOutWarning",
    "ConfigError",
    "ConvergenceWarning",
    "DasklrError",
    "DataError",
    "LogisticRegression",
    "LogisticRegressionCV",
    "ModelFormatError",
    "NotFittedError",
    "ParquetData",
    "RegularizationPath",
    "SeparationWarning",
    "SingularInformationWarning",
    "StorageError",
    "__version__",
    "export_onnx",
    "fit_path",
    "fold_ids",
    "load_model",
    "read_parquet",
    "to_onnx",
]
