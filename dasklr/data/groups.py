"""Cluster labels of any type as int64 codes: integers as themselves, everything else
by a stable hash, so codes agree across chunks, workers and runs.
"""

import hashlib
import math

import numpy as np

#: Integers (and whole floats) in this range are their own group code.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def group_codes(values) -> np.ndarray:
    """int64 cluster codes for one chunk of labels, equal for equal labels in any chunk
    or process, so clusters split across chunks merge by key.

    Integers map to themselves, booleans to 0/1, whole floats to that integer (a column
    read as float because of missing values keeps its codes). Text (str as UTF-8, bytes
    as they are), other floats and other values (by ``str``, which must not change
    between processes) map to the first 63 bits of their BLAKE2b digest — Python's
    ``hash`` is salted per process. Distinct labels could in principle share a code
    (about n²/2⁶⁴ for n hashed labels), or a hashed label equal an integer label.
    Missing labels (None, NaN, NaT, pandas' NA) raise ValueError: drop or fill them.

    >>> bool(group_codes(["a", "b", "a"])[2] == group_codes(["a"])[0])
    True
    >>> group_codes([3, 4.0, True]).tolist()
    [3, 4, 1]
    """
    if not hasattr(values, "dtype"):  # a list: object keeps [1, "a"] from becoming text
        values = np.array(list(values), dtype=object)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D column of group labels, got shape {values.shape}")
    kind = values.dtype.kind
    if kind in "bi":
        return values.astype(np.int64)
    if kind == "u":
        if values.size and values.max() > _INT64_MAX:
            raise ValueError(f"group label {values.max()} does not fit in int64")
        return values.astype(np.int64)
    if kind == "f":
        return _float_codes(values.astype(np.float64, copy=False))
    if kind in "US":  # fixed-width text: hash each distinct label once
        distinct, where = np.unique(values, return_inverse=True)
        return np.array([_label_code(label) for label in distinct], dtype=np.int64)[where]
    seen: dict = {}
    codes = np.empty(values.size, dtype=np.int64)
    for row, label in enumerate(values):
        key = (type(label), label)  # 1 == 1.0 == True share a hash; keep types apart
        if key not in seen:
            seen[key] = _label_code(label, row)
        codes[row] = seen[key]
    return codes


def _float_codes(values: np.ndarray) -> np.ndarray:
    """Codes of a float column: whole numbers in int64 range as ints, others hashed."""
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        raise ValueError(f"group label nan at row {missing[0]}: drop or fill missing labels")
    whole = (values == np.floor(values)) & (values >= _INT64_MIN) & (values < 2.0**63)
    codes = np.zeros(values.size, dtype=np.int64)
    codes[whole] = values[whole].astype(np.int64)
    for row in np.flatnonzero(~whole):
        codes[row] = _label_code(float(values[row]), row)
    return codes


def _label_code(label, row: int | np.integer | None = None) -> int:
    """One label's code, by the rules of ``group_codes``."""
    where = "" if row is None else f" at row {row}"
    if isinstance(label, bool | np.bool_):
        return int(label)
    if isinstance(label, int | np.integer):
        if not _INT64_MIN <= int(label) <= _INT64_MAX:
            raise ValueError(f"group label {label}{where} does not fit in int64")
        return int(label)
    if isinstance(label, float | np.floating):
        value = float(label)
        if math.isnan(value):
            raise ValueError(f"group label nan{where}: drop or fill missing labels")
        if value.is_integer() and _INT64_MIN <= value < 2.0**63:
            return int(value)
        return _digest_code(b"float\x00" + repr(value).encode())
    if isinstance(label, str):
        return _digest_code(label.encode("utf-8"))
    if isinstance(label, bytes | bytearray | memoryview):
        return _digest_code(bytes(label))
    if label is None or _is_missing(label):
        raise ValueError(f"group label {label!r}{where}: drop or fill missing labels")
    return _digest_code(b"other\x00" + str(label).encode("utf-8"))


def _is_missing(label) -> bool:
    """True for values unequal to themselves (NaT, Decimal NaN) or whose self-comparison
    is ambiguous (pandas' NA), without importing pandas."""
    try:
        return bool(label != label)
    except (TypeError, ValueError):
        return True


def _digest_code(data: bytes) -> int:
    """The first 63 bits of BLAKE2b: non-negative, identical in every process."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
