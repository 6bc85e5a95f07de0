"""Read Parquet into Dask arrays: files → footers → chunk plan → lazy (X, y, w).

Everything that can be checked without reading data (files exist, are Parquet, hold the
label and feature columns with usable types) is checked here, on the driver, before any
pass. Unless ``classes`` is given, the label column alone is read once to find the
classes (a column of one value per row: a small share of a pass). Values (NaN/inf,
labels outside the classes, negative weights) are checked by the task that decodes each
chunk, so the error names the file and row groups it came from.
"""

import difflib
import itertools
import operator
import os
import posixpath
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, TypeVar

import dask.array as da
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from dasklr.data.checks import checked_classes
from dasklr.data.decode import (
    ChunkSpec,
    FilePart,
    file_version,
    is_local,
    label_values,
    plain_labels,
    read_chunk,
    read_codes,
)
from dasklr.data.formula import ModelFormula, parse_formula
from dasklr.data.levels import (
    FIRST,
    ON_UNSEEN,
    Levels,
    count_values,
    levels_from_counts,
    read_column,
)
from dasklr.errors import ColumnsLeftOutWarning, DataError

#: Consecutive row groups of one file are merged into a chunk up to this decoded size,
#: unless the workers' memory asks for less (``dasklr.passes.sizing``, when a fit starts).
DEFAULT_CHUNK_BYTES = 128 * 2**20
#: A row group is cut into row slices of at least this many rows.
MIN_SLICE_ROWS = 4096
#: Consecutive small files are read by one task up to this many decoded bytes (or the
#: chunk budget, if smaller): a task's fixed cost (a few ms of scheduling) then stays
#: small beside its reads (~0.1 ms a file), while the files of a dataset far below the
#: chunk budget still make several tasks for the workers to share.
FILE_GROUP_BYTES = 8 * 2**20

_GLOB_CHARS = ("*", "?", "[")

T = TypeVar("T")


@dataclass(frozen=True)
class ParquetFileInfo:
    """One file of the dataset as its footer describes it."""

    path: str
    size: int
    row_group_rows: tuple[int, ...]
    #: the modification time or ETag the filesystem reports: tells a changed file apart
    version: str = ""
    #: (column, value) of hive partition folders that predictions keep as columns
    constants: tuple[tuple[str, Any], ...] = ()

    @property
    def rows(self) -> int:
        return sum(self.row_group_rows)


class _Arrays(NamedTuple):
    X: da.Array
    y: da.Array
    sample_weight: da.Array | None


class ParquetData(_Arrays):
    """``(X, y, sample_weight)`` as Dask arrays; ``sample_weight`` is None without a weight column.

    ``y`` holds class indices (float64): row i's label is ``classes[y[i]]``. Unpacks like
    a tuple (``X, y, w = data``) and also carries where the arrays come from:
    ``feature_names``, ``label``, ``classes`` (sorted) and ``files``.
    ``LogisticRegression.fit(data)`` uses them.

    With categorical columns, X holds the numeric features, then one column of level
    codes per categorical column (``levels``), and
    ``feature_names`` names the model's coefficients: the numeric features, then
    ``column[level]`` for each coded level.
    """

    feature_names: tuple[str, ...]
    label: str
    classes: np.ndarray
    files: tuple[ParquetFileInfo, ...]
    weight_column: str | None
    levels: tuple[Levels, ...]
    #: (filesystem, chunk specs, rows known, ParquetSource, chunk budget), or None
    _reader: "tuple[Any, tuple[ChunkSpec, ...], bool, ParquetSource, int] | None"

    def __new__(
        cls,
        X,
        y,
        sample_weight,
        *,
        feature_names,
        label,
        classes,
        files,
        weight_column=None,
        reader=None,
        levels=(),
    ):
        self = super().__new__(cls, X, y, sample_weight)
        self.feature_names = tuple(feature_names)
        self.label = label
        self.classes = classes
        self.files = tuple(files)
        self.weight_column = weight_column
        self.levels = tuple(levels)
        #: (filesystem, chunk specs, rows known, ParquetSource, the chunk budget planned
        #: with) behind the arrays, to read more columns or plan other chunks
        self._reader = reader
        return self

    def __reduce__(self):
        """Pickle the arrays and what they come from (the tuple's own pickling would keep
        only ``X, y, w``, and ``__new__`` needs the rest)."""
        extras = {
            "feature_names": self.feature_names,
            "label": self.label,
            "classes": self.classes,
            "files": self.files,
            "weight_column": self.weight_column,
            "reader": self._reader,
            "levels": self.levels,
        }
        return (_unpickled, (tuple(self), extras))

    @property
    def formula(self) -> ModelFormula | None:
        """The formula the data was read with (None: columns named directly)."""
        return None if self._reader is None else self._reader[3].formula

    @property
    def n_numeric(self) -> int:
        """How many of X's columns are numeric features (the rest: level codes)."""
        return self.X.shape[1] - len(self.levels)

    def with_levels(self, levels: Sequence[Levels], on_unseen: str | None = None) -> "ParquetData":
        """The same data coded with a model's frozen ``levels`` (to score it); a value
        they have not seen as ``on_unseen`` says (None: as ``read_parquet`` was told)."""
        if self._reader is None:
            raise ValueError("this ParquetData does not know its files; use read_parquet")
        source = self._reader[3]
        mine = [found.column for found in source.levels]
        theirs = [found.column for found in levels]
        if mine != theirs:
            raise DataError(f"the model's categorical columns are {theirs}; this data's are {mine}")
        on_unseen = source.on_unseen if on_unseen is None else on_unseen
        if tuple(levels) == source.levels and on_unseen == source.on_unseen:
            return self
        source = replace(source, levels=tuple(levels), on_unseen=on_unseen)
        return _build_arrays(source, self._reader[4])

    @property
    def chunk_specs(self) -> tuple[ChunkSpec, ...]:
        """What each chunk's read task decodes (row groups of a file, or a row slice)."""
        return () if self._reader is None else self._reader[1]

    def sized_for(self, chunk_bytes: int) -> "ParquetData":
        """The same data in chunks of at most ``chunk_bytes`` decoded bytes, unless the
        user chose ``chunk_bytes`` in ``read_parquet`` (then as it is)."""
        if self._reader is None or self._reader[3].chunk_bytes is not None:
            return self
        wanted = min(self._reader[4], int(chunk_bytes))
        return self if wanted == self._reader[4] else _build_arrays(self._reader[3], wanted)

    def column_codes(self, column: str) -> da.Array:
        """Another column (e.g. the clusters of ``summary(cov_type="cluster")``) as int64
        codes (``robust.group_codes``), in the chunks of ``X``; a null is an error naming
        its file."""
        if self._reader is None:
            raise ValueError("this ParquetData does not know its files; use read_parquet")
        fs, chunks, rows_known, _, _ = self._reader
        if not rows_known:
            raise DataError(
                f"column '{column}' cannot be lined up with rows dropped by "
                "on_invalid='drop'; clean the data or pass groups as an array"
            )
        name = f"dasklr-codes-{tokenize(self.X.name, column)}"
        layer = {(name, i): (read_codes, fs, spec, column) for i, spec in enumerate(chunks)}
        return da.Array(layer, name, (tuple(spec.rows for spec in chunks),), dtype=np.int64)


