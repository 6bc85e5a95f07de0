"""``LogisticRegression``: a scikit-learn-shaped shell around the driver.

``__init__`` only stores parameters; ``fit`` validates them and the input, maps the
labels to class indices (``classes_``, sorted, as scikit-learn), calls the driver, and
stores fitted attributes (ending in ``_``). Predictions are lazy Dask arrays for Dask
input and NumPy arrays for NumPy input.
"""

import copy
import inspect
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import dask.array as da
import numpy as np

from dasklr.data.checks import check_finite_features, checked_classes
from dasklr.data.parquet import ParquetData
from dasklr.errors import DataError
from dasklr.estimators.inputs import (
    as_array,
    at_least_two,
    check_fitted,
    check_formula_intercept,
    check_shapes,
    checked_numpy,
    class_weight_by_index,
    coded_like,
    columns_of,
    data_layout,
    index_in,
    label_values,
    labels_of,
    layout_of,
    same_classes,
)
from dasklr.estimators.penalty import penalty_shape
from dasklr.estimators.persistence import read_model, save_model
from dasklr.fit.callbacks import ProgressPrinter
from dasklr.fit.checkpoint import Checkpoint, CheckpointPlan
from dasklr.fit.driver import Callback, train
from dasklr.kernels.design import Layout
from dasklr.kernels.prediction import (
    log_probabilities,
    margin_std,
    margins,
    predict_classes,
    probabilities,
    probability_interval,
    take,
)
from dasklr.options import FitOptions, option_fields
from dasklr.passes.cluster import connect
from dasklr.passes.in_process import fits_in_process
from dasklr.passes.progress import PassProgress
from dasklr.passes.runner import PassOptions
from dasklr.passes.sizing import sized_for_cluster
from dasklr.stats.inference import FitStatistics

#: Every default of a fit, from the one place that declares them (``dasklr.options``).
DEFAULTS = FitOptions()


