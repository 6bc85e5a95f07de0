"""Decode one chunk of Parquet rows into NumPy, lean: runs on a worker, one task a chunk.

A chunk (``ChunkSpec``) is some consecutive row groups of one file, a slice of rows of
one row group too large for a task, or several small files read one after another
(``FilePart`` each). The feature matrix is allocated once, Fortran-ordered, and filled a
few columns at a time, so beside it a task holds only one piece of Arrow data, about a
sixteenth of the chunk (pyarrow holds ~4× a piece while decoding it): its peak is ~1.3×
the chunk's decoded bytes plus ~50 MiB of pyarrow's own, not the ~3× of a whole Arrow
table beside its NumPy copy (measured: tests/test_task_memory.py). Each column is checked
for NaN/inf as it lands, while it is in cache. Errors name the file, the row groups (and
rows) and the column.
"""

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dasklr.data.checks import check_weights
from dasklr.data.groups import group_codes
from dasklr.data.levels import Levels
from dasklr.errors import DataError

#: Decoded bytes of one piece of Arrow data (a group of columns) held beside the chunk's
#: array while it is copied in: this share of the chunk. Measured on 128 MiB chunks of 64
#: columns: 1/4 peaks at 2.0× the chunk and decodes at 0.60× a whole-table read's speed,
#: 1/8 at 1.6× and 0.84×, 1/16 at 1.3× and 0.81×.
PIECE_SHARE = 1 / 16
#: ... but pieces need not be smaller than this: below it, pyarrow's per-call cost shows.
MIN_PIECE_BYTES = 4 * 2**20


@dataclass(frozen=True)
class FilePart:
    """Rows of one file: some consecutive row groups, or (``sliced``) rows ``start`` to
    ``start + rows`` of one row group."""

    path: str
    row_groups: tuple[int, ...]
    rows: int
    start: int = 0
    sliced: bool = False
    #: the file's size and version (mtime or ETag) when its footer was read; a read that
    #: finds others fails (``check_unchanged``). -1 and "": not checked.
    file_size: int = -1
    file_version: str = ""
    #: (column, value) of its hive partition folders: columns the file does not hold
    constants: tuple[tuple[str, Any], ...] = ()

    @cached_property  # named in every column's checks: made once
    def where(self) -> str:
        text = f"file {self.path}, row groups {list(self.row_groups)}"
        if self.sliced:
            text += f", rows {self.start}-{self.start + self.rows - 1} of the group"
        return text


@dataclass(frozen=True)
class ChunkSpec:
    """What one read task decodes: its file parts, one after another."""

    parts: tuple[FilePart, ...]

    @classmethod
    def of(cls, path: str, row_groups: tuple[int, ...], rows: int, **part) -> "ChunkSpec":
        """A chunk of one file (see ``FilePart`` for the other fields)."""
        return cls((FilePart(path, row_groups, rows, **part),))

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    @property
    def sliced(self) -> bool:
        return any(part.sliced for part in self.parts)

    @property
    def where(self) -> str:
        if len(self.parts) == 1:
            return self.parts[0].where
        first, last = self.parts[0].path, self.parts[-1].path
        return f"{len(self.parts)} files from {first} to {last}"

    def __dask_tokenize__(self) -> str:
        """A digest of the parts, made once: Dask tokenizes every task's arguments on
        every pass, and a chunk of 500 small files is 500 dataclasses to walk."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        return hashlib.blake2b(repr(self.parts).encode(), digest_size=16).hexdigest()

    def placed(self) -> Iterator[tuple[slice, FilePart]]:
        """Each part with the rows of the chunk it fills."""
        start = 0
        for part in self.parts:
            yield slice(start, start + part.rows), part
            start += part.rows


def read_chunk(
    fs,
    spec: ChunkSpec,
    features: tuple[str, ...],
    label: str,
    classes: np.ndarray,
    weight: str | None,
    dtype: np.dtype | str = "float64",
    on_invalid: str = "error",
    levels: tuple[Levels, ...] = (),
    on_unseen: str = "error",
    terms: tuple[tuple[str, ...], ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Decode one chunk into (X, y, w) and check its values.

    ``X`` is Fortran-ordered so each Parquet column is written straight into its place;
    ``y`` holds each label's index in ``classes``. With ``on_invalid="drop"``, rows with a
    null, NaN or ±inf feature, a null label or category, or a null, non-finite or
    negative weight are left out (a label outside the classes is still an error).

    Categorical columns (``levels``) follow the numeric features in X as level codes
    (``Levels.codes``), read from the Parquet dictionary pages without a string per
    row. ``terms`` (a formula's): X's numeric columns are these products of the
    ``features`` read.
    """
    categorical = [lv.column for lv in levels]
    others = [label, *([weight] if weight else []), *categorical]
    if on_invalid == "drop" or len(spec.parts) > 1:
        tables = [
            read_columns(fs, part, [*features, *others], categorical) for _, part in spec.placed()
        ]
        if on_invalid == "drop":
            valid = [*features, *categorical]
            tables = [t.filter(_valid_rows(t, valid, label, weight)) for t in tables]
        X, y, w = _decoded_tables(tables, spec, features, label, classes, weight, dtype)
        if levels:
            X = _with_codes(X, tables, spec, levels, on_unseen)
    else:
        [part] = spec.parts  # rows of one file: its features a group of columns at a time
        X = np.empty((spec.rows, len(features) + len(levels)), dtype=dtype, order="F")
        table = read_part(
            fs, part, features, X[:, : len(features)], others, dictionaries=categorical
        )
        for c, found in enumerate(levels):
            column = table.column(found.column)
            X[:, len(features) + c] = found.codes(column, part.where, on_unseen)
        y = class_indices(table.column(label), classes, label, part.where)
        w = None
        if weight is not None:
            w = np.empty(spec.rows, dtype=np.float64)
            column_into(table.column(weight), w, weight, part.where)
            check_weights(w, weight, part.where)
    if terms is not None:
        X = with_terms(X, features, terms, len(levels))
    return X, y, w