def _unpickled(arrays: tuple, extras: dict) -> ParquetData:
    return ParquetData(*arrays, **extras)


def read_parquet(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    label: str | None = None,
    features: Sequence[str] | None = None,
    weight: str | None = None,
    *,
    classes: Sequence | None = None,
    dtype: str | np.dtype = "float64",
    on_invalid: str = "error",
    chunk_bytes: int | None = None,
    storage_options: dict[str, Any] | None = None,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] | str | None = None,
    min_frequency: int = 1,
    max_levels: int | None = None,
    reference: str | dict[str, str | None] | None = "first",
    levels: Sequence[Levels] | None = None,
    on_unseen: str = "error",
    formula: str | None = None,
) -> ParquetData:
    """Lazily read a Parquet dataset as float64 Dask arrays for training.

    Parameters
    ----------
    path
        A file, a directory (searched recursively; hive ``key=value`` folders are fine;
        names starting with ``.`` or ``_`` and ``.crc`` files are skipped), a glob, or a
        list of these. Local paths or any fsspec URL.
    label
        The label column: integers, floats, bools or strings; its distinct values are
        the classes (two for binary, more for multinomial). Not needed with a formula.
    features
        Feature columns, in order. ``None`` takes every column that is numeric or bool in
        every file, except ``label`` and ``weight``, in the order of the first file; the
        columns left out (strings, decimals, timestamps, columns missing from some files)
        are named in one ``dasklr.ColumnsLeftOutWarning``, as are integer columns named
        like row keys (``id``, ``key``, ``index``, ``*_id``, ``*_key``). Keys of hive
        ``key=value`` folders are features only when named (numbers only).
    weight
        Optional column of non-negative sample weights.
    classes
        The allowed labels. None reads the label column once to find them; given, that
        read is skipped and a label outside them is an error naming its file.
    dtype
        "float64" (the default) or "float32" for X: float32 halves the memory of every
        chunk and of the decoded-chunk cache; the kernels widen each chunk to float64
        as they use it, so every sum still accumulates in float64.
    on_invalid
        "error" (the default): a null, NaN or ±inf value, or a negative weight, fails the
        first pass with an error naming the column, file and row groups. "drop": such rows
        are left out; the fitted model records how many (``training_data_``). Chunk sizes
        are then unknown until read.
    chunk_bytes
        Consecutive row groups of a file are grouped into one chunk (one task) up to this
        many decoded bytes, and a larger row group is read in row slices of that size.
        None (the default): 128 MiB, or less when a fit starts on workers whose memory
        needs smaller tasks (``dasklr.passes.sizing``); a number is used as it is.
    exclude
        With ``features=None``: columns not to take as features, without a warning.
    categorical, min_frequency, max_levels, reference, levels, on_unseen
        Columns (strings, dictionaries, bools, integers; ``"auto"``: every string and
        dictionary column) that enter the model as one coefficient per level, named
        ``column[level]``; chunks carry level codes, never a one-hot block. Levels seen
        fewer than ``min_frequency`` times, and beyond the ``max_levels`` most frequent,
        fold into "other"; the ``reference`` level ("first", None for none, or
        ``{column: level}``) has no coefficient. ``levels`` (a model's ``levels_``) are
        used instead of finding them; ``on_unseen`` ("error" or "other") says what a
        value outside them becomes (docs: "Categorical columns" in the user guide).
    formula
        ``"y ~ x1 * x2 + C(region)"`` instead of ``label``, ``features`` and
        ``categorical`` (``dasklr.data.formula``). E.g. ``X, y, w = read_parquet(p, "y")``.
    """
    dtype = _checked_options(dtype, on_invalid, on_unseen, chunk_bytes)
    model_formula, label, features, categorical, reference = _from_formula(
        formula, label, features, categorical, reference
    )
    if weight is not None and weight == label:
        raise DataError(f"weight column '{weight}' is also the label column")
    fs, paths, shown, roots = _resolve_with_roots(path, storage_options or {})
    infos, file_schemas, settled = _read_footers(fs, paths, label)
    partitions = [hive_partitions(info.path, roots[info.path]) for info in infos]
    schemas = _with_partition_fields(file_schemas, partitions)
    if levels is not None and categorical is None:
        categorical = [found.column for found in levels]
    grouped = _categorical_columns(categorical, infos, schemas, label, weight, tuple(exclude))
    feature_names = _feature_columns(features, infos, file_schemas, label, weight, exclude, grouped)
    for info, schema in zip(infos, schemas, strict=True):
        _check_columns(info.path, schema, [*feature_names, *([weight] if weight else [])])
    label_kind = _check_label(infos, schemas, label)
    if not any(info.rows for info in infos):
        raise DataError(f"{shown}: the Parquet files hold no rows")
    drop_nulls = on_invalid == "drop"
    known = _classes(classes, fs, infos, settled, label, label_kind, drop_nulls)
    infos = _with_partition_columns(infos, file_schemas, partitions, [*feature_names, *grouped])
    rules = (min_frequency, max_levels, reference)
    frozen = _frozen_levels(fs, infos, grouped, levels, rules, drop_nulls)
    options = (feature_names, label, known, weight, dtype, on_invalid, chunk_bytes)
    source = ParquetSource(fs, tuple(infos), *options, frozen, on_unseen, model_formula)
    return _build_arrays(source, chunk_bytes or DEFAULT_CHUNK_BYTES)


