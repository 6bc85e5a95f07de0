"""Model artifacts: a directory of JSON metadata plus ``.npy`` arrays, never a pickle.

    model/
      metadata.json   format and version, dasklr's and its dependencies' versions,
                      parameters, features, classes, convergence, history, the
                      training data's manifest (files, sizes, versions, rows),
                      metrics, and the sha256 of every array file
      coef.npy        (B, d) float64: B = 1 for two classes, K for K > 2
      intercept.npy   (B,) float64

On disk the directory is written under a temporary name beside the target, every file
fsynced, and published in one atomic rename (``dasklr.artifacts``): a reader finds the
complete old or the complete new model, of two runs saving to a free path exactly one
wins, and a reader never mixes the files of two versions. At an fsspec URL the arrays
are uploaded first, under names that carry their hash, and ``metadata.json`` last, as the
commit marker (``dasklr.remote``). Loading checks the format version, the
metadata's own checksum and every array's hash, and reads the arrays with
``allow_pickle=False``: loading a model cannot execute code.
"""

import math
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from dasklr.artifacts import ArtifactReader, metadata_checksum, write_array, write_checked_json
from dasklr.data.levels import Levels
from dasklr.errors import ModelFormatError
from dasklr.remote import location, read_artifact, staged_artifact
from dasklr.stats.inference import FitStatistics

FORMAT = "dasklr-model"
FORMAT_VERSION = 1
ARRAYS = ("coef", "intercept")
#: The file written last, naming every other: a model is complete when it is there.
MARKER = "metadata.json"
#: What the coefficients minimise, for whoever reads the metadata without dasklr.
OBJECTIVE = (
    "(1/Σw)·Σ w·[log(1+e^z) − y·z] (binary; K > 2 classes: logsumexp(z) − z_y) + "
    "alpha·(l1_ratio·‖coef‖₁ + (1−l1_ratio)/2·‖coef‖²), z = X·coefᵀ + intercept, "
    "intercept not penalised; with standardize the penalty is on standardised features"
)
#: Parameters that describe where and how loudly a fit ran, not the model: not saved.
_RUNTIME_PARAMS = ("client", "verbose", "cache_dir", "retries", "worker_timeout")


def save_model(
    model,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    storage_options: dict | None = None,
) -> Path | str:
    """Write a fitted ``LogisticRegression`` to the directory ``path`` atomically: a local
    path, or an fsspec URL with ``storage_options`` for its filesystem (see
    ``dasklr.remote``). The model is read through its attributes only: any estimator with
    them can be saved. Returns the path or URL written."""
    if not hasattr(model, "coef_"):
        raise ValueError("cannot save a model that is not fitted")
    target = location(path, storage_options)
    shown = target if isinstance(target, Path) else target.url
    try:
        with staged_artifact(target, overwrite=overwrite, marker=MARKER) as staging:
            _write_model(model, staging)
    except FileExistsError:
        if overwrite:
            raise
        raise FileExistsError(
            f"{shown} already exists (or another run wrote it meanwhile); pass "
            "overwrite=True to replace it"
        ) from None
    return shown


def _write_model(model, staging: Path) -> None:
    """The model's files, written into the staging directory."""
    arrays = {}
    for name in ARRAYS:
        value = np.ascontiguousarray(getattr(model, f"{name}_"), dtype=np.float64)
        arrays[name] = write_array(staging / f"{name}.npy", value)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "objective": OBJECTIVE,
        "params": {
            name: _plain(value)
            for name, value in _params_of(model).items()
            if name not in _RUNTIME_PARAMS
        },
        "n_features_in": model.n_features_in_,
        "feature_names_in": _feature_names(model),
        "levels": [_level_entry(found) for found in getattr(model, "levels_", ())],
        "formula": getattr(model, "formula_", None),
        "classes": model.classes_.tolist(),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "n_passes": int(model.n_passes_),
        "history": model.history_,
        "training_data": getattr(model, "training_data_", None),
        "metrics": getattr(model, "metrics_", None),
        "selection": getattr(model, "selection_", None),
        "inference": _write_statistics(model, staging),
        "summary": _summary_entry(getattr(model, "summary_", None)),
        "arrays": arrays,
    }
    write_checked_json(staging / "metadata.json", metadata)