class ParamsMixin:
    """``get_params`` / ``set_params`` as scikit-learn defines them, without importing it."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    #: for scikit-learn before 1.6, which read the type from this attribute
    _estimator_type = "classifier"

    def __sklearn_tags__(self):
        """What scikit-learn's tools and checks need to know (a classifier of dense 2-D
        input, without NaN); read only by scikit-learn, so it is imported here."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(allow_nan=False, sparse=False),
        )

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle (joblib, MLflow) keeps: parameters and fitted attributes, without
        the training data kept for robust covariances or a live ``distributed.Client``
        (an unpickled model runs on the current client, or an embedded cluster)."""
        state = dict(self.__dict__)
        state.pop("_fit_data", None)
        if not (state.get("client") is None or isinstance(state["client"], str)):
            state["client"] = None
        return state

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
    """Logistic regression, binary or multinomial, trained by tree reductions over Dask chunks.

    Minimises ``(1/Σw)·Σ w·[log(1+e^z) − y·z] + alpha·(l1_ratio·‖coef‖₁ +
    (1−l1_ratio)/2·‖coef‖²)`` with ``z = X·coef + intercept``; scikit-learn's ``C`` is
    ``1 / (alpha·Σw)``. With more than two classes the loss is the softmax's
    ``logsumexp(z) − z_y`` over one coefficient row per class (``coef_`` of shape
    (K, d)), penalised the same way, as scikit-learn's multinomial model; the intercepts
    are centred (they sum to 0). Labels may be of any integer, float, bool or string
    type: ``classes_`` holds them sorted.

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
        descent, the baseline. "auto": Newton up to 1024 coefficients (features ×
        classes for multinomial), L-BFGS beyond.
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
        W / (K·W_c), W_c its total sample weight (its row count without weights, from the
        summary pass); a dict {label: weight} gives them as is (missing classes weigh
        1; keys may also be the labels' strings, as TOML writes them). As in
        scikit-learn, on top of ``sample_weight``.
    standardize : bool
        Fit on features scaled to mean 0 and standard deviation 1 (weighted, ddof = 0),
        penalising those coefficients, as Spark MLlib does; no scaled copy is made and
        ``coef_`` is reported in the original units. Constant features get 0.
    cache : {"auto", "memory", "disk", "none"}
        Where decoded chunks live between passes, so that Parquet is decoded once:
        "memory" keeps them in the workers' memory, "disk" writes them during the first
        pass as ``.npy`` files under ``cache_dir`` on each worker and memory-maps them
        afterwards (removed at the end of the fit), "none" re-reads Parquet every pass.
        "auto" picks memory when the decoded data takes at most 40% of the workers'
        total memory limit, else disk. NumPy input is in memory already.
    cache_dir : str or None
        Base folder of the disk cache on each worker (default: its temporary folder).
    retries : int
        Run a task that failed (e.g. a read that met a transient ``OSError``) again up to
        this many times before the fit fails with its error.
    worker_timeout : float
        Seconds a pass waits on a cluster without any worker before it fails with a
        ``ClusterError`` naming the scheduler (instead of waiting forever).
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows (chosen by a hash of the row index,
        so the same rows every run), fit on the others, and stop once the held-out mean
        log-loss has not improved for ``n_iter_no_change`` iterations, keeping the
        iteration where it was lowest (``history_`` holds it as ``validation_loss``).
        Costs no extra pass. Meant for ``"lbfgs"`` and ``"gd"``.
    validation_fraction : float
        Share of the rows held out for ``early_stopping``, in (0, 1).
    n_iter_no_change : int
        Iterations without a lower held-out loss before ``early_stopping`` stops.
    penalty_factor : dict or None
        ``{feature name: factor}``: multiplies alpha for that feature, in the L2 and L1
        parts alike (glmnet's ``penalty.factor``); 0 leaves a control variable
        unpenalised. Features not named keep factor 1.
    prior_model : str, path, fitted model or None
        A previous model (a saved folder or URL, or a fitted estimator) whose coefficients
        the fit is pulled towards: adds ``prior_strength/2·‖coef − coef_prior‖²`` (aligned
        by feature name; features it lacks are pulled towards 0; intercepts are free).
        Nightly refits then move only as far as the new data warrant.
    prior_strength : float
        The prior's λ, in the objective's units (as alpha). 0 leaves the prior out.
    bounds : dict or None
        ``{feature name: (low, high)}`` bounds on coefficients in the features' units
        (None or ±inf for an open side), e.g. ``{"price": (None, 0.0)}``: projected Newton
        (``"newton"``) or L-BFGS with projection (``"lbfgs"``); binary models.
    offset : str or None
        A feature column added to every row's log-odds as is: its coefficient is held
        at 1 and not penalised (an exposure, a known effect, yesterday's score). It stays
        among the features, so ``predict_proba`` and ``dasklr predict`` read it like the
        others; ``summary()`` leaves it out. Binary models.
    client : distributed.Client, str or None
        Where to run: a client, a scheduler address, or None for the current client or
        else an embedded local cluster started and closed by ``fit``.
    verbose : bool
        Print one line per iteration (stdout) and the progress of each pass, chunks done
        out of the total (stderr: a bar redrawn in place on a terminal, one line per
        pass otherwise).

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

    #: set after fitting a grid (``LogisticRegressionCV``): the alphas, folds and scores
    selection_: dict
    #: set by ``dasklr train`` with ``output.metrics``: the metrics of the fitted model
    metrics_: dict
    #: set by ``dasklr train`` (``inference.cov_type``) and restored by ``load_model``
    summary_: Any

    def __init__(
        self,
        alpha: float = DEFAULTS.alpha,
        l1_ratio: float = DEFAULTS.l1_ratio,
        fit_intercept: bool = DEFAULTS.fit_intercept,
        solver: str = DEFAULTS.solver,
        tol: float = DEFAULTS.tol,
        max_iter: int = DEFAULTS.max_iter,
        split_every: int = DEFAULTS.split_every,
        warm_start: bool = False,
        standardize: bool = DEFAULTS.standardize,
        class_weight: str | dict | tuple | None = DEFAULTS.class_weight,
        cache: str = DEFAULTS.cache,
        cache_dir: str | None = DEFAULTS.cache_dir,
        retries: int = DEFAULTS.retries,
        worker_timeout: float = DEFAULTS.worker_timeout,
        early_stopping: bool = DEFAULTS.early_stopping,
        validation_fraction: float = DEFAULTS.validation_fraction,
        n_iter_no_change: int = DEFAULTS.n_iter_no_change,
        penalty_factor: dict | None = DEFAULTS.penalty_factor,
        prior_model: Any = DEFAULTS.prior_model,
        prior_strength: float = DEFAULTS.prior_strength,
        bounds: dict | None = DEFAULTS.bounds,
        offset: str | None = DEFAULTS.offset,
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
        self.cache = cache
        self.cache_dir = cache_dir
        self.retries = retries
        self.worker_timeout = worker_timeout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.penalty_factor = penalty_factor
        self.prior_model = prior_model
        self.prior_strength = prior_strength
        self.bounds = bounds
        self.offset = offset
        self.client = client
        self.verbose = verbose

    # -- fitting -------------------------------------------------------------------------

    def fit(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        callbacks: Sequence[Callback] = (),
        checkpoint: CheckpointPlan | None = None,
        resume: Checkpoint | None = None,
    ):
        """Fit on Dask or NumPy arrays, a pandas DataFrame, or ``read_parquet``'s result.

        ``fit(dasklr.read_parquet(path, label="y"))`` takes y, the weights, the feature
        names and the classes from the data. For Dask input, finding the classes costs
        one pass over y. ``callbacks`` are called after each iteration with an
        ``IterationRecord``; one returning True stops the fit. ``checkpoint`` and
        ``resume`` write and continue from checkpoints (``dasklr.fit.checkpoint``).
        """
        options = self.fit_options()
        with connect(self.client, in_process=fits_in_process(X, y, sample_weight)) as client:
            X = source = self._sized(X, client)
            X, y, sample_weight, feature_names, classes, check_chunks = self._training_data(
                X, y, sample_weight, client
            )
            layout = data_layout(source)
            width = X.shape[1] if layout is None else layout.width
            check_formula_intercept(source, options.fit_intercept)
            callbacks = [*callbacks, *([ProgressPrinter()] if self.verbose else [])]
            by_index = class_weight_by_index(options.class_weight, classes)
            result = train(
                X,
                y,
                sample_weight,
                replace(options, class_weight=by_index),
                n_classes=len(classes),
                client=client,
                callbacks=callbacks,
                check_chunks=check_chunks,
                init=self._warm_start_point(width, classes, feature_names),
                feature_names=feature_names,
                progress=PassProgress() if self.verbose else None,
                checkpoint=checkpoint,
                resume=resume,
                penalty=penalty_shape(options, feature_names, width, classes),
                layout=layout,
            )
        self._set_fitted(
            result,
            classes,
            feature_names,
            (X, y, sample_weight, source if isinstance(source, ParquetData) else None),
        )
        return self

    def fit_options(self) -> FitOptions:
        """The parameters as a validated ``FitOptions`` (``ConfigError`` naming a bad one)."""
        return FitOptions(**{f.name: getattr(self, f.name) for f in option_fields()})

    def _set_fitted(self, result, classes, feature_names, data) -> None:
        """Every fitted attribute, from a ``FitResult`` (or the chosen model of a grid)."""
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.classes_ = classes
        self.n_features_in_ = int(result.coef.shape[1])
        #: the categorical columns' frozen levels (``read_parquet(categorical=...)``)
        self.levels_ = () if data[3] is None else tuple(data[3].levels)
        formula = None if data[3] is None else data[3].formula
        #: the formula that made the columns, so predictions rebuild them from raw data
        self.formula_ = None if formula is None else formula.text
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if getattr(self, "training_data_", None):
            manifest = self.training_data_
            manifest["rows_used"] = result.rows
            manifest["rows_dropped"] = manifest["rows"] - result.rows  # on_invalid="drop"
        self.statistics_: FitStatistics | None = result.statistics
        cov = None if result.statistics is None else result.statistics.cov
        self.covariances_ = {} if cov is None else {"nonrobust": cov}
        self._fit_data = data
        self.solver_ = result.solver
        self.cache_ = result.cache
        self.n_iter_ = result.n_iter
        self.n_passes_ = result.n_passes
        self.converged_ = result.converged
        self.message_ = result.message  # why it stopped, when not by reaching tol
        self.history_ = [asdict(record) for record in result.history]  # plain, like JSON
        self.pass_seconds_ = result.pass_seconds

    def _sized(self, X, client):
        """``read_parquet`` data planned in chunks the cluster's workers can hold."""
        return sized_for_cluster(X, client, self.cache) if isinstance(X, ParquetData) else X

    def _layout(self) -> Layout | None:
        """The layout of the fitted design (None: numeric features only)."""
        return layout_of(getattr(self, "levels_", ()), self.n_features_in_)

    def _training_data(self, X, y, sample_weight, client):
        """(X, class indices, w, feature names, classes, check_chunks) from any input."""
        if isinstance(X, ParquetData):
            if y is not None:
                raise TypeError("fit(read_parquet(...)) takes y and weights from the data")
            classes = at_least_two(X.classes, f"label column '{X.label}'")
            self.training_data_ = data_manifest(X)
            # read_parquet checks every chunk it decodes
            return X.X, X.y, X.sample_weight, X.feature_names, classes, False
        self.training_data_ = None
        X, feature_names = columns_of(X)
        y = labels_of(y)
        sample_weight = None if sample_weight is None else as_array(sample_weight, "sample_weight")
        check_shapes(X, y, sample_weight)
        if isinstance(y, da.Array):
            found = np.unique(label_values(client.compute(da.unique(y)).result()))
            classes = checked_classes(found, "y")
            y = y.map_blocks(index_in, classes, dtype=np.float64)
        else:
            found, index = np.unique(label_values(y), return_inverse=True)
            classes = checked_classes(found, "y")
            y = index.astype(np.float64)
        classes = at_least_two(classes, "y")
        check_chunks = True
        if not any(isinstance(a, da.Array) for a in (X, y, sample_weight)):
            X, y, sample_weight = checked_numpy(X, y, sample_weight, len(classes))
            check_chunks = False
        return X, y, sample_weight, feature_names, classes, check_chunks

    def _warm_start_point(
        self, n_features: int, classes, feature_names=None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The previous fit's (coef, intercept) when ``warm_start`` and the shapes agree.

        When both fits know their feature names, they must be the same, in the same order:
        a coefficient is only meaningful for its own column.
        """
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        previous = getattr(self, "feature_names_in_", None)
        if previous is not None and feature_names is not None:
            check_same_features(list(previous), list(feature_names))
        if self.coef_.shape[1] != n_features:
            raise DataError(
                f"warm_start: the previous fit had {self.coef_.shape[1]} features, X has "
                f"{n_features}"
            )
        if not same_classes(self.classes_, classes):
            raise DataError(
                f"warm_start: the previous fit had classes {self.classes_.tolist()}, the data "
                f"has {classes.tolist()}"
            )
        return self.coef_.copy(), self.intercept_.copy()

    # -- predicting ----------------------------------------------------------------------

    def decision_function(self, X):
        """Margins ``X·coefᵀ + intercept``: shape (n,) for binary, (n, K) for K classes."""
        X = self._features(X)
        layout = self._layout()
        if isinstance(X, da.Array):
            shared = (margins, self.coef_, self.intercept_)
            if self._binary:
                return X.map_blocks(*shared, layout=layout, drop_axis=1, dtype=np.float64)
            K = self.coef_.shape[0]
            chunks = (X.chunks[0], (K,))
            return X.map_blocks(*shared, layout=layout, chunks=chunks, dtype=float)
        return margins(X, self.coef_, self.intercept_, layout)

    def predict_proba(self, X, return_std: bool = False, cov_type: str = "nonrobust"):
        """Class probabilities, one column per class of ``classes_``: shape (n, K).

        With ``return_std`` (binary models with standard errors, as ``summary()``): also
        each row's standard error of the log-odds (n,), by the delta method from the
        ``cov_type`` covariance, for ``predict_interval`` or one's own bounds.
        """
        if not return_std:
            return self._per_class(probabilities, X)
        cov = self.prediction_covariance(cov_type)  # refused before any work when none
        X = self._features(X)  # checked once for both
        proba = self._classes_of(probabilities, X)
        layout = self._layout()
        if isinstance(X, da.Array):
            std = X.map_blocks(margin_std, cov, layout=layout, drop_axis=1, dtype=np.float64)
            return proba, std
        return proba, margin_std(X, cov, layout)

    def predict_interval(self, X, level: float = 0.95, cov_type: str = "nonrobust"):
        """(n, 2) confidence bounds of each row's P(``classes_[1]``) at ``level``: the
        log-odds' interval z ± q·se(z) through the sigmoid (statsmodels'
        ``get_prediction`` for a logit). Binary models with standard errors only."""
        from statistics import NormalDist

        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        cov = self.prediction_covariance(cov_type)
        quantile = NormalDist().inv_cdf(0.5 + level / 2)
        X = self._features(X)
        shared = (self.coef_, self.intercept_, cov, quantile)
        layout = self._layout()
        if isinstance(X, da.Array):
            chunks = (X.chunks[0], (2,))
            return X.map_blocks(
                probability_interval, *shared, layout=layout, chunks=chunks, dtype=np.float64
            )
        return probability_interval(X, *shared, layout)

    def prediction_covariance(self, cov_type: str) -> np.ndarray:
        """The (d+1)² covariance of [θ, b] behind prediction standard errors."""
        check_fitted(self)
        info = getattr(self, "statistics_", None)
        if info is None or not self._binary:
            raise ValueError(
                "prediction standard errors need a binary fit without L1 that converged, "
                "as summary() does"
            )
        if info.singular:
            raise ValueError(f"no standard errors: {info.singular}")
        known = getattr(self, "covariances_", {})
        if cov_type not in known and cov_type not in ("nonrobust", "HC0"):
            raise ValueError(
                f"cov_type must be 'nonrobust', 'HC0' or one this model holds "
                f"({sorted(known) or 'none'}), got {cov_type!r}"
            )
        return self._covariance(cov_type, None, info)

    def predict_log_proba(self, X):
        """Log of ``predict_proba``, computed from the margins (exact where the
        probabilities round to 0 or 1)."""
        return self._per_class(log_probabilities, X)

    def _per_class(self, kernel, X):
        """``kernel(X, coef_, intercept_)``: one column per class, chunk by chunk for Dask."""
        return self._classes_of(kernel, self._features(X))

    def _classes_of(self, kernel, X):
        """``_per_class`` on features already checked by ``_features``."""
        layout = self._layout()
        if isinstance(X, da.Array):
            K = len(self.classes_)
            chunks = (X.chunks[0], (K,))
            shared = (kernel, self.coef_, self.intercept_)
            return X.map_blocks(*shared, layout=layout, chunks=chunks, dtype=np.float64)
        return kernel(X, self.coef_, self.intercept_, layout)

    def predict(self, X):
        """The class of highest probability, from ``classes_``."""
        X = self._features(X)
        if isinstance(X, da.Array):
            return X.map_blocks(
                predict_classes,
                self.coef_,
                self.intercept_,
                self.classes_,
                layout=self._layout(),
                drop_axis=1,
                dtype=self.classes_.dtype,
            )
        return predict_classes(X, self.coef_, self.intercept_, self.classes_, self._layout())

    def score(self, X, y=None) -> Any:
        """Mean accuracy (a lazy Dask scalar for Dask input); y comes with ``read_parquet`` data."""
        if isinstance(X, ParquetData):
            # y holds indices into the data's classes: compare labels, not indices
            labels = X.y.map_blocks(take, X.classes, dtype=X.classes.dtype)
            return (self.predict(X) == labels).mean()
        return (self.predict(X) == labels_of(y)).mean()

    @property
    def _binary(self) -> bool:
        return self.coef_.shape[0] == 1

    def _features(self, X):
        """X as the fitted coefficients need it: its columns checked against the fit's,
        in one Dask chunk across; NumPy input also checked for NaN and ±inf."""
        check_fitted(self)
        if isinstance(X, ParquetData):
            X = coded_like(self, X)
            names = X.feature_names
            X = X.X
        else:
            X, names = columns_of(X)
        expected = getattr(self, "feature_names_in_", None)
        if names is not None and expected is not None and list(names) != list(expected):
            formula = getattr(self, "formula_", None)
            hint = f"; read the data with formula={formula!r}" if formula else ""
            raise ValueError(
                f"feature names differ from those seen in fit: {list(names)} != "
                f"{list(expected)}{hint}"
            )
        layout = self._layout()
        columns = self.n_features_in_ if layout is None else layout.n_columns
        if X.shape[1] != columns:
            what = "columns (numeric features, then level codes)" if layout else "features"
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{columns} {what} as input"
            )
        if isinstance(X, da.Array):
            return X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
        names = expected if expected is not None else [f"column {j}" for j in range(X.shape[1])]
        check_finite_features(X, names, "the rows to predict")
        return X

    def summary(self, cov_type: str = "nonrobust", level: float = 0.95, groups=None):
        """Standard errors, z, p-values and confidence intervals of [intercept, features…],
        with the log-likelihoods, pseudo R², AIC, BIC and the likelihood-ratio test against
        the intercept-only model (``dasklr.stats.inference``).

        For binary fits without L1 that converged. ``cov_type``: "nonrobust" (the
        observed information; free after Newton, else one pass), "HC0" (sandwich) or
        "cluster" (cluster-robust, with statsmodels' small-sample factor; ``groups`` is
        an array of one label per row, or a column name of ``read_parquet`` data). The
        robust types take one pass over the training data of this session's fit; a
        loaded model has the covariances that were computed before it was saved.
        """
        from dasklr.stats.covariance import COV_TYPES
        from dasklr.stats.inference import summarise_fit

        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {list(COV_TYPES)}, got {cov_type!r}")
        if (cov_type == "cluster") != (groups is not None):
            raise ValueError("groups= goes with cov_type='cluster', and only with it")
        info = getattr(self, "statistics_", None)
        if info is None:
            raise ValueError(
                "summary() needs a binary fit without L1 that converged (no standard errors "
                "after L1 selection or with a coefficient held at a bound; for K classes "
                "there are none yet)"
            )
        if info.singular:
            raise ValueError(f"no standard errors: {info.singular}")
        cov = self._covariance(cov_type, groups, info)
        names = self._names()
        params = np.concatenate([self.coef_[0], self.intercept_])
        estimated = [j for j in range(len(names)) if np.isfinite(info.penalty[j])]
        order = [len(names), *estimated]  # the intercept first; no fixed coefficient
        keep = order if self.fit_intercept else order[1:]
        return summarise_fit(
            ["intercept" if j == len(names) else names[j] for j in keep],
            params[keep],
            cov[np.ix_(keep, keep)],
            info.llf,
            info.llnull,
            info.nobs,
            df_model=len(estimated),
            cov_type=cov_type,
            level=level,
        )

    def _names(self) -> list[str]:
        default = [f"x{j}" for j in range(self.n_features_in_)]
        return [str(name) for name in getattr(self, "feature_names_in_", default)]

    def _covariance(self, cov_type: str, groups, info: FitStatistics) -> np.ndarray:
        """The (d+1)² covariance of [features…, intercept]: known, or from one pass."""
        from dasklr.stats.covariance import check_identified, covariance, covariance_sums, expand

        known = self.__dict__.setdefault("covariances_", {})
        label: str | None
        if cov_type != "cluster":
            label = cov_type
        else:  # a column's clusters can be kept by name; an array's are computed each time
            label = f"cluster:{groups}" if isinstance(groups, str) else None
        if label in known:
            return known[label]
        data = getattr(self, "_fit_data", None)
        if data is None:
            raise ValueError(
                f"cov_type={cov_type!r} needs a pass over the training data, which this model "
                "does not have (loaded from a file, or unpickled?); it holds "
                f"{sorted(known) or 'none'}. "
                "Refit, or compute it before saving (dasklr train: inference.cov_type)"
            )
        X, y, w, source = data
        if isinstance(groups, str):
            if source is None:
                raise ValueError(
                    f"groups={groups!r} names a column: fit on read_parquet data for that, "
                    "or pass one group label per row"
                )
            groups = source.column_codes(groups)
        sums = covariance_sums(
            X,
            y,
            w,
            groups,
            self.coef_[0],
            float(self.intercept_[0]),
            client=self.client,
            options=PassOptions(
                int(self.split_every), int(self.retries), float(self.worker_timeout)
            ),
            layout=self._layout(),
        )
        penalty = np.asarray(info.penalty, dtype=np.float64)
        check_identified(sums, penalty, self._names(), fit_intercept=bool(self.fit_intercept))

        def of(kind: str) -> np.ndarray:
            found = covariance(sums, penalty, fit_intercept=bool(self.fit_intercept), cov_type=kind)
            return expand(found, bool(self.fit_intercept))

        known.setdefault("nonrobust", of("nonrobust"))
        known.setdefault("HC0", of("HC0"))
        if cov_type != "cluster":
            return known[cov_type]
        cov = of("cluster")
        if label is not None:
            known[label] = cov
        return cov

    # -- persistence ---------------------------------------------------------------------

    def save(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        storage_options: dict | None = None,
    ) -> None:
        """Write the fitted model as JSON metadata plus ``.npy`` arrays (never a pickle),
        to a local folder or an fsspec URL (``storage_options`` for its filesystem)."""
        save_model(self, path, overwrite=overwrite, storage_options=storage_options)


def check_same_features(previous: list[str], current: list[str]) -> None:
    """Refuse a warm start whose data has other feature columns, listing the differences."""
    if previous == current:
        return
    missing = [name for name in previous if name not in current]
    extra = [name for name in current if name not in previous]
    detail = []
    if missing:
        detail.append(f"missing from the data: {missing}")
    if extra:
        detail.append(f"new in the data: {extra}")
    if not detail:
        detail.append(f"same columns in another order: the model has {previous}")
    raise DataError("warm start: the features differ from the model's; " + "; ".join(detail))


def data_manifest(data: ParquetData) -> dict:
    """What a model was trained on: columns, row count, and every file's size and version."""
    return {
        "label": data.label,
        "weight": data.weight_column,
        "rows": int(sum(f.rows for f in data.files)),
        "files": [
            {"path": f.path, "size": f.size, "version": f.version, "rows": f.rows}
            for f in data.files
        ],
    }


def load_model(
    path: str | os.PathLike, *, storage_options: dict | None = None
) -> LogisticRegression:
    """Read a model written by ``LogisticRegression.save`` (or ``dasklr train``) from a
    local folder or an fsspec URL; refuses unknown formats and altered files, and never
    executes code from the file."""
    params, fitted = read_model(path, storage_options)
    settings = fitted.pop("summary_settings", None)
    model = LogisticRegression(**params)
    for name, value in fitted.items():
        setattr(model, name, value)
    if settings is not None:  # the summary the run stored, from its stored covariance
        model.summary_ = _stored_summary(model, settings)
    return model


def _stored_summary(model: LogisticRegression, settings: dict):
    """``summary()`` as it was stored (its cov_type and level), from the covariance saved
    with the model: no pass. None when that covariance is not there."""
    cov_type, groups = settings["cov_type"], None
    if cov_type == "cluster":
        labels = [k for k in getattr(model, "covariances_", {}) if k.startswith("cluster:")]
        if not labels:
            return None
        groups = labels[0].split(":", 1)[1]
    if cov_type != "cluster" and cov_type not in getattr(model, "covariances_", {}):
        return None
    return model.summary(cov_type=cov_type, level=settings["level"], groups=groups)
