"""A fitted model applied to data of any size: metrics in one pass, predictions to Parquet.

Both run on the cluster chunk by chunk; the driver only ever holds sums (metrics) or row
counts (predictions). Predictions go to a folder of Parquet part files, one per chunk, with
page checksums, and ``_manifest.json`` (the parts, their rows, its own checksum: the
completion marker readers can check; Parquet readers skip names that start with ``_``).
The folder is written under a temporary name beside the output and published in one
atomic rename (``dasklr.artifacts``): the output path holds the complete old or the
complete new predictions at every instant. Workers write a part only while the driver
that started them holds the temporary folder, so they stop when it is gone. At an fsspec
URL the parts go to a temporary prefix beside the output, are moved there when all are
written, and ``_manifest.json`` is written last (``dasklr.remote``).
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client

from dasklr.artifacts import (
    atomic_directory,
    metadata_checksum,
    output_problem,
    write_checked_json,
    writer_alive,
)
from dasklr.data.decode import ChunkSpec, read_features, with_terms
from dasklr.data.formula import parse_formula
from dasklr.data.levels import ON_UNSEEN, Levels
from dasklr.data.parquet import DEFAULT_CHUNK_BYTES, ParquetData, plan_chunks, plan_dataset
from dasklr.errors import ConfigError, DataError
from dasklr.estimators.inputs import coded_like, input_columns, layout_of
from dasklr.kernels.metrics import metric_sums
from dasklr.kernels.prediction import (
    margin_std,
    predict_classes,
    probabilities,
    probability_interval,
    take,
)
from dasklr.passes.cluster import connect
from dasklr.passes.progress import PassProgress
from dasklr.passes.runner import PassOptions, passes_over, passes_over_chunks
from dasklr.passes.sizing import chunk_budget, sized_for_cluster, worker_memory
from dasklr.remote import (
    RemoteFolder,
    exists,
    location,
    remote_problem,
    remove,
    replace_folder,
    temporary_twin,
)
from dasklr.stats.metrics import EXACT_AUC_ROWS, summarise


def evaluate_model(
    model,
    data: ParquetData,
    *,
    client: Client | str | None = None,
    threshold: float = 0.5,
    exact_rows: int = EXACT_AUC_ROWS,
    progress: PassProgress | None = None,
) -> dict:
    """Log-loss, accuracy, Brier score, AUC, precision/recall/F1 and calibration of
    ``model`` on ``data`` (from ``read_parquet``), in one pass (see ``dasklr.stats.metrics``)."""
    remap = class_index_map(data.classes, model.classes_, data.label)
    data = coded_like(model, data)
    layout = layout_of(data.levels, model.coef_.shape[1])
    keep_rows = sum(f.rows for f in data.files) <= exact_rows  # footers: an upper bound
    shared = (model.coef_, model.intercept_, float(threshold), keep_rows)
    with connect(client) as active:
        data = sized_for_cluster(data, active, "none")  # tasks the workers can hold
        y = data.y.map_blocks(take, remap, dtype=np.float64)
        arrays = (data.X, y, data.sample_weight)
        options = PassOptions(**_pass_options(model), progress=progress, check_chunks=False)
        with passes_over(active, arrays, options, layout=layout) as (run_pass, _):
            sums = run_pass(metric_sums, *shared)
    return summarise(sums, list(model.classes_), threshold)


def _pass_options(model) -> dict:
    """The model's retries and worker timeout (its defaults for a loaded model)."""
    return {
        name: getattr(model, name)
        for name in ("split_every", "retries", "worker_timeout")
        if hasattr(model, name)
    }


def class_index_map(data_classes, model_classes, label: str) -> np.ndarray:
    """For each class of the data, its index among the model's classes."""
    unknown = [c for c in np.asarray(data_classes).tolist() if c not in model_classes.tolist()]
    if unknown:
        raise DataError(
            f"label column '{label}' holds {unknown}, which the model has never seen "
            f"(its classes: {model_classes.tolist()})"
        )
    return np.searchsorted(model_classes, data_classes).astype(np.float64)


