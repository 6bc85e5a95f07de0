"""Model artifacts: a directory of JSON metadata plus ``.npy`` arrays, never a pickle.

    model/
      metadata.json   format and version, dasklr's and its dependencies' versions,
                      parameters, features, classes, convergence, history, the
                      training data's manifest (files, sizes, versions, rows),
                      metrics, and the sha256 of every array file
      coef.npy        (B, d) float64: B = 1 for two classes, K for K > 2
      intercept.npy   (B,) float64

The directory is written under a temporary name beside the target, every file fsynced,
then renamed into place, so a reader never sees a half-written model (replacing an old
one takes two renames; between them the path is briefly empty). Loading checks the
format version, the metadata's own checksum and every array's hash, and reads the
arrays with ``allow_pickle=False``:
loading a model cannot execute code.
"""

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from dasklr.errors import ModelFormatError

FORMAT = "dasklr-model"
FORMAT_VERSION = 1
ARRAYS = ("coef", "intercept")
#: What the coefficients minimise, for whoever reads the metadata without dasklr.
OBJECTIVE = (
    "(1/Σw)·Σ w·[log(1+e^z) − y·z] (binary; K > 2 classes: logsumexp(z) − z_y) + "
    "alpha·(l1_ratio·‖coef‖₁ + (1−l1_ratio)/2·‖coef‖²), z = X·coefᵀ + intercept, "
    "intercept not penalised; with standardize the penalty is on standardised features"
)
#: Parameters that describe where and how loudly a fit ran, not the model: not saved.
_RUNTIME_PARAMS = ("client", "verbose", "cache_dir", "retries", "worker_timeout")