def with_terms(X: np.ndarray, features, terms, n_codes: int = 0) -> np.ndarray:
    """X's columns ``features`` (then ``n_codes`` level codes) → one column per term, the
    product of its features (``x1:x2``), then the codes."""
    position = {name: j for j, name in enumerate(features)}
    out = np.empty((X.shape[0], len(terms) + n_codes), dtype=X.dtype, order="F")
    for k, term in enumerate(terms):
        out[:, k] = X[:, position[term[0]]]
        for name in term[1:]:
            out[:, k] *= X[:, position[name]]
    if n_codes:
        out[:, len(terms) :] = X[:, len(features) :]
    return out


def _with_codes(X: np.ndarray, tables: list[pa.Table], spec: ChunkSpec, levels, on_unseen):
    """X with the level codes of the categorical columns of ``tables`` (the chunk's parts,
    in order) appended."""
    out = np.empty((X.shape[0], X.shape[1] + len(levels)), dtype=X.dtype, order="F")
    out[:, : X.shape[1]] = X
    for c, found in enumerate(levels):
        codes = [
            found.codes(table.column(found.column), part.where, on_unseen)
            for table, part in zip(tables, spec.parts, strict=True)
        ]
        out[:, X.shape[1] + c] = np.concatenate(codes) if codes else []
    return out


def read_features(
    fs, spec: ChunkSpec, features: Sequence[str], other_columns=(), check: bool = True
):
    """One chunk's features as float64 and its other columns as Arrow arrays; a null,
    NaN or ±inf feature is an error with ``check``, else a NaN in X."""
    X = np.empty((spec.rows, len(features)), dtype=np.float64, order="F")
    tables = []
    for rows, part in spec.placed():
        tables.append(read_part(fs, part, tuple(features), X[rows], other_columns, check))
    if not other_columns:
        return X, {}
    table = _concatenated(tables, spec)
    return X, {name: table.column(name) for name in other_columns}


def _decoded_tables(
    tables: list[pa.Table], spec: ChunkSpec, features, label, classes, weight, dtype
):
    """(X, y, w) of the tables of a chunk's parts (small files, or ``on_invalid="drop"``).

    Decoded as one table when they line up: each column converted and checked once for
    the chunk rather than once a file. When that fails (a bad value, or columns whose
    types differ between files), each table is decoded on its own, so that an error
    names its file.
    """
    if len(tables) > 1:
        with suppress(DataError, pa.ArrowException):
            table = pa.concat_tables(tables, promote_options="permissive")
            return _decoded(table, features, label, classes, weight, dtype, spec.where)
    decoded = [
        _decoded(t, features, label, classes, weight, dtype, part.where)
        for t, part in zip(tables, spec.parts, strict=True)
    ]
    if len(decoded) == 1:
        return decoded[0]
    X = np.asfortranarray(np.concatenate([d[0] for d in decoded]))
    y = np.concatenate([d[1] for d in decoded])
    w = None if decoded[0][2] is None else np.concatenate([d[2] for d in decoded])
    return X, y, w