def predict_to_parquet(
    model,
    path,
    output: str | os.PathLike,
    *,
    keep: Sequence[str] = (),
    client: Client | str | None = None,
    overwrite: bool = False,
    storage_options: dict | None = None,
    part_rows: int | None = None,
    on_invalid: str = "error",
    progress: PassProgress | None = None,
    std_level: float | None = None,
    on_unseen: str = "error",
) -> tuple[int, int]:
    """Score every row of the Parquet data at ``path``; write ``output``/part-NNNNN.parquet.

    Each part holds the ``keep`` columns as read, one ``proba_<class>`` column per class
    and ``prediction``; one part a chunk of the input, of at most ``part_rows`` rows when
    given (else sized to the workers' memory). A row with a null, NaN or ±inf feature is
    an error naming it (``on_invalid="error"``), left out ("drop") or written with null
    probabilities and prediction ("null"). With ``std_level`` (binary models with
    standard errors), each row also gets ``logit_se``, the standard error of its
    log-odds, and ``proba_<class 1>_low`` / ``_high``, its probability's confidence
    bounds at that level (``LogisticRegression.predict_interval``). The categorical
    columns of a model that has them are coded with its levels; a value it has not seen
    is an error naming it, or its "other" level with ``on_unseen="other"``. Returns (rows
    written, rows with invalid features).
    """
    if on_invalid not in INVALID_ROWS:
        raise ConfigError(f"on_invalid must be one of {list(INVALID_ROWS)}, got {on_invalid!r}")
    if part_rows is not None and not (isinstance(part_rows, int) and part_rows > 0):
        raise ConfigError(f"part_rows must be a whole number > 0, got {part_rows!r}")
    target = location(output, storage_options)
    if exists(target, None if isinstance(target, Path) else MANIFEST) and not overwrite:
        raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
    if isinstance(target, Path):
        target = target.absolute()  # the workers write there, from their folders
        inputs = [str(p) for p in ([path] if isinstance(path, (str, os.PathLike)) else path)]
        problem = output_problem(target, inputs)
    else:
        problem = remote_problem(target)
    if problem:
        raise ConfigError(f"output {output} cannot be written: {problem}")
    uncertainty = _uncertainty(model, std_level)
    if on_unseen not in ON_UNSEEN:
        raise ConfigError(f"on_unseen must be one of {list(ON_UNSEEN)}, got {on_unseen!r}")
    features, levels = input_columns(model)
    categorical = [found.column for found in levels]
    row_bytes = 8 * (len(features) + len(levels)) + 16
    asked = DEFAULT_CHUNK_BYTES if part_rows is None else part_rows * row_bytes
    fs, chunks, infos = plan_dataset(
        path,
        features,
        [*keep, *(c for c in categorical if c not in keep)],
        chunk_bytes=asked,
        storage_options=storage_options,
    )
    shared = (
        fs,
        features,
        tuple(keep),
        model.coef_,
        model.intercept_,
        model.classes_,
        on_invalid,
        uncertainty,
        (levels, on_unseen, _model_terms(model)),
    )
    options = PassOptions(**_pass_options(model), progress=progress, check_chunks=False)

    def score(folder: str, out_fs) -> tuple[int, int]:
        """Every chunk scored into ``folder``: (rows written, rows with invalid features)."""
        nonlocal chunks
        with connect(client) as active:
            budget = chunk_budget(worker_memory(active), "none", 0)
            if budget < asked:  # small workers: smaller tasks
                chunks = plan_chunks(infos, bytes_per_row=row_bytes, chunk_bytes=budget)
            with passes_over_chunks(active, chunks, options) as run_pass:
                none = np.zeros(2, dtype=np.int64)
                counts = run_pass(score_part, *shared, folder, out_fs) if chunks else none
        return int(counts[0]), int(counts[1])

    try:
        if isinstance(target, Path):
            with atomic_directory(target, overwrite=overwrite) as staging:
                rows, invalid = score(str(staging), None)
                write_manifest(staging, len(chunks), rows)
        else:
            rows, invalid = _score_to_url(target, score, lambda: len(chunks), overwrite)
    except FileExistsError:
        if overwrite:
            raise
        raise FileExistsError(
            f"{output} was written by another run while this one worked; nothing replaced"
        ) from None
    return rows, invalid


def _model_terms(model) -> tuple | None:
    """The numeric terms of a model's formula (None without one)."""
    formula = getattr(model, "formula_", None)
    return None if formula is None else parse_formula(formula).terms


def _uncertainty(model, std_level: float | None) -> tuple[np.ndarray, float] | None:
    """(covariance, normal quantile) for the prediction intervals at ``std_level``;
    refused before any work when the model has no standard errors."""
    if std_level is None:
        return None
    if not 0 < std_level < 1:
        raise ConfigError(f"the confidence level must be in (0, 1), got {std_level!r}")
    try:
        cov = model.prediction_covariance("nonrobust")
    except ValueError as exc:
        raise ConfigError(f"standard errors of predictions: {exc}") from None
    return cov, NormalDist().inv_cdf(0.5 + std_level / 2)


def _score_to_url(target: RemoteFolder, score, parts, overwrite: bool) -> tuple[int, int]:
    """Parts written by the workers under a temporary prefix beside ``target``, checked,
    moved to ``target``, and ``_manifest.json`` written last (see ``dasklr.remote``)."""
    staging = temporary_twin(target)
    try:
        rows, invalid = score(staging.path, staging.fs)
        files = sorted(staging.fs.find(staging.path)) if staging.fs.exists(staging.path) else []
        entries = []
        for file in files:
            with staging.fs.open(file, "rb") as f:
                entries.append((file.rsplit("/", 1)[-1], pq.ParquetFile(f).metadata.num_rows))
        manifest = manifest_of(staging.url, entries, parts(), rows)
        if not overwrite and exists(target, MANIFEST):
            raise FileExistsError(target.url)
        data = json.dumps({**manifest, "checksum": metadata_checksum(manifest)}, indent=2)
        replace_folder(staging, target, MANIFEST, data.encode())
    finally:
        remove(staging)
    return rows, invalid