def save_model(model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a fitted ``LogisticRegression`` to the directory ``path`` atomically."""
    if not hasattr(model, "coef_"):
        raise ValueError("cannot save a model that is not fitted")
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    with atomic_directory(target) as staging:
        arrays = {}
        for name in ARRAYS:
            value = np.ascontiguousarray(getattr(model, f"{name}_"), dtype=np.float64)
            arrays[name] = _write_array(staging / f"{name}.npy", value)
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
            "classes": model.classes_.tolist(),
            "converged": bool(model.converged_),
            "n_iter": int(model.n_iter_),
            "n_passes": int(model.n_passes_),
            "history": model.history_,
            "training_data": getattr(model, "training_data_", None),
            "metrics": getattr(model, "metrics_", None),
            "selection": getattr(model, "selection_", None),
            "inference": _write_inference(model, staging),
            "summary": _summary_entry(getattr(model, "summary_", None)),
            "arrays": arrays,
        }
        write_checked_json(staging / "metadata.json", metadata)
    return target


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A staging directory beside ``target``; when the block succeeds it is fsynced and
    renamed into place, when it fails it is removed: ``target`` is never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        _fsync_dir(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_checked_json(path: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata`` with its own checksum added (see ``metadata_checksum``)."""
    metadata["checksum"] = metadata_checksum(metadata)
    _write_bytes(path, json.dumps(metadata, indent=2).encode())


def recover_interrupted_swap(target: Path) -> None:
    """Put back the previous directory if a writer died between the two renames of
    ``_swap_into_place`` (the old one moved aside, the new one not yet in place)."""
    if target.exists():
        return
    retired = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if retired:
        os.rename(retired[-1], target)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The checked ``metadata.json`` of a model directory (format and version)."""
    root = Path(path)
    recover_interrupted_swap(root)
    meta_path = root / "metadata.json"
    try:
        metadata = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ModelFormatError(f"{meta_path}: no such file; is {root} a dasklr model?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{meta_path}: not valid JSON ({exc})") from None
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


def metadata_checksum(metadata: dict[str, Any]) -> str:
    """sha256 of the metadata's canonical JSON without its own checksum field."""
    body = {key: value for key, value in metadata.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _params_of(model) -> dict[str, Any]:
    """The parameters a ``LogisticRegression`` is rebuilt with (a CV model's: the chosen)."""
    hook = getattr(model, "artifact_params", None)
    return hook() if hook is not None else model.get_params()


def load_model(path: str | os.PathLike):
    """Read a model written by ``save_model``; refuses unknown formats and altered files."""
    from dasklr.estimator import LogisticRegression

    root = Path(path)
    meta_path = root / "metadata.json"
    metadata = read_metadata(root)
    try:
        params = dict(metadata["params"])
        model = LogisticRegression(**params)
        for name in ARRAYS:
            setattr(model, f"{name}_", _read_array(root, metadata["arrays"][name]))
        model.classes_ = np.asarray(metadata["classes"])
        if isinstance(params.get("class_weight"), dict):  # JSON keys are strings
            model.class_weight = _label_keys(params["class_weight"], model.classes_)
        model.n_features_in_ = int(metadata["n_features_in"])
        if metadata["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(metadata["feature_names_in"], dtype=object)
        model.converged_ = bool(metadata["converged"])
        model.n_iter_ = int(metadata["n_iter"])
        model.n_passes_ = int(metadata["n_passes"])
        model.history_ = metadata["history"]
        model.training_data_ = metadata.get("training_data")
        if metadata.get("metrics") is not None:
            model.metrics_ = metadata["metrics"]
        if metadata.get("selection") is not None:
            model.selection_ = metadata["selection"]
        _read_inference(model, root, metadata.get("inference"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{meta_path}: missing or malformed field ({exc!r})") from None
    rows = 1 if model.classes_.size == 2 else model.classes_.size
    if model.classes_.size < 2 or model.coef_.shape != (rows, model.n_features_in_):
        raise ModelFormatError(
            f"{root / 'coef.npy'}: shape {model.coef_.shape}, expected ({rows}, "
            f"{model.n_features_in_}) for {model.classes_.size} classes"
        )
    if model.intercept_.shape != (rows,):
        raise ModelFormatError(
            f"{root / 'intercept.npy'}: shape {model.intercept_.shape}, expected ({rows},)"
        )
    return model


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


def _write_inference(model, staging: Path) -> dict[str, Any] | None:
    """What ``summary()`` needs after loading: log-likelihoods, the penalty's curvature
    and every covariance computed so far (as checksummed ``.npy`` files)."""
    info = getattr(model, "_inference", None)
    if info is None:
        return None
    known = getattr(model, "covariances_", {})
    return {
        "llf": info["llf"],
        "llnull": info["llnull"],
        "nobs": int(info["nobs"]),
        "penalty": np.asarray(info["penalty"], dtype=np.float64).tolist(),
        "singular": info.get("singular"),
        "covariances": {
            label: _write_array(staging / f"covariance-{k}.npy", np.asarray(cov, np.float64))
            for k, (label, cov) in enumerate(sorted(known.items()))
        },
    }


def _read_inference(model, root: Path, entry: dict[str, Any] | None) -> None:
    if entry is None:
        return
    size = model.n_features_in_ + 1
    covariances = {}
    for label, array in entry["covariances"].items():
        cov = _read_array(root, array)
        if cov.shape != (size, size):
            raise ModelFormatError(f"{root / array['file']}: shape {cov.shape}, expected {size}²")
        covariances[label] = cov
    model.covariances_ = covariances
    model._inference = {
        "llf": float(entry["llf"]),
        "llnull": float(entry["llnull"]),
        "nobs": int(entry["nobs"]),
        "penalty": np.asarray(entry["penalty"], dtype=np.float64),
        "singular": entry.get("singular"),
    }


def _label_keys(weights: dict[str, Any], classes: np.ndarray) -> dict:
    """JSON's string keys back to the classes' own values where one matches by its text."""
    by_text = {str(label): label for label in classes.tolist()}
    return {by_text.get(key, key): value for key, value in weights.items()}


def _write_array(path: Path, value: np.ndarray) -> dict[str, Any]:
    with open(path, "wb") as f:
        np.save(f, value, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return {
        "file": path.name,
        "sha256": _sha256(path),
        "shape": list(value.shape),
        "dtype": str(value.dtype),
    }


def _read_array(root: Path, entry: dict[str, Any]) -> np.ndarray:
    path = root / entry["file"]
    if path.parent != root:
        raise ModelFormatError(f"{root / 'metadata.json'}: array file {entry['file']!r} is outside")
    if not path.is_file():
        raise ModelFormatError(f"{path}: missing")
    if _sha256(path) != entry["sha256"]:
        raise ModelFormatError(f"{path}: sha256 differs from metadata.json; the file was altered")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ModelFormatError(f"{path}: not a plain .npy array ({exc})") from None


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished directory into place; an old model is moved aside first.

    Between the two renames a reader finds no model (never a half-written one); if the
    second rename fails, the old model is put back, and if the process dies there, the
    next reader puts it back (``recover_interrupted_swap``).
    """
    retired = None
    if target.exists():
        retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        if retired is not None:
            os.rename(retired, target)
        raise
    _fsync_dir(target.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _plain(value):
    """NumPy scalars (accepted as parameters) → Python numbers JSON can write."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def _feature_names(model) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _versions() -> dict[str, str]:
    return {pkg: version(pkg) for pkg in ("dasklr", "numpy", "dask", "distributed", "pyarrow")}
