"""A Wilkinson formula ("y ~ x1 + x2 + C(region) + x1:x2") as the columns of a model.

formulaic parses and expands the formula (``a*b`` is ``a + b + a:b``, ``(a+b)**2``,
``- 1``); what dasklr keeps is its structure, small and plain enough for the model file:

- the label (the left-hand side, one column);
- numeric terms: each the product of raw columns (``x1`` alone, ``x1:x2`` an interaction),
  computed per chunk as the reader decodes it (``data.decode.read_chunk``);
- categorical main effects ``C(col)`` or ``C(col, Treatment("level"))``: categorical
  columns with that reference level (``data.levels``);
- whether the intercept stays (``- 1`` / ``0 +`` remove it; then the first categorical
  column keeps every level, as in statsmodels).

So a model rebuilds the same columns from raw Parquet at predict time. Transforms
(``np.log(x)``) and interactions with a categorical column are refused with a clear
error: write the column into the data, or name levels' columns yourself.
"""

import ast
from dataclasses import dataclass

from dasklr.errors import ConfigError


@dataclass(frozen=True)
class ModelFormula:
    """The parsed structure of a formula: what the reader reads and derives."""

    text: str
    label: str
    #: each numeric term: the raw columns whose product it is
    terms: tuple[tuple[str, ...], ...]
    #: each categorical column and its reference level (None: first; see ``references``)
    categorical: tuple[tuple[str, str | None], ...]
    intercept: bool = True

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(":".join(term) for term in self.terms)

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw numeric columns the terms read, each once, in order."""
        return tuple(dict.fromkeys(name for term in self.terms for name in term))

    def references(self) -> dict:
        """``read_parquet``'s ``reference`` for the categorical columns: the named level,
        else the first; without an intercept the first column keeps every level."""
        chosen: dict = {column: level for column, level in self.categorical if level is not None}
        if not self.intercept and self.categorical:
            chosen[self.categorical[0][0]] = None
        return chosen


def parse_formula(text: str) -> ModelFormula:
    """The structure of ``text``; a ``ConfigError`` names what cannot be used."""
    try:
        from formulaic import Formula
    except ImportError:  # pragma: no cover - an optional dependency
        raise ConfigError("formulas need formulaic: pip install 'dasklr[formula]'") from None
    try:
        parsed = Formula(text)
    except Exception as exc:  # formulaic raises many kinds for a bad formula
        raise ConfigError(f"formula {text!r} cannot be parsed: {exc}") from None
    if not hasattr(parsed, "lhs") or len(list(parsed.lhs)) != 1:
        raise ConfigError(f"formula {text!r} needs one label column left of '~'")
    [left] = list(parsed.lhs)
    if len(left.factors) != 1 or left.factors[0].eval_method.value != "lookup":
        raise ConfigError(f"formula {text!r}: the left of '~' must be one column, got {left}")
    terms: list[tuple[str, ...]] = []
    categorical: list[tuple[str, str | None]] = []
    intercept = False
    for term in parsed.rhs:
        methods = [factor.eval_method.value for factor in term.factors]
        if methods == ["literal"]:
            intercept = True
        elif all(method == "lookup" for method in methods):
            terms.append(tuple(str(factor.expr) for factor in term.factors))
        elif methods == ["python"]:
            categorical.append(_categorical_factor(str(term.factors[0].expr), text))
        else:
            raise ConfigError(
                f"formula {text!r}: term '{term}' is not supported (numeric columns, their "
                "products like x1:x2, and C(column) main effects are); add the column it "
                "needs to the data"
            )
    return ModelFormula(
        text, str(left.factors[0].expr), tuple(terms), tuple(categorical), intercept
    )


def _categorical_factor(expr: str, text: str) -> tuple[str, str | None]:
    """(column, reference level or None) of ``C(column)`` / ``C(column, Treatment("l"))``
    / ``C(column, Treatment(reference="l"))``."""
    refused = ConfigError(
        f"formula {text!r}: '{expr}' is not supported; a transform's column must be in the "
        "data (C(column) and C(column, Treatment('level')) are supported)"
    )
    try:
        call = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise refused from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "C"):
        raise refused
    if call.keywords or not call.args or not isinstance(call.args[0], ast.Name):
        raise refused
    if len(call.args) == 1:
        return call.args[0].id, None
    contrast = call.args[1]
    if len(call.args) != 2 or not isinstance(contrast, ast.Call):
        raise refused
    if not (isinstance(contrast.func, ast.Name) and contrast.func.id == "Treatment"):
        raise refused
    values = [*contrast.args, *(k.value for k in contrast.keywords if k.arg == "reference")]
    if len(values) != 1 or not isinstance(values[0], ast.Constant):
        raise refused
    return call.args[0].id, str(values[0].value)