def _frozen_levels(fs, infos, columns, given, rules: tuple, drop_nulls: bool) -> tuple:
    """The frozen levels of each categorical column: ``given`` (a model's), or found by
    one read of it with ``rules`` = (min_frequency, max_levels, reference)."""
    if given is not None:
        return _given_levels(given, columns)
    min_frequency, max_levels, reference = rules
    chosen = _references(reference, columns)
    return tuple(
        levels_from_counts(
            name,
            _level_counts(fs, infos, name, drop_nulls),
            min_frequency,
            max_levels,
            chosen[name],
        )
        for name in columns
    )


def _from_formula(text: str | None, label, features, categorical, reference) -> tuple:
    """(formula, label, raw features, categorical columns, reference levels): a formula's
    when there is one (it replaces the arguments that name columns), else as given."""
    if text is None:
        if label is None:
            raise ValueError("read_parquet needs the label column (or a formula)")
        return None, label, features, categorical, reference
    formula = parse_formula(text)
    if features is not None or categorical is not None:
        raise ValueError("a formula names the columns: leave features and categorical out")
    if label is not None and label != formula.label:
        raise ValueError(f"label {label!r} differs from the formula's {formula.label!r}")
    columns = [column for column, _ in formula.categorical]
    return formula, formula.label, list(formula.columns), columns, formula.references()