def read_metadata(path: str | os.PathLike, storage_options: dict | None = None) -> dict[str, Any]:
    """The checked ``metadata.json`` of a model directory (format and version)."""
    return read_artifact(path, _checked_metadata, storage_options=storage_options)


def _checked_metadata(snapshot: ArtifactReader) -> dict[str, Any]:
    meta_path = snapshot.where("metadata.json")
    try:
        metadata = snapshot.read_json("metadata.json")
    except ModelFormatError as exc:
        if str(exc).endswith(": missing"):
            raise ModelFormatError(
                f"{meta_path}: no such file; is {snapshot.where('')} a dasklr model?"
            ) from None
        raise
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFormatError(f"{meta_path}: not a dasklr model (format is not '{FORMAT}')")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"{meta_path}: format version {metadata.get('format_version')!r}; this dasklr "
            f"reads version {FORMAT_VERSION}"
        )
    if metadata.get("checksum") != metadata_checksum(metadata):
        raise ModelFormatError(f"{meta_path}: checksum differs; the metadata was altered")
    return metadata


def _params_of(model) -> dict[str, Any]:
    """The parameters a ``LogisticRegression`` is rebuilt with (a CV model's: the chosen)."""
    hook = getattr(model, "artifact_params", None)
    return hook() if hook is not None else model.get_params()


