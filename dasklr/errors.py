"""The exceptions and warnings dasklr raises, so callers and the CLI can tell them apart."""


class DasklrError(Exception):
    """Base class of every error dasklr raises on purpose."""

    exit_code = 1


class ConfigError(DasklrError, ValueError):
    """A configuration file or parameter is invalid (names the file and key)."""

    exit_code = 2


class DataError(DasklrError, ValueError):
    """Input data is unusable (names the file, column and row group where known)."""

    exit_code = 3


class ClusterError(DasklrError, RuntimeError):
    """The Dask cluster cannot be reached or has no workers (names the address)."""

    exit_code = 4


class ModelFormatError(DasklrError, ValueError):
    """A saved model is missing, corrupt or of an unknown format version (names the file)."""

    exit_code = 5


class StorageError(DasklrError, OSError):
    """A disk filled up or refused a write (names the folder); nothing was replaced."""

    exit_code = 6


class NotFittedError(DasklrError, ValueError, AttributeError):
    """An estimator asked to predict (or summarise) before ``fit``. Where scikit-learn is
    installed, the error raised is scikit-learn's ``NotFittedError`` as well."""


class OutputExistsError(DasklrError, FileExistsError):
    """The output path (a model, predictions) exists and overwriting was not asked for, or
    another run took it meanwhile; nothing was replaced."""

    exit_code = 7


class NotConvergedError(DasklrError, RuntimeError):
    """The fit stopped before reaching ``tol`` and the run was asked to fail on that
    (``train --fail-on-nonconvergence``)."""

    exit_code = 8


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before the gradient reached ``tol``."""


class SeparationWarning(ConvergenceWarning):
    """Without a penalty, the classes are (nearly) separable: there is no optimum to reach."""


class ColumnsLeftOutWarning(UserWarning):
    """``read_parquet(features=None)`` left out columns that are not numeric in every file."""


class SingularInformationWarning(UserWarning):
    """The information matrix is singular: some coefficients are not identifiable."""