def _decoded(table: pa.Table, features, label, classes, weight, dtype, where: str):
    """(X, y, w) of a table of rows from ``where``, checked."""
    X = np.empty((table.num_rows, len(features)), dtype=dtype, order="F")
    for j, name in enumerate(features):
        column_into(table.column(name), X[:, j], name, where)
        _check_finite(X[:, j], name, where)
    y = class_indices(table.column(label), classes, label, where)
    w = None
    if weight is not None:
        w = np.empty(table.num_rows, dtype=np.float64)
        column_into(table.column(weight), w, weight, where)
        check_weights(w, weight, where)
    return X, y, w


def read_part(
    fs,
    part: FilePart,
    features: Sequence[str],
    X: np.ndarray,
    others: Sequence[str] = (),
    check: bool = True,
    dictionaries: Sequence[str] = (),
) -> pa.Table:
    """Decode the features of ``part`` into ``X``, checking each column, and return its
    ``others`` columns (label, weight, keys) as a table.

    A small part (a small file, most often) is one read of all its columns: one open of
    the file, its fixed costs paid once. A larger one is read a group of feature columns
    at a time (see ``_pieces``), then the others together. ``dictionaries``: string
    columns read as Arrow dictionaries (as Parquet stores them), not as strings.
    """
    position = {name: j for j, name in enumerate(features)}
    constants = dict(part.constants)
    for name in position.keys() & constants.keys():  # a hive partition key as a feature
        X[:, position[name]] = constants[name]
    in_file = [name for name in others if name not in constants]
    extra = [name for name in in_file if name not in position]
    file_features = [name for name in features if name not in constants]
    small = part.rows * (X.itemsize * len(features) + 8 * len(extra)) <= MIN_PIECE_BYTES
    whole = None  # a small part's one piece: it holds the others too
    read = [*file_features, *(extra if small else [])]
    for rows, piece in _pieces(fs, part, read, X.itemsize, dictionaries=dictionaries):
        for name in piece.column_names:
            if name in position:
                out = X[rows, position[name]]
                column_into(piece.column(name), out, name, part.where, allow_null=not check)
        whole = piece if small else None
        del piece
    for j, name in enumerate(features):
        if check:
            _check_finite(X[:, j], name, part.where)
    if not others:
        return pa.table({})
    if whole is None:
        whole = read_columns(fs, part, in_file, dictionaries) if in_file else pa.table({})
    return pa.table(
        {
            name: constant(constants[name], part.rows) if name in constants else whole.column(name)
            for name in others
        }
    )


def constant(value, rows: int) -> pa.Array:
    """A column of one value (a hive partition's): text dictionary-encoded, numbers plain."""
    if isinstance(value, str):
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), [value])
    return pa.array(np.full(rows, value))


def read_columns(
    fs, part: FilePart, columns: list[str], dictionaries: Sequence[str] = ()
) -> pa.Table:
    """A few small columns (label, weight, keys) of ``part`` as one Arrow table; those of
    its hive partition folders made from their values; ``dictionaries`` as ``read_part``."""
    constants = dict(part.constants)
    in_file = [name for name in columns if name not in constants]
    pieces = [
        table for _, table in _pieces(fs, part, in_file, 8, whole=True, dictionaries=dictionaries)
    ]
    table = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
    if not constants.keys() & set(columns):
        return table
    return pa.table(
        {
            name: constant(constants[name], part.rows) if name in constants else table.column(name)
            for name in columns
        }
    )


def _concatenated(tables: list[pa.Table], spec: ChunkSpec) -> pa.Table:
    """The tables of a chunk's parts as one (types widened where files differ)."""
    if len(tables) == 1:
        return tables[0]
    try:
        if len({t.schema for t in tables}) > 1:  # e.g. a column dictionary-encoded in one file
            tables = [_without_dictionaries(t) for t in tables]
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise DataError(f"the columns of {spec.where} do not line up: {exc}") from None


def _without_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns decoded and text as large strings, so that files
    that store one column differently still concatenate."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_dictionary(field.type):
            column = pc.dictionary_decode(column)
        if pa.types.is_string(column.type):
            column = column.cast(pa.large_string())
        if column is not table.column(index):
            table = table.set_column(index, field.name, column)
    return table