def read_model(
    path: str | os.PathLike, storage_options: dict | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a model written by ``save_model`` (a local path or an fsspec URL): (its
    parameters, its fitted attributes by name, and ``summary_settings``: the cov_type and
    level of the summary stored with it). Refuses unknown formats, altered files and
    arrays of the wrong shape. ``dasklr.load_model`` builds the estimator from them."""
    return read_artifact(path, _read_model, storage_options=storage_options)


def _read_model(snapshot: ArtifactReader) -> tuple[dict[str, Any], dict[str, Any]]:
    meta_path = snapshot.where("metadata.json")
    metadata = _checked_metadata(snapshot)
    try:
        params = dict(metadata["params"])
        fitted: dict[str, Any] = {
            f"{name}_": snapshot.read_array(metadata["arrays"][name]) for name in ARRAYS
        }
        classes = fitted["classes_"] = np.asarray(metadata["classes"])
        if isinstance(params.get("class_weight"), dict):  # JSON keys are strings
            params["class_weight"] = _label_keys(params["class_weight"], classes)
        fitted["n_features_in_"] = int(metadata["n_features_in"])
        if metadata["feature_names_in"] is not None:
            fitted["feature_names_in_"] = np.asarray(metadata["feature_names_in"], dtype=object)
        # a model from before categorical columns has none
        fitted["levels_"] = tuple(_read_levels(entry) for entry in metadata.get("levels") or [])
        formula = metadata.get("formula")
        fitted["formula_"] = None if formula is None else str(formula)
        fitted["converged_"] = bool(metadata["converged"])
        fitted["n_iter_"] = int(metadata["n_iter"])
        fitted["n_passes_"] = int(metadata["n_passes"])
        fitted["history_"] = metadata["history"]
        fitted["training_data_"] = metadata.get("training_data")
        if metadata.get("summary"):  # how the stored summary was taken, to take it again
            entry = metadata["summary"]
            fitted["summary_settings"] = {"cov_type": entry["cov_type"], "level": entry["level"]}
        for name in ("metrics", "selection"):
            if metadata.get(name) is not None:
                fitted[f"{name}_"] = metadata[name]
        fitted.update(
            _read_statistics(snapshot, fitted["n_features_in_"], metadata.get("inference"))
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{meta_path}: missing or malformed field ({exc!r})") from None
    _check_shapes(snapshot, fitted)
    return params, fitted


def _check_shapes(snapshot: ArtifactReader, fitted: dict[str, Any]) -> None:
    classes, coef, intercept = fitted["classes_"], fitted["coef_"], fitted["intercept_"]
    rows = 1 if classes.size == 2 else classes.size
    if classes.size < 2 or coef.shape != (rows, fitted["n_features_in_"]):
        raise ModelFormatError(
            f"{snapshot.where('coef.npy')}: shape {coef.shape}, expected ({rows}, "
            f"{fitted['n_features_in_']}) for {classes.size} classes"
        )
    names = [str(n) for n in fitted.get("feature_names_in_", [])]
    coded = [name for found in fitted["levels_"] for name in found.coefficient_names()]
    if coded and names[len(names) - len(coded) :] != coded:
        raise ModelFormatError(
            f"{snapshot.where('metadata.json')}: the categorical levels do not name the last "
            f"{len(coded)} coefficients"
        )
    if intercept.shape != (rows,):
        raise ModelFormatError(
            f"{snapshot.where('intercept.npy')}: shape {intercept.shape}, expected ({rows},)"
        )


def _summary_entry(summary) -> dict[str, Any] | None:
    """The summary table as text (what ``dasklr info`` prints) and as numbers."""
    if summary is None:
        return None
    return {
        "cov_type": summary.cov_type,
        "level": summary.level,
        "table": str(summary),
        "names": [str(name) for name in summary.names],
        "params": summary.params.tolist(),
        "std_errors": summary.std_errors.tolist(),
        "p_values": summary.p_values.tolist(),
    }


def _write_statistics(model, staging: Path) -> dict[str, Any] | None:
    """What ``summary()`` needs after loading: log-likelihoods, the penalty's curvature
    and every covariance computed so far (as checksummed ``.npy`` files)."""
    info: FitStatistics | None = getattr(model, "statistics_", None)
    if info is None:
        return None
    known = getattr(model, "covariances_", {})
    return {
        "llf": info.llf,
        "llnull": info.llnull,
        "nobs": int(info.nobs),
        "penalty": np.asarray(info.penalty, dtype=np.float64).tolist(),
        "singular": info.singular,
        "covariances": {
            label: write_array(staging / f"covariance-{k}.npy", np.asarray(cov, np.float64))
            for k, (label, cov) in enumerate(sorted(known.items()))
        },
    }


def _read_statistics(
    snapshot: ArtifactReader, n_features: int, entry: dict[str, Any] | None
) -> dict:
    """The ``statistics_`` and ``covariances_`` attributes stored with a model."""
    if entry is None:
        return {}
    size = n_features + 1
    covariances = {}
    for label, array in entry["covariances"].items():
        cov = snapshot.read_array(array)
        if cov.shape != (size, size):
            raise ModelFormatError(
                f"{snapshot.where(array['file'])}: shape {cov.shape}, expected {size}²"
            )
        covariances[label] = cov
    statistics = FitStatistics(
        llf=float(entry["llf"]),
        llnull=float(entry["llnull"]),
        nobs=int(entry["nobs"]),
        penalty=np.asarray(entry["penalty"], dtype=np.float64),
        singular=entry.get("singular"),
    )
    return {"covariances_": covariances, "statistics_": statistics}


def _level_entry(found: Levels) -> dict[str, Any]:
    """A categorical column's frozen levels as JSON."""
    return {
        "column": found.column,
        "values": list(found.values),
        "folded": list(found.folded),
        "reference": found.reference,
    }


def _read_levels(entry: dict[str, Any]) -> Levels:
    values = [str(v) for v in entry["values"]]
    reference = entry["reference"]
    if reference is not None and reference not in values:
        raise ValueError(f"reference level {reference!r} is not one of {entry['column']}'s")
    folded = tuple(str(v) for v in entry["folded"])
    return Levels(str(entry["column"]), tuple(values), folded, reference)


def _label_keys(weights: dict[str, Any], classes: np.ndarray) -> dict:
    """JSON's string keys back to the classes' own values where one matches by its text."""
    by_text = {str(label): label for label in classes.tolist()}
    return {by_text.get(key, key): value for key, value in weights.items()}


def _plain(value):
    """NumPy scalars (accepted as parameters) → Python numbers JSON can write; a path →
    its text; a fitted model given as a parameter (``prior_model``) → None: its
    coefficients served the fit, and a model file holds no other model."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):  # bounds: an open side is None (JSON has no inf)
        return [None if isinstance(v, float) and math.isinf(v) else _plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "coef_"):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _feature_names(model) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _versions() -> dict[str, str]:
    return {pkg: version(pkg) for pkg in ("dasklr", "numpy", "dask", "distributed", "pyarrow")}