#: What ``predict_to_parquet`` does with a row whose features are not all finite numbers.
INVALID_ROWS = ("error", "drop", "null")

MANIFEST = "_manifest.json"


def write_manifest(folder: Path, parts: int, rows: int) -> None:
    """The completion marker: every part with its rows, checked against the pass's count
    (a part missing or short means the pass did not finish, and nothing is published)."""
    for stale in folder.glob("*.tmp"):  # what a killed attempt of a retried task left
        stale.unlink()
    files = sorted(folder.glob("part-*.parquet"))
    entries = [(f.name, pq.ParquetFile(f).metadata.num_rows) for f in files]
    write_checked_json(folder / MANIFEST, manifest_of(str(folder), entries, parts, rows))


def manifest_of(where: str, entries: list[tuple[str, int]], parts: int, rows: int) -> dict:
    """The manifest of the part files ``entries`` (name, rows), refused unless they are
    the ``parts`` parts of ``rows`` rows that the pass wrote."""
    if len(entries) != parts or sum(n for _, n in entries) != rows:
        raise RuntimeError(
            f"{where}: {len(entries)} parts of {sum(n for _, n in entries)} rows, "
            f"expected {parts} of {rows}"
        )
    listed = [{"file": name, "rows": n} for name, n in entries]
    return {"format": "dasklr-predictions", "rows": rows, "parts": listed}


def score_part(
    spec: ChunkSpec,
    _y: None,
    _w: None,
    index: int,
    fs,
    features: Sequence[str],
    keep: Sequence[str],
    coef: np.ndarray,
    intercept: np.ndarray,
    classes: np.ndarray,
    on_invalid: str,
    uncertainty: tuple | None,
    coding: tuple[tuple[Levels, ...], str, tuple | None],
    folder: str,
    out_fs=None,
) -> np.ndarray:
    """Read, score and write one chunk as ``folder``/part-NNNNN.parquet; runs on a worker
    as the kernel of a pass (``passes_over_chunks``) and returns [rows written, rows with
    invalid features], which the pass adds up. The part file appears complete or not at
    all (written under a temporary name, then renamed), so a retried task rewrites it
    whole. With ``out_fs`` (an fsspec filesystem) the part is one object, written whole on
    close; the driver's liveness is not known there. ``coding`` = (levels, on_unseen,
    terms) codes the categorical columns and derives a formula's terms."""
    target = f"{folder}/part-{index:05d}.parquet"
    if out_fs is None and not writer_alive(folder):
        raise RuntimeError(f"{folder}: the run that asked for these predictions is gone")
    levels, on_unseen, terms = coding
    categorical = [found.column for found in levels if found.column not in keep]
    X, kept = read_features(fs, spec, features, [*keep, *categorical], check=on_invalid == "error")
    if terms is not None:  # a formula's products of columns
        X = with_terms(X, features, terms)
    valid = np.isfinite(X).all(axis=1)
    if levels:  # the level codes after the numeric features (``kernels.design``)
        codes = [found.codes(kept[found.column], spec.where, on_unseen) for found in levels]
        X = np.column_stack([X, *codes])
        kept = {name: kept[name] for name in keep}
    layout = layout_of(levels, coef.shape[1])
    invalid = int(X.shape[0] - valid.sum())
    if on_invalid == "drop" and invalid:
        X = X[valid]
        kept = {name: column.filter(pa.array(valid)) for name, column in kept.items()}
    mask = None if on_invalid != "null" or not invalid else ~valid
    if mask is not None:
        X = np.where(valid[:, None], X, 0.0)  # scored, then written as nulls
    proba = probabilities(X, coef, intercept, layout)
    columns = dict(kept)
    for k, label in enumerate(classes.tolist()):
        columns[f"proba_{label}"] = pa.array(proba[:, k], mask=mask)
    predicted = predict_classes(X, coef, intercept, classes, layout)
    columns["prediction"] = pa.array(predicted, mask=mask)
    if uncertainty is not None:
        cov, quantile = uncertainty
        bounds = probability_interval(X, coef, intercept, cov, quantile, layout)
        positive = classes.tolist()[1]
        columns["logit_se"] = pa.array(margin_std(X, cov, layout), mask=mask)
        columns[f"proba_{positive}_low"] = pa.array(bounds[:, 0], mask=mask)
        columns[f"proba_{positive}_high"] = pa.array(bounds[:, 1], mask=mask)
    if out_fs is not None:
        with out_fs.open(target, "wb") as f:
            pq.write_table(pa.table(columns), f, write_page_checksum=True)
        return np.array([X.shape[0], invalid], dtype=np.int64)
    staging = f"{target}.tmp"
    pq.write_table(pa.table(columns), staging, write_page_checksum=True)
    os.replace(staging, target)
    return np.array([X.shape[0], invalid], dtype=np.int64)
