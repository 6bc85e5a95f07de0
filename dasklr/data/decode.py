"""Decode one chunk of Parquet rows into NumPy, lean: runs on a worker, one task a chunk.

A chunk is some consecutive row groups of one file, or a slice of rows of one row group
too large for a task (``ChunkSpec``). The feature matrix is allocated once, Fortran-ordered,
and filled a few columns at a time, so beside it a task holds only one piece of Arrow
data, about a sixteenth of the chunk (pyarrow holds ~4× a piece while decoding it): its
peak is ~1.3× the chunk's decoded bytes plus ~50 MiB of pyarrow's own, not the ~3× of a
whole Arrow table beside its NumPy copy (measured: tests/test_task_memory.py). Each
column is checked for NaN/inf as it lands, while it is in cache.
Errors name the file, the row groups (and rows) and the column.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dasklr.data.checks import check_weights
from dasklr.errors import DataError

#: Decoded bytes of one piece of Arrow data (a group of columns) held beside the chunk's
#: array while it is copied in: this share of the chunk. Measured on 128 MiB chunks of 64
#: columns: 1/4 peaks at 2.0× the chunk and decodes at 0.60× a whole-table read's speed,
#: 1/8 at 1.6× and 0.84×, 1/16 at 1.3× and 0.81×.
PIECE_SHARE = 1 / 16
#: ... but pieces need not be smaller than this: below it, pyarrow's per-call cost shows.
MIN_PIECE_BYTES = 4 * 2**20


@dataclass(frozen=True)
class ChunkSpec:
    """What one read task decodes: some consecutive row groups of one file, or (``start``
    > 0 or ``rows`` below its row group's) rows ``start`` to ``start + rows`` of one."""

    path: str
    row_groups: tuple[int, ...]
    rows: int
    start: int = 0
    sliced: bool = False
    #: the file's size and version (mtime or ETag) when its footer was read; a read that
    #: finds others fails (``check_unchanged``). -1 and "": not checked.
    file_size: int = -1
    file_version: str = ""

    @property
    def where(self) -> str:
        text = f"file {self.path}, row groups {list(self.row_groups)}"
        if self.sliced:
            text += f", rows {self.start}-{self.start + self.rows - 1} of the group"
        return text


def read_chunk(
    fs,
    spec: ChunkSpec,
    features: tuple[str, ...],
    label: str,
    classes: np.ndarray,
    weight: str | None,
    dtype: np.dtype | str = "float64",
    on_invalid: str = "error",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Decode one chunk into (X, y, w) and check its values.

    ``X`` is Fortran-ordered so each Parquet column is written straight into its place;
    ``y`` holds each label's index in ``classes``. With ``on_invalid="drop"``, rows with a
    null, NaN or ±inf feature, a null label, or a null, non-finite or negative weight are
    left out (a label outside the classes is still an error).
    """
    if on_invalid == "drop":
        return _read_dropping(fs, spec, features, label, classes, weight, dtype)
    X = np.empty((spec.rows, len(features)), dtype=dtype, order="F")
    fill_columns(fs, spec, features, X)
    others = [label, *([weight] if weight else [])]
    table = read_columns(fs, spec, others)
    y = class_indices(table.column(label), classes, label, spec.where)
    w = None
    if weight is not None:
        w = np.empty(spec.rows, dtype=np.float64)
        column_into(table.column(weight), w, weight, spec.where)
        check_weights(w, weight, spec.where)
    return X, y, w


def read_features(fs, spec: ChunkSpec, features: Sequence[str], other_columns=()):
    """One chunk's features as float64 (checked) and its other columns as Arrow arrays."""
    X = np.empty((spec.rows, len(features)), dtype=np.float64, order="F")
    fill_columns(fs, spec, tuple(features), X)
    if not other_columns:
        return X, {}
    table = read_columns(fs, spec, list(other_columns))
    return X, {name: table.column(name) for name in other_columns}


def fill_columns(fs, spec: ChunkSpec, features: tuple[str, ...], X: np.ndarray) -> None:
    """Decode the features of ``spec`` into ``X`` piece by piece, checking each column."""
    position = {name: j for j, name in enumerate(features)}
    for rows, table in _pieces(fs, spec, list(features), X.itemsize):
        for name in table.column_names:
            column_into(table.column(name), X[rows, position[name]], name, spec.where)
    for j, name in enumerate(features):
        _check_finite(X[:, j], name, spec.where)


def read_columns(fs, spec: ChunkSpec, columns: list[str]) -> pa.Table:
    """A few small columns (label, weight, keys) of ``spec`` as one Arrow table."""
    parts = [table for _, table in _pieces(fs, spec, columns, 8, whole=True)]
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _pieces(
    fs, spec: ChunkSpec, columns: list[str], itemsize: int, whole: bool = False
) -> Iterator[tuple[slice, pa.Table]]:
    """(rows of the chunk, Arrow table) pieces that together hold ``columns`` of ``spec``.

    They come a group of columns at a time, each group's decoded size about
    ``PIECE_SHARE`` of the chunk (``whole``: all columns at once, for a few small ones).
    Parquet cannot seek to a row inside a row group, so a row slice reads its columns
    from the whole group and keeps its rows: a slice of a group too large for a worker
    holds one column of the group at a time, and costs a decode of the whole group.
    """
    budget = max(MIN_PIECE_BYTES, int(PIECE_SHARE * spec.rows * len(columns) * itemsize))
    try:
        with pq.ParquetFile(spec.path, filesystem=fs, page_checksum_verification=True) as parquet:
            meta = parquet.metadata
            read_rows = sum(meta.row_group(g).num_rows for g in spec.row_groups)
            expected = read_rows if spec.sliced else spec.rows
            width = max(1, len(columns) if whole else budget // max(1, read_rows * itemsize))
            for first in range(0, max(1, len(columns)), width):
                group = columns[first : first + width]
                table = parquet.read_row_groups(list(spec.row_groups), columns=group)
                if table.num_rows != expected or spec.start + spec.rows > table.num_rows:
                    raise DataError(
                        f"{spec.where}: footer says {expected} rows but {table.num_rows} "
                        "were read; was the file changed while training?"
                    )
                if spec.sliced:
                    table = table.slice(spec.start, spec.rows)
                yield slice(0, spec.rows), table
                del table
        check_unchanged(fs, spec)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {spec.where}: {exc}") from None


def file_version(details: dict) -> str:
    """What tells one version of a file from the next: its ETag on object stores, else its
    modification time (from ``fs.info``)."""
    version = details.get("ETag") or details.get("mtime") or details.get("LastModified")
    return str(version or "")


def check_unchanged(fs, spec: ChunkSpec) -> None:
    """Refuse rows of a file that changed after its footer was read (checked after the
    read, so a file rewritten during it is caught too)."""
    if spec.file_size < 0:
        return
    details = fs.info(spec.path)
    size, version = int(details["size"]), file_version(details)
    if size != spec.file_size or version != spec.file_version:
        raise DataError(
            f"{spec.path} changed while training (size {spec.file_size} → {size} bytes, "
            f"version {spec.file_version} → {version}); its rows would mix two versions: "
            "start the fit again on the data as it is now"
        )


def _check_finite(values: np.ndarray, name: str, where: str) -> None:
    """Refuse NaN and ±inf in one column. A finite sum proves every value finite (NaN and
    inf propagate), so the elementwise test runs only when the sum is not (or overflows)."""
    if np.isfinite(values.sum()):
        return
    bad = values[~np.isfinite(values)]
    if bad.size:
        raise DataError(f"feature column '{name}' holds {bad[0]} in {where}")


def _read_dropping(fs, spec, features, label, classes, weight, dtype):
    """``on_invalid="drop"``: read the chunk as a table, keep the valid rows, then check."""
    table = read_columns(fs, spec, [*features, label, *([weight] if weight else [])])
    table = table.filter(_valid_rows(table, features, label, weight))
    X = np.empty((table.num_rows, len(features)), dtype=dtype, order="F")
    for j, name in enumerate(features):
        column_into(table.column(name), X[:, j], name, spec.where)
    y = class_indices(table.column(label), classes, label, spec.where)
    w = None
    if weight is not None:
        w = np.empty(table.num_rows, dtype=np.float64)
        column_into(table.column(weight), w, weight, spec.where)
    return X, y, w


def _valid_rows(table: pa.Table, features, label: str, weight: str | None) -> pa.ChunkedArray:
    """True for the rows ``on_invalid="drop"`` keeps."""
    keep = pc.is_valid(table.column(label))
    for name in [*features, *([weight] if weight else [])]:
        column = table.column(name)
        ok = pc.is_valid(column)
        if pa.types.is_floating(column.type):
            ok = pc.and_(ok, pc.fill_null(pc.is_finite(column), False))
        if name == weight:
            ok = pc.and_(ok, pc.fill_null(pc.greater_equal(column, 0), False))
        keep = pc.and_(keep, ok)
    return keep


def plain_labels(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Dictionary-encoded labels decoded; strings as plain (not large) strings."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string()) if kind == "string" else column


def label_values(array, kind: str) -> np.ndarray:
    values = array.to_numpy(zero_copy_only=False)
    return values.astype(str) if kind == "string" else values


def class_indices(column: pa.ChunkedArray, classes: np.ndarray, name: str, where: str):
    """Each label's index in the sorted ``classes``, as float64; unknown labels are an error."""
    if column.null_count:
        raise DataError(f"column '{name}' has {column.null_count} null values in {where}")
    kind = "string" if classes.dtype.kind in "US" else "number"
    labels = label_values(plain_labels(column, kind), kind)
    index = np.minimum(np.searchsorted(classes, labels), classes.size - 1)
    unknown = classes[index] != labels
    if unknown.any():
        raise DataError(
            f"label column '{name}' holds {labels[unknown].tolist()[0]!r}, which is not one of the "
            f"classes {classes.tolist()}, in {where}"
        )
    return index.astype(np.float64)


def column_into(column: pa.ChunkedArray, out: np.ndarray, name: str, where: str) -> None:
    """Copy an Arrow column into ``out`` piece by piece: one copy, no temporary."""
    if column.null_count:
        raise DataError(f"column '{name}' has {column.null_count} null values in {where}")
    start = 0
    for piece in column.chunks:
        stop = start + len(piece)
        out[start:stop] = piece.to_numpy(zero_copy_only=False)
        start = stop


def read_codes(fs, spec: ChunkSpec, column: str) -> np.ndarray:
    """One chunk's ``column`` as group codes; errors name the file and row groups."""
    from dasklr.data.groups import group_codes

    try:
        schema = pq.read_schema(spec.path, filesystem=fs)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {spec.where}: {exc}") from None
    if schema.get_field_index(column) < 0:
        raise DataError(
            f"{spec.path}: column '{column}' is missing (file has: {', '.join(schema.names)})"
        )
    values = read_columns(fs, spec, [column]).column(column)
    if values.null_count:
        raise DataError(f"column '{column}' holds {values.null_count} nulls in {spec.where}")
    try:
        return group_codes(values.to_numpy(zero_copy_only=False))
    except ValueError as exc:
        raise DataError(f"column '{column}' in {spec.where}: {exc}") from None
