"""``LogisticRegression``: a scikit-learn-shaped shell around the driver.

``__init__`` only stores parameters; ``fit`` validates them and the input, calls the
driver, and stores fitted attributes (ending in ``_``). Predictions are lazy Dask arrays
for Dask input and NumPy arrays for NumPy input.
"""

import copy
import inspect
import math
import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import dask.array as da
import numpy as np

from dasklr.callbacks import ProgressPrinter
from dasklr.checks import check_values
from dasklr.driver import Callback, train
from dasklr.numerics import sigmoid
from dasklr.parquet import ParquetData
from dasklr.reduction import DEFAULT_SPLIT_EVERY
from dasklr.solvers import SOLVER_NAMES


class ParamsMixin:
    """``get_params`` / ``set_params`` as scikit-learn defines them, without importing it."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def __sklearn_clone__(self):
        # scikit-learn deep-copies parameters; a distributed.Client is shared, not copied.
        params = self.get_params()
        client = params.pop("client", None)
        return type(self)(client=client, **copy.deepcopy(params))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any):
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if value is not defaults[name].default
            and not (isinstance(value, float | int | str) and value == defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


class LogisticRegression(ParamsMixin):
    """Binary logistic regression trained by tree reductions over Dask chunks.

    Minimises ``(1/Σw)·Σ w·[log(1+e^z) − y·z] + alpha·(l1_ratio·‖coef‖₁ +
    (1−l1_ratio)/2·‖coef‖²)`` with ``z = X·coef + intercept``; scikit-learn's ``C`` is
    ``1 / (alpha·Σw)``.

    Parameters
    ----------
    alpha : float
        Penalty strength (0 for none).
    l1_ratio : float
        Share of L1 in the penalty, in [0, 1]. L1 is solved by proximal Newton
        (``"newton"``) or OWL-QN (``"lbfgs"``), with exact zeros in ``coef_``.
    fit_intercept : bool
        Fit an unpenalised intercept.
    solver : {"auto", "newton", "lbfgs", "gd"}
        "newton": Newton's method with the exact Hessian (few passes; up to 4096
        features). "lbfgs": limited-memory BFGS (any number of features). "gd": gradient
        descent, the baseline. "auto": Newton up to 1024 features, L-BFGS beyond.
    tol : float
        Stop when the max-norm of the gradient is at most ``tol``.
    max_iter : int
        Stop after this many iterations (with a ``ConvergenceWarning``).
    split_every : int
        Fan-in of the reduction tree.
    warm_start : bool
        Start the next ``fit`` from this model's coefficients instead of the log-odds.
    class_weight : None, "balanced" or dict
        Multiply each row's weight by its class's: "balanced" gives class c the weight
        W / (2·W_c), W_c its total sample weight (its row count without weights, from the
        summary pass); a dict {0: w0, 1: w1} gives them as is. As in scikit-learn, on
        top of ``sample_weight``.
    standardize : bool
        Fit on features scaled to mean 0 and standard deviation 1 (weighted, ddof = 0),
        penalising those coefficients, as Spark MLlib does; no scaled copy is made and
        ``coef_`` is reported in the original units. Constant features get 0.
    client : distributed.Client, str or None
        Where to run: a client, a scheduler address, or None for the current client or
        else an embedded local cluster started and closed by ``fit``.
    verbose : bool
        Print one line per iteration.

    Examples
    --------
    >>> import numpy as np, dasklr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = (X @ [1.0, -2.0, 0.5] + rng.logistic(size=500) > 0).astype(float)
    >>> model = dasklr.LogisticRegression(alpha=1e-3).fit(X, y)   # doctest: +SKIP
    >>> model.predict_proba(X[:2]).shape                           # doctest: +SKIP
    (2, 2)
    """

    def __init__(
        self,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int = 100,
        split_every: int = DEFAULT_SPLIT_EVERY,
        warm_start: bool = False,
        standardize: bool = False,
        class_weight: str | dict | None = None,
        client: Any = None,
        verbose: bool = False,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.split_every = split_every
        self.warm_start = warm_start
        self.standardize = standardize
        self.class_weight = class_weight
        self.client = client
        self.verbose = verbose

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None, *, callbacks: Sequence[Callback] = ()):
        """Fit on Dask or NumPy arrays, a pandas DataFrame, or ``read_parquet``'s result.

        ``fit(dasklr.read_parquet(path, label="y"))`` takes y, the weights and the feature
        names from the data. ``callbacks`` are called after each iteration with an
        ``IterationRecord``; one returning True stops the fit.
        """
        self._validate_params()
        feature_names = None
        check_chunks = True
        if isinstance(X, ParquetData):
            if y is not None:
                raise TypeError("fit(read_parquet(...)) takes y and weights from the data")
            X, y, sample_weight, feature_names = X.X, X.y, X.sample_weight, X.feature_names
            check_chunks = False  # read_parquet checks every chunk it decodes
        else:
            if y is None:
                raise TypeError("fit(X, y) needs y unless X comes from dasklr.read_parquet")
            X, feature_names = _columns_of(X)
            y = _as_array(y)
            sample_weight = None if sample_weight is None else _as_array(sample_weight)
            if not any(isinstance(a, da.Array) for a in (X, y, sample_weight)):
                X, y, sample_weight = _checked_numpy(X, y, sample_weight)
                check_chunks = False
        _check_shapes(X, y, sample_weight)
        callbacks = [*callbacks, *([ProgressPrinter()] if self.verbose else [])]
        result = train(
            X,
            y,
            sample_weight,
            alpha=float(self.alpha),
            l1_ratio=float(self.l1_ratio),
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            split_every=int(self.split_every),
            client=self.client,
            callbacks=callbacks,
            check_chunks=check_chunks,
            init=self._warm_start_point(X.shape[1]),
            standardize=bool(self.standardize),
            class_weight=self.class_weight,
        )
        self.coef_ = result.coef.reshape(1, -1)
        self.intercept_ = np.array([result.intercept])
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(X.shape[1])
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.solver_ = result.solver
        self.n_iter_ = result.n_iter
        self.n_passes_ = result.n_passes
        self.converged_ = result.converged
        self.history_ = result.history
        return self

    def _warm_start_point(self, n_features: int) -> tuple[np.ndarray, float] | None:
        """The previous fit's (coef, intercept) when ``warm_start`` and the shapes agree."""
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        if self.coef_.shape != (1, n_features):
            raise ValueError(
                f"warm_start: the previous fit had {self.coef_.shape[1]} features, X has "
                f"{n_features}"
            )
        return self.coef_[0].copy(), float(self.intercept_[0])

    def _validate_params(self) -> None:
        if not (isinstance(self.alpha, Real) and 0 <= self.alpha < math.inf):
            raise ValueError(f"alpha must be a number >= 0, got {self.alpha!r}")
        if not (isinstance(self.l1_ratio, Real) and 0 <= self.l1_ratio <= 1):
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}")
        weights = self.class_weight
        valid_dict = isinstance(weights, dict) and all(
            key in (0, 1) and _positive_number(value) for key, value in weights.items()
        )
        if not (weights is None or weights == "balanced" or valid_dict):
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict {{0: w0, 1: w1}} of finite "
                f"weights > 0, got {weights!r}"
            )
        if self.solver not in SOLVER_NAMES:
            raise ValueError(f"solver must be one of {list(SOLVER_NAMES)}, got {self.solver!r}")
        if not _positive_number(self.tol):
            raise ValueError(f"tol must be a number > 0, got {self.tol!r}")
        if not (isinstance(self.max_iter, Integral) and self.max_iter >= 0):
            raise ValueError(f"max_iter must be an integer >= 0, got {self.max_iter!r}")
        if not (isinstance(self.split_every, Integral) and self.split_every >= 2):
            raise ValueError(f"split_every must be an integer >= 2, got {self.split_every!r}")

    # -- predicting ----------------------------------------------------------------------

    def decision_function(self, X):
        """Margins ``X·coef + intercept``, shape (n,)."""
        X = self._features(X)
        coef, intercept = self.coef_[0], float(self.intercept_[0])
        if isinstance(X, da.Array):
            return X.map_blocks(_margins, coef, intercept, drop_axis=1, dtype=np.float64)
        return _margins(X, coef, intercept)

    def predict_proba(self, X):
        """Columns P(y=0), P(y=1), shape (n, 2)."""
        X = self._features(X)
        coef, intercept = self.coef_[0], float(self.intercept_[0])
        if isinstance(X, da.Array):
            return X.map_blocks(
                _probabilities, coef, intercept, chunks=(X.chunks[0], (2,)), dtype=np.float64
            )
        return _probabilities(X, coef, intercept)

    def predict(self, X):
        """The class of highest probability (1 where the margin is positive)."""
        margins = self.decision_function(X)
        return (margins > 0).astype(self.classes_.dtype)

    def score(self, X, y=None) -> Any:
        """Mean accuracy (a lazy Dask scalar for Dask input); y comes with ``read_parquet`` data."""
        if isinstance(X, ParquetData):
            y = X.y
        elif y is None:
            raise TypeError("score(X, y) needs y unless X comes from dasklr.read_parquet")
        else:
            y = _as_array(y)
        return (self.predict(X) == y).mean()

    def _features(self, X):
        if not hasattr(self, "coef_"):
            raise AttributeError("this LogisticRegression is not fitted yet; call fit first")
        if isinstance(X, ParquetData):
            names = X.feature_names
            X = X.X
        else:
            X, names = _columns_of(X)
        expected = getattr(self, "feature_names_in_", None)
        if names is not None and expected is not None and list(names) != list(expected):
            raise ValueError(
                f"feature names differ from those seen in fit: {list(names)} != {list(expected)}"
            )
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; expected (n, {self.n_features_in_})")
        if isinstance(X, da.Array) and X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        return X

    # -- persistence ---------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the fitted model as JSON metadata plus ``.npy`` arrays (never a pickle)."""
        from dasklr.persistence import save_model

        save_model(self, path, overwrite=overwrite)


def _positive_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0 < value < math.inf


def _margins(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(X @ coef, dtype=np.float64) + intercept


def _probabilities(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    p1 = sigmoid(_margins(X, coef, intercept))
    return np.column_stack([1.0 - p1, p1])


def _columns_of(X) -> tuple[Any, Sequence[str] | None]:
    """Split a DataFrame into its values and column names; arrays pass through."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        return X.to_numpy(dtype=np.float64), [str(c) for c in X.columns]
    return _as_array(X), None


def _as_array(a):
    if isinstance(a, da.Array):
        return a if a.dtype == np.float64 else a.astype(np.float64)
    return np.asarray(a, dtype=np.float64)


def _checked_numpy(X, y, sample_weight):
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    names = [f"column {j}" for j in range(X.shape[1])]
    check_values(X, y, sample_weight, feature_names=names, where="the input arrays")
    return X, y, sample_weight


def _check_shapes(X, y, sample_weight) -> None:
    if X.ndim != 2 or y.ndim != 1:
        raise ValueError(f"X must be 2-D and y 1-D; got shapes {X.shape} and {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if sample_weight is not None and sample_weight.shape != y.shape:
        raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected {y.shape}")
