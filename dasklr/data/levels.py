"""The levels of a categorical column, found once and frozen, and the codes of its values.

Like the label's classes, the levels are found by one read of the column (each file's
``value_counts``, merged), before any pass, and kept in the model in a stable order:

- sorted by value; levels seen fewer than ``min_frequency`` times, and — when more than
  ``max_levels`` remain — all but the ``max_levels − 1`` most frequent, are folded into
  one "other" level, last (scikit-learn's ``OneHotEncoder(min_frequency=,
  max_categories=)`` does the same, and the tests hold the two side by side);
- one ``reference`` level (by default the first) has no coefficient, so that with an
  unpenalised intercept the fit is identified; ``reference=None`` keeps every level.

A chunk carries codes, not a one-hot block (``kernels.design``): the index of each
value's coefficient, −1 for the reference level. A value the levels have never seen is
an error naming it (``on_unseen="error"``), or goes to "other" — to the reference level
when nothing was folded (``on_unseen="other"``).
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dasklr.errors import DataError

#: The name of the level that rare and excess levels are folded into.
OTHER = "other"
ON_UNSEEN = ("error", "other")
#: ``reference=FIRST``: the first kept level (in sorted order) is the reference.
FIRST = object()
#: a code no level has: a value the levels have not seen (``on_unseen="error"``)
_UNSEEN = -2


@dataclass(frozen=True)
class Levels:
    """A categorical column's frozen levels: ``values`` (sorted, as text), whether an
    "other" level collects ``folded`` ones, and the ``reference`` level (no coefficient)."""

    column: str
    values: tuple[str, ...]
    folded: tuple[str, ...] = ()
    reference: str | None = None

    @property
    def coded(self) -> tuple[str, ...]:
        """The levels with a coefficient, in order: the values but the reference, then
        "other" when anything was folded."""
        kept = tuple(v for v in self.values if v != self.reference)
        return (*kept, OTHER) if self.folded else kept

    def coefficient_names(self) -> list[str]:
        return [f"{self.column}[{level}]" for level in self.coded]

    def codes(self, column: pa.ChunkedArray | pa.Array, where: str, on_unseen="error"):
        """Each value's code: its coefficient's index, −1 for the reference level.

        Nulls are an error (a missing category is a data error, as a NaN feature is)."""
        if column.null_count:
            raise DataError(f"categorical column '{self.column}' has nulls in {where}")
        table = {level: k for k, level in enumerate(self.coded) if level != OTHER}
        other = len(self.coded) - 1 if self.folded else -1
        lookup = {**dict.fromkeys(self.folded, other), **table}
        if self.reference is not None:
            lookup[self.reference] = -1
        unseen = other if on_unseen == "other" else _UNSEEN
        pieces = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        # each distinct value is looked up once: Arrow's hash encoding finds them
        found = []
        for piece in pieces:
            encoded = piece if pa.types.is_dictionary(piece.type) else pc.dictionary_encode(piece)
            values = as_text(encoded.dictionary).to_pylist()
            mapped = np.array([lookup.get(v, unseen) for v in values], dtype=np.intp)
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            found.append(mapped[indices] if values else np.zeros(0, dtype=np.intp))
            missing = found[-1] == _UNSEEN
            if np.any(missing):  # a value the rows use (a dictionary may hold others)
                value = values[int(indices[missing][0])]
                raise DataError(
                    f"categorical column '{self.column}' holds {value!r} in "
                    f"{where}, a level the model has not seen (its levels: "
                    f"{list(self.values)[:10]}{' …' if len(self.values) > 10 else ''}); "
                    "on_unseen='other' maps it to the 'other' level"
                )
        return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


def read_column(fs, path: str, column: str, role: str, drop_nulls: bool = False):
    """One column of one file (the label's or a categorical one's, as ``role`` says, for
    the errors); nulls are an error naming the file, or dropped with ``drop_nulls``."""
    try:
        with pq.ParquetFile(path, filesystem=fs) as parquet:
            values = parquet.read(columns=[column]).column(column)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {role} column '{column}' of {path}: {exc}") from None
    if values.null_count and drop_nulls:
        return values.drop_null()
    if values.null_count:
        raise DataError(
            f"{role} column '{column}' has {values.null_count} null values in file {path}"
        )
    return values


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A column's values as Arrow's text, the one form levels are kept in (dictionary,
    integer and bool columns alike: ``true``, ``7``)."""
    if pa.types.is_dictionary(column.type):
        column = pc.dictionary_decode(column)
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def count_values(fs, path: str, column: str, drop_nulls: bool = False) -> Counter:
    """How often each value (as text) occurs in ``column`` of one file; nulls are an
    error, or not counted with ``drop_nulls`` (``on_invalid="drop"`` leaves their rows out)."""
    values = read_column(fs, path, column, "categorical", drop_nulls)
    found: Counter = Counter()
    for entry in pc.value_counts(as_text(values)).to_pylist():
        found[entry["values"]] += entry["counts"]
    return found


def levels_from_counts(
    column: str, counts: Counter, min_frequency: int, max_levels: int | None, reference=FIRST
) -> Levels:
    """The frozen levels from each value's count (see the module docstring)."""
    if not counts:
        raise DataError(f"categorical column '{column}' has no values")
    ordered = sorted(counts)
    kept = [v for v in ordered if counts[v] >= min_frequency]
    if max_levels is not None and len(kept) + 1 > max_levels:  # "other" counts as one
        # the least frequent go first, ties in sorted order: scikit-learn's rule
        by_count = sorted(range(len(ordered)), key=lambda k: counts[ordered[k]])
        frequent = set(by_count[len(ordered) - (max_levels - 1) :]) if max_levels > 1 else set()
        kept = [v for k, v in enumerate(ordered) if k in frequent and v in set(kept)]
    folded = tuple(v for v in ordered if v not in set(kept))
    if reference is FIRST:
        chosen = kept[0] if kept else None
    elif reference is None:
        chosen = None
    else:
        chosen = str(reference)
        if chosen not in kept:
            raise DataError(
                f"reference level {chosen!r} of categorical column '{column}' is not one of "
                f"its kept levels {kept[:10]}"
            )
    return Levels(column, tuple(kept), folded, chosen)