def _checked_options(dtype, on_invalid: str, on_unseen: str, chunk_bytes) -> np.dtype:
    """``read_parquet``'s choices checked before any file is opened; the dtype."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    if on_invalid not in ("error", "drop"):
        raise ValueError(f"on_invalid must be 'error' or 'drop', got {on_invalid!r}")
    if on_unseen not in ON_UNSEEN:
        raise ValueError(f"on_unseen must be one of {ON_UNSEEN}, got {on_unseen!r}")
    if chunk_bytes is not None and not chunk_bytes > 0:
        raise ValueError(f"chunk_bytes must be a positive number of bytes, got {chunk_bytes}")
    return dtype


def _classes(classes, fs, infos, settled, label: str, kind: str, drop_nulls: bool) -> np.ndarray:
    """The classes: as given, or from the footers where their statistics settle them and
    by reading the label column of the other files."""
    if classes is not None:
        return _given_classes(classes, label, kind)
    unsettled = [i.path for i, s in zip(infos, settled, strict=True) if i.rows and s is None]
    found = [s for s in settled if s is not None]
    found += _find_classes(fs, unsettled, label, kind, drop_nulls=drop_nulls)
    return np.unique(np.concatenate(found))


def _resolve_paths(path, storage_options) -> tuple[fsspec.AbstractFileSystem, list[str], str]:
    """Expand a file, directory, glob or list into a sorted list of data files."""
    fs, found, shown, _ = _resolve_with_roots(path, storage_options)
    return fs, found, shown


def _resolve_with_roots(path, storage_options):
    """``_resolve_paths``, and the folder each file was found under (a directory given,
    or a glob's fixed part): hive ``key=value`` folders below it are partitions."""
    items = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not items:
        raise DataError("no input path given")
    shown = ", ".join(str(p) for p in items)
    fs, _ = fsspec.core.url_to_fs(os.fspath(items[0]), **storage_options)
    found: list[str] = []
    roots: dict[str, str] = {}
    for item in items:
        item_fs, root = fsspec.core.url_to_fs(os.fspath(item), **storage_options)
        if item_fs.protocol != fs.protocol:
            raise DataError(f"all input paths must be on one filesystem; {item} is not")
        if any(ch in root for ch in _GLOB_CHARS):
            fixed = root[: min(root.find(ch) for ch in _GLOB_CHARS if ch in root)]
            files = [
                p
                for p in item_fs.glob(root)
                if _is_data_file(posixpath.basename(p)) and item_fs.isfile(p)
            ]
            roots.update(dict.fromkeys(files, posixpath.dirname(fixed)))
        elif item_fs.isdir(root):
            files = [p for p in item_fs.find(root) if _is_data_file(posixpath.relpath(p, root))]
            roots.update(dict.fromkeys(files, root))
        elif item_fs.isfile(root):
            files = [root]
            roots[root] = posixpath.dirname(root)
        else:
            raise DataError(f"{item}: no such file or directory")
        found.extend(files)
    if not found:
        raise DataError(f"{shown}: matches no data files")
    return fs, sorted(set(found)), shown, roots


def hive_partitions(path: str, root: str) -> dict[str, str]:
    """The ``key=value`` folders between ``root`` and the file ``path``."""
    relative = posixpath.relpath(posixpath.dirname(path), root)
    pairs = (part.split("=", 1) for part in relative.split("/") if "=" in part)
    return {key: value for key, value in pairs}


def _typed(values: list[str]):
    """Partition values as integers when all are, else floats when all are, else text."""
    for kind in (int, float):
        try:
            return [kind(v) for v in values]
        except ValueError:
            continue
    return values


def _is_data_file(relative: str) -> bool:
    """Skip the markers and side files that Spark, Hadoop and editors leave in datasets."""
    parts = relative.split("/")
    hidden = any(part.startswith((".", "_")) for part in parts)
    return not hidden and not relative.endswith(".crc")


def _read_footers(
    fs, paths: list[str], label: str | None = None
) -> tuple[list[ParquetFileInfo], list[pa.Schema], list[np.ndarray | None]]:
    """Read every footer (in parallel on object stores, where each is a round trip): the
    files, their schemas, and the classes of ``label`` where the statistics settle them
    (``_labels_from_statistics``; None where the column must be read)."""

    def one(path: str) -> tuple[ParquetFileInfo, pa.Schema, np.ndarray | None]:
        try:
            with pq.ParquetFile(path, filesystem=fs) as parquet:
                meta = parquet.metadata
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
        rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        details = fs.info(path)
        info = ParquetFileInfo(
            path=path, size=int(details["size"]), row_group_rows=rows, version=file_version(details)
        )
        schema = meta.schema.to_arrow_schema()
        labels = None
        if label is not None and schema.get_field_index(label) >= 0:
            labels = _labels_from_statistics(meta, schema, label)
        return info, schema, labels

    results = map_files(fs, one, paths, threads=1)
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


#: Threads that read footers and label columns on object stores, where each read waits
#: on the network.
REMOTE_THREADS = 16


def map_files(fs, read: Callable[[str], T], paths: Sequence[str], threads: int = 4) -> list[T]:
    """``read`` of every path, in order: on object stores on ``REMOTE_THREADS`` threads;
    on a local disk on ``threads`` (footers: 1, as their parsing holds the GIL — 5,000
    footers took 0.3 s in one thread, 0.6–0.8 s in 16), each thread taking a batch of
    paths at a time (a path a task cost more in handing over than a small read takes)."""
    threads = threads if is_local(fs) else REMOTE_THREADS
    threads = max(1, min(threads, len(paths)))
    if threads == 1:
        return [read(path) for path in paths]
    size = max(1, -(-len(paths) // (4 * threads)))
    batches = [paths[i : i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [x for batch in pool.map(lambda b: [read(p) for p in b], batches) for x in batch]


def plan_dataset(
    path,
    features: Sequence[str],
    other_columns: Sequence[str] = (),
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
) -> tuple[Any, list[ChunkSpec], list[ParquetFileInfo]]:
    """Files, footers and the chunk plan of a dataset to score (no label needed).

    The features must be numeric in every file; ``other_columns`` (keys passed through
    to predictions) must exist, of any type.
    """
    fs, paths, shown, roots = _resolve_with_roots(path, storage_options or {})
    infos, file_schemas, _ = _read_footers(fs, paths)
    partitions = [hive_partitions(info.path, roots[info.path]) for info in infos]
    schemas = _with_partition_fields(file_schemas, partitions)
    for info, schema, keys in zip(infos, schemas, partitions, strict=True):
        _check_columns(info.path, schema, list(features))
        missing = [n for n in other_columns if schema.get_field_index(n) < 0 and n not in keys]
        if missing:
            raise DataError(
                f"{info.path}: column '{missing[0]}' is missing"
                f"{_close(missing[0], [*schema.names, *keys])} "
                f"(file has: {', '.join(schema.names)}; partition keys: "
                f"{', '.join(keys) or 'none'})"
            )
    wanted = [*features, *other_columns]
    infos = _with_partition_columns(infos, file_schemas, partitions, wanted)
    chunks = plan_chunks(infos, bytes_per_row=8 * len(features) + 16, chunk_bytes=chunk_bytes)
    if not chunks:
        raise DataError(f"{shown}: the Parquet files hold no rows")
    return fs, chunks, infos


def _with_partition_fields(schemas, partitions) -> list[pa.Schema]:
    """Each file's schema with its hive partition keys as fields (int64, float64 or
    text, as ``_typed`` reads all the files' values), so that a key can be a feature or a
    kept column like the file's own columns; a column of the file wins over a key."""
    keys = dict.fromkeys(key for found in partitions for key in found)
    types = {}
    for key in keys:
        values = _typed([found[key] for found in partitions if key in found])
        types[key] = pa.string() if isinstance(values[0], str) else pa.array(values[:1]).type
    return [
        pa.schema(
            [*schema, *(pa.field(k, types[k]) for k in found if schema.get_field_index(k) < 0)]
        )
        for schema, found in zip(schemas, partitions, strict=True)
    ]


def _with_partition_columns(infos, schemas, partitions, columns) -> list[ParquetFileInfo]:
    """Each file with the values of the wanted ``columns`` that come from its hive folders
    (not from the file), typed alike across the files."""
    wanted = [c for c in dict.fromkeys(columns) if any(s.get_field_index(c) < 0 for s in schemas)]
    if not wanted:
        return list(infos)
    typed = {name: _typed([keys[name] for keys in partitions]) for name in wanted}
    return [
        replace(info, constants=tuple((name, typed[name][i]) for name in wanted))
        for i, info in enumerate(infos)
    ]


def _categorical_columns(
    categorical, infos, schemas, label: str, weight: str | None, exclude: Sequence[str]
) -> tuple[str, ...]:
    """The categorical columns asked for, checked: in every file, of a type with levels
    (strings, dictionaries, bools, integers); ``"auto"``: every string or dictionary
    column of the first file besides the label, weight and ``exclude``."""
    if categorical is None:
        return ()
    if isinstance(categorical, str):
        if categorical != "auto":
            raise ValueError(
                f"categorical must be a list of columns or 'auto', got {categorical!r}"
            )
        names = [
            field.name
            for field in schemas[0]
            if _is_text(field.type) and field.name not in (label, weight, *exclude)
        ]
    else:
        names = list(_distinct(categorical, "categorical", label, weight))
    for info, schema in zip(infos, schemas, strict=True):
        for name in names:
            dtype = _column_type(info.path, schema, name, "categorical column")
            if not (_is_text(dtype) or pa.types.is_boolean(dtype) or pa.types.is_integer(dtype)):
                raise DataError(
                    f"{info.path}: categorical column '{name}' has type {dtype}; expected "
                    "strings, a dictionary, bools or integers"
                )
    return tuple(names)


def _is_text(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return True
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def _level_counts(fs, infos, column: str, drop_nulls: bool = False) -> Counter:
    """Each value's count in ``column`` over every file (a hive partition key: its
    folder's value times the file's rows), by one read of the column."""
    counts: Counter = Counter()
    with_rows = [info for info in infos if info.rows]
    for info in with_rows:
        constants = dict(info.constants)
        if column in constants:
            counts[str(constants[column])] += info.rows
    in_files = [info.path for info in with_rows if column not in dict(info.constants)]
    for found in map_files(fs, lambda p: count_values(fs, p, column, drop_nulls), in_files):
        counts.update(found)
    return counts


def _references(reference, columns: Sequence[str]) -> dict[str, Any]:
    """Each categorical column's reference level choice for ``levels_from_counts``."""
    if isinstance(reference, str) and reference == "first":
        return {name: FIRST for name in columns}
    if reference is None:
        return dict.fromkeys(columns)
    if not isinstance(reference, dict):
        raise ValueError(
            f"reference must be 'first', None or a dict of column: level, got {reference!r}"
        )
    unknown = [name for name in reference if name not in columns]
    if unknown:
        raise DataError(f"reference names '{unknown[0]}', which is not a categorical column")
    return {name: reference.get(name, FIRST) for name in columns}


def _given_levels(levels: Sequence[Levels], columns: Sequence[str]) -> tuple[Levels, ...]:
    by_column = {found.column: found for found in levels}
    if list(by_column) != list(columns) and set(by_column) != set(columns):
        raise DataError(
            f"levels are given for {list(by_column)}, but the categorical columns are "
            f"{list(columns)}"
        )
    return tuple(by_column[name] for name in columns)


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


def _feature_columns(features, infos, file_schemas, label, weight, exclude, categorical):
    """The numeric features: named, or (None) every numeric column of the files."""
    if features is None:
        # from the files' own columns: partition folders are layout, named only on purpose
        skipped = (*exclude, *categorical)
        return _default_features(infos, file_schemas, label, weight, skipped, categorical)
    return _named_features(features, label, weight, categorical, exclude)


def _named_features(
    features: Sequence[str],
    label: str,
    weight: str | None,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> tuple[str, ...]:
    """The numeric features named (a categorical column among them is taken as one)."""
    if exclude:
        raise ValueError("exclude goes with features=None; leave the columns out of features")
    names = tuple(name for name in features if name not in categorical)
    if categorical and not names:
        return names
    if not names:
        raise DataError("features is an empty list; name at least one column")
    return _distinct(names, "features", label, weight)


def _distinct(names: Sequence[str], argument: str, label: str, weight: str | None) -> tuple:
    """``names`` checked: each once, none of them the label or the weight."""
    names = tuple(names)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"{argument} lists columns more than once: {duplicated}")
    clash = {label, weight} & set(names)
    if clash:
        role = "a feature" if argument == "features" else "categorical"
        raise DataError(f"column '{clash.pop()}' cannot be both {role} and label/weight")
    return names


def _default_features(
    infos,
    schemas,
    label: str,
    weight: str | None,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
) -> tuple[str, ...]:
    """Every column, besides the label, the weight and ``exclude``, that is numeric or
    bool in every file and not an integer key (``looks_like_key``), in the order of the
    first file; the others are named in one ``ColumnsLeftOutWarning``.

    Decided from all the schemas, so the answer does not depend on which file comes first.
    """
    first_with: dict[pa.Schema, str] = {}  # each distinct schema, and a file that has it
    for info, schema in zip(infos, schemas, strict=True):
        first_with.setdefault(schema, info.path)
    every = dict.fromkeys(n for schema in first_with for n in schema.names)
    unknown = [name for name in exclude if name not in every]
    if unknown:
        raise DataError(
            f"exclude names '{unknown[0]}', which no file has{_close(unknown[0], every)}"
        )
    names = [n for n in every if n not in (label, weight, *exclude)]
    left_out: dict[str, str] = {}
    for name in names:
        for schema, path in first_with.items():
            index = schema.get_field_index(name)
            if index < 0:
                left_out[name] = f"missing from {path}"
                break
            if not _is_numeric(schema.field(index).type):
                left_out[name] = f"{schema.field(index).type} in {path}"
                break
        else:
            integer = all(pa.types.is_integer(s.field(name).type) for s in first_with)
            if integer and looks_like_key(name):
                left_out[name] = "an integer key, by its name"
    chosen = tuple(name for name in names if name not in left_out)
    listed = ", ".join(f"'{name}' ({why})" for name, why in left_out.items())
    if not chosen and categorical:
        return chosen
    if not chosen:
        raise DataError(
            f"no numeric feature columns besides '{label}'"
            + (
                f": {listed}; name the features to use (cast them to numbers first)"
                if listed
                else ""
            )
        )
    if left_out:
        warnings.warn(
            f"features=None leaves out {len(left_out)} column(s): {listed}; pass "
            "features=[...] to choose the columns, or exclude=[...] to leave them out "
            "without this warning, or categorical=[...] to use string columns as categories "
            "(decimals and timestamps need a cast to numbers first)",
            ColumnsLeftOutWarning,
            stacklevel=4,
        )
    return chosen


def looks_like_key(name: str) -> bool:
    """A column named as a row key ("id", "customer_id", "key", "row_key"): its integers
    number rows, they do not measure anything."""
    lowered = name.lower()
    return lowered in ("id", "key", "index") or lowered.endswith(("_id", "_key"))


def _close(name: str, names) -> str:
    """ "; did you mean 'x1'?" when a name is close to one of ``names``."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _column_type(path: str, schema: pa.Schema, name: str, role: str = "column") -> pa.DataType:
    """The type of column ``name`` of a file; its absence is an error naming the file."""
    index = schema.get_field_index(name)
    if index < 0:
        raise DataError(
            f"{path}: {role} '{name}' is missing{_close(name, schema.names)} "
            f"(file has: {', '.join(schema.names)})"
        )
    return schema.field(index).type


def _check_columns(path: str, schema: pa.Schema, columns: list[str]) -> None:
    for name in columns:
        dtype = _column_type(path, schema, name)
        if not _is_numeric(dtype):
            hint = f"; categorical=['{name}'] takes its values as levels" if _is_text(dtype) else ""
            raise DataError(
                f"{path}: column '{name}' has type {dtype}; expected numeric or bool{hint}"
            )


def _label_kind(dtype: pa.DataType) -> str | None:
    """ "number" (integers, floats, bools), "string", or None for a type labels cannot have."""
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if _is_numeric(dtype):
        return "number"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    return None


def _check_label(infos, schemas, label: str) -> str:
    """The label column's kind, the same in every file (numbers or strings)."""
    kinds: dict[str, str] = {}
    for info, schema in zip(infos, schemas, strict=True):
        index = schema.get_field_index(label)
        if index < 0:
            raise DataError(
                f"{info.path}: column '{label}' is missing (file has: {', '.join(schema.names)})"
            )
        dtype = schema.field(index).type
        kind = _label_kind(dtype)
        if kind is None:
            raise DataError(
                f"{info.path}: label column '{label}' has type {dtype}; expected integers, "
                "floats, bools or strings"
            )
        kinds.setdefault(kind, info.path)
    if len(kinds) > 1:
        raise DataError(
            f"label column '{label}' holds numbers in {kinds['number']} but strings in "
            f"{kinds['string']}"
        )
    return next(iter(kinds))


def _find_classes(
    fs, paths: list[str], label: str, kind: str, drop_nulls=False
) -> list[np.ndarray]:
    """The sorted distinct labels of each file, reading the label column alone (nulls are
    an error, or left out with ``drop_nulls``)."""

    def one(path: str) -> np.ndarray:
        column = read_column(fs, path, label, "label", drop_nulls)
        values = np.sort(label_values(pc.unique(plain_labels(column, kind)), kind))
        return checked_classes(values, f"label column '{label}' in file {path}")

    return map_files(fs, one, paths)


def _labels_from_statistics(meta, schema: pa.Schema, label: str) -> np.ndarray | None:
    """The distinct values of an integer or bool label column from its row groups'
    statistics alone, when they settle it: no nulls, and in every row group max − min ≤ 1,
    so that its values are exactly {min, max} (both occur). None when the column must be
    read (no statistics, floats, strings, or wider ranges)."""
    field = schema.field(label)
    if not (pa.types.is_integer(field.type) or pa.types.is_boolean(field.type)):
        return None
    found: set = set()
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if group.num_rows == 0:
            continue
        columns = (group.column(j) for j in range(group.num_columns))
        column = next((c for c in columns if c.path_in_schema == label), None)
        stats = None if column is None else column.statistics
        if stats is None or not (stats.has_min_max and stats.has_null_count):
            return None
        if stats.null_count or int(stats.max) - int(stats.min) > 1:
            return None
        found |= {stats.min, stats.max}
    return np.array(sorted(found), dtype=field.type.to_pandas_dtype())


def _given_classes(classes: Sequence, label: str, kind: str) -> np.ndarray:
    values = np.unique(np.asarray(list(classes)))
    wanted = "string" if values.dtype.kind in "US" else "number"
    if values.dtype.kind not in "USbiuf" or wanted != kind or values.size == 0:
        raise DataError(
            f"classes {list(classes)!r} do not match label column '{label}', which holds {kind}s"
        )
    return values


def plan_chunks(
    infos: Sequence[ParquetFileInfo], *, bytes_per_row: int, chunk_bytes: int
) -> list[ChunkSpec]:
    """Group consecutive row groups of each file into chunks of at most ``chunk_bytes``;
    cut a row group larger than that into equal row slices (at least ``MIN_SLICE_ROWS``);
    read consecutive small files in one chunk, up to ``FILE_GROUP_BYTES`` (or ``chunk_bytes``).

    Row counts come from the footers, so chunk sizes are known before any data is read;
    empty row groups and files add nothing.
    """
    group_bytes = min(FILE_GROUP_BYTES, chunk_bytes)
    chunks: list[ChunkSpec] = []
    small: list[FilePart] = []  # consecutive small files, not yet a chunk
    small_rows = 0
    for info in infos:
        parts = _file_parts(info, bytes_per_row, chunk_bytes)
        if len(parts) == 1 and info.rows * bytes_per_row <= group_bytes:
            if small and (small_rows + info.rows) * bytes_per_row > group_bytes:
                chunks.append(ChunkSpec(tuple(small)))
                small, small_rows = [], 0
            small.append(parts[0])
            small_rows += info.rows
            continue
        if small:
            chunks.append(ChunkSpec(tuple(small)))
            small = []
        chunks.extend(ChunkSpec((part,)) for part in parts)
    if small:
        chunks.append(ChunkSpec(tuple(small)))
    return chunks


def _file_parts(info: ParquetFileInfo, bytes_per_row: int, chunk_bytes: int) -> list[FilePart]:
    """One file's reads: runs of row groups up to ``chunk_bytes``, or slices of one."""
    parts: list[FilePart] = []
    group: list[int] = []
    rows = 0
    for index, n in enumerate(info.row_group_rows):
        if n == 0:
            continue
        if group and (rows + n) * bytes_per_row > chunk_bytes:
            parts.append(_part(info, tuple(group), rows))
            group, rows = [], 0
        if n * bytes_per_row > chunk_bytes and n > MIN_SLICE_ROWS:
            parts.extend(_row_slices(info, index, n, bytes_per_row, chunk_bytes))
            continue
        group.append(index)
        rows += n
    if group:
        parts.append(_part(info, tuple(group), rows))
    return parts


def _part(
    info: ParquetFileInfo, row_groups: tuple[int, ...], rows: int, start: int = 0, sliced=False
) -> FilePart:
    """The read of ``rows`` rows of ``info``'s file, checked against its size and version
    (when the filesystem reports one)."""
    return FilePart(
        info.path,
        row_groups,
        rows,
        start=start,
        sliced=sliced,
        file_size=info.size if info.version else -1,
        file_version=info.version,
        constants=info.constants,
    )


def _row_slices(info: ParquetFileInfo, group: int, rows: int, bytes_per_row: int, chunk_bytes: int):
    """Equal slices of one row group, each at most ``chunk_bytes`` (or ``MIN_SLICE_ROWS``)."""
    per_slice = max(MIN_SLICE_ROWS, chunk_bytes // bytes_per_row)
    count = -(-rows // per_slice)
    bounds = np.linspace(0, rows, count + 1).astype(int)
    return [
        _part(info, (group,), int(stop - start), start=int(start), sliced=True)
        for start, stop in itertools.pairwise(bounds)
    ]


@dataclass(frozen=True)
class ParquetSource:
    """What a chunk plan is made from: the files, columns and decoding options."""

    fs: Any
    infos: tuple[ParquetFileInfo, ...]
    features: tuple[str, ...]
    label: str
    classes: np.ndarray
    weight: str | None
    dtype: np.dtype
    on_invalid: str
    #: the user's ``chunk_bytes``; None: ``DEFAULT_CHUNK_BYTES``, or less for small workers
    chunk_bytes: int | None
    #: the categorical columns' frozen levels: their codes follow the features in X
    levels: tuple[Levels, ...] = ()
    on_unseen: str = "error"
    #: a formula's structure: X's numeric columns are its terms (products of features)
    formula: ModelFormula | None = None

    @property
    def terms(self) -> tuple[tuple[str, ...], ...] | None:
        return None if self.formula is None else self.formula.terms

    @property
    def bytes_per_row(self) -> int:
        """Decoded bytes of one row: the features and level codes, the label index and
        the weight."""
        numeric = max(len(self.features), len(self.terms or ()))
        return self.dtype.itemsize * (numeric + len(self.levels)) + 16


def _build_arrays(source: ParquetSource, chunk_bytes: int) -> ParquetData:
    """One read task per chunk; X, y and w are views of its result, so a pass reads once."""
    chunks = plan_chunks(source.infos, bytes_per_row=source.bytes_per_row, chunk_bytes=chunk_bytes)
    fs, features, weight, dtype = source.fs, source.features, source.weight, source.dtype
    # the numeric columns of X: the features, or a formula's terms of them
    numeric = features if source.formula is None else source.formula.term_names
    token = tokenize(
        fs.protocol,
        [(i.path, i.size, i.row_group_rows) for i in source.infos],
        chunks,
        features,
        source.label,
        source.classes,
        weight,
        dtype.str,
        source.on_invalid,
        source.levels,
        source.on_unseen,
        source.formula,
    )
    read_name = f"dasklr-read-{token}"
    task = (read_chunk, fs)
    options = (
        features,
        source.label,
        source.classes,
        weight,
        dtype,
        source.on_invalid,
        source.levels,
        source.on_unseen,
        source.terms,
    )
    reads = {(read_name, i): (*task, spec, *options) for i, spec in enumerate(chunks)}
    # dropping invalid rows makes a chunk's length known only once it is read
    rows = tuple(np.nan if source.on_invalid == "drop" else spec.rows for spec in chunks)

    def view(part: int, prefix: str, ndim: int) -> da.Array:
        name = f"dasklr-{prefix}-{token}"
        layer = {
            (name, i) + (0,) * (ndim - 1): (operator.getitem, (read_name, i), part)
            for i in range(len(chunks))
        }
        graph = HighLevelGraph(
            {read_name: reads, name: layer}, {read_name: set(), name: {read_name}}
        )
        width = len(numeric) + len(source.levels)
        shape_chunks = (rows, (width,)) if ndim == 2 else (rows,)
        return da.Array(graph, name, shape_chunks, dtype=dtype if ndim == 2 else np.float64)

    return ParquetData(
        X=view(0, "X", 2),
        y=view(1, "y", 1),
        sample_weight=view(2, "w", 1) if weight else None,
        feature_names=[
            *numeric,
            *(n for found in source.levels for n in found.coefficient_names()),
        ],
        label=source.label,
        classes=source.classes,
        files=source.infos,
        weight_column=weight,
        reader=(fs, tuple(chunks), source.on_invalid != "drop", source, chunk_bytes),
        levels=source.levels,
    )