def _pieces(
    fs,
    part: FilePart,
    columns: list[str],
    itemsize: int,
    whole: bool = False,
    dictionaries: Sequence[str] = (),
) -> Iterator[tuple[slice, pa.Table]]:
    """(rows of the part, Arrow table) pieces that together hold ``columns`` of ``part``.

    They come a group of columns at a time, each group's decoded size about
    ``PIECE_SHARE`` of the chunk (``whole``: all columns at once, for a few small ones).
    Parquet cannot seek to a row inside a row group, so a row slice reads its columns
    from the whole group and keeps its rows: a slice of a group too large for a worker
    holds one column of the group at a time, and costs a decode of the whole group.
    """
    budget = max(MIN_PIECE_BYTES, int(PIECE_SHARE * part.rows * len(columns) * itemsize))
    # one small read: Arrow's read-ahead of column ranges and its decoding threads cost
    # more to set up than they save (twice the time of a read of a few KB, measured);
    # on object stores the read-ahead stays, as it makes one request of many
    lean = part.rows * len(columns) * itemsize <= MIN_PIECE_BYTES
    options: dict[str, Any] = {
        "pre_buffer": not (lean and is_local(fs)),
        "page_checksum_verification": True,
    }
    if dictionaries:  # the levels' codes come from the dictionary: no string per row
        options["read_dictionary"] = list(dictionaries)
    try:
        with pq.ParquetFile(part.path, filesystem=fs, **options) as parquet:
            meta = parquet.metadata
            read_rows = sum(meta.row_group(g).num_rows for g in part.row_groups)
            expected = read_rows if part.sliced else part.rows
            width = max(1, len(columns) if whole else budget // max(1, read_rows * itemsize))
            for first in range(0, max(1, len(columns)), width):
                group = columns[first : first + width]
                table = parquet.read_row_groups(
                    list(part.row_groups), columns=group, use_threads=not lean
                )
                if table.num_rows != expected or part.start + part.rows > table.num_rows:
                    raise DataError(
                        f"{part.where}: footer says {expected} rows but {table.num_rows} "
                        "were read; was the file changed while training?"
                    )
                if part.sliced:
                    table = table.slice(part.start, part.rows)
                yield slice(0, part.rows), table
                del table
        check_unchanged(fs, part)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {part.where}: {exc}") from None


def is_local(fs) -> bool:
    """Whether ``fs`` is the local disk (fsspec's "file" filesystem)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def file_version(details: dict) -> str:
    """What tells one version of a file from the next: its ETag on object stores, else its
    modification time (from ``fs.info``)."""
    version = details.get("ETag") or details.get("mtime") or details.get("LastModified")
    return str(version or "")


def check_unchanged(fs, part: FilePart) -> None:
    """Refuse rows of a file that changed after its footer was read (checked after the
    read, so a file rewritten during it is caught too)."""
    if part.file_size < 0:
        return
    details = fs.info(part.path)
    size, version = int(details["size"]), file_version(details)
    if size != part.file_size or version != part.file_version:
        raise DataError(
            f"{part.path} changed while training (size {part.file_size} → {size} bytes, "
            f"version {part.file_version} → {version}); its rows would mix two versions: "
            "start the fit again on the data as it is now"
        )


def _check_finite(values: np.ndarray, name: str, where: str) -> None:
    """Refuse NaN and ±inf in one column. A finite sum proves every value finite (NaN and
    inf propagate), so the elementwise test runs only when the sum is not (or overflows)."""
    if np.isfinite(values.sum()):
        return
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DataError(
            f"feature column '{name}' holds {values[row]} in {where} (row {row} of them)"
        )


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


def column_into(
    column: pa.ChunkedArray, out: np.ndarray, name: str, where: str, allow_null: bool = False
) -> None:
    """Copy an Arrow column into ``out`` piece by piece: one copy, no temporary. A null is
    an error, or with ``allow_null`` a NaN."""
    if column.null_count and not allow_null:
        first = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise DataError(
            f"column '{name}' has {column.null_count} null values in {where} (the first at "
            f"row {first} of them)"
        )
    if column.null_count:
        column = column.cast(pa.float64())
    start = 0
    for piece in column.chunks:
        stop = start + len(piece)
        out[start:stop] = piece.to_numpy(zero_copy_only=False)
        start = stop


def read_codes(fs, spec: ChunkSpec, column: str) -> np.ndarray:
    """One chunk's ``column`` as group codes; errors name the file and row groups."""
    codes = [_part_codes(fs, part, column) for _, part in spec.placed()]
    return codes[0] if len(codes) == 1 else np.concatenate(codes)


def _part_codes(fs, part: FilePart, column: str) -> np.ndarray:
    try:
        schema = pq.read_schema(part.path, filesystem=fs)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {part.where}: {exc}") from None
    if schema.get_field_index(column) < 0:
        raise DataError(
            f"{part.path}: column '{column}' is missing (file has: {', '.join(schema.names)})"
        )
    values = read_columns(fs, part, [column]).column(column)
    if values.null_count:
        raise DataError(f"column '{column}' holds {values.null_count} nulls in {part.where}")
    try:
        return group_codes(values.to_numpy(zero_copy_only=False))
    except ValueError as exc:
        raise DataError(f"column '{column}' in {part.where}: {exc}") from None
