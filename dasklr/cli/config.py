"""TOML configs for ``dasklr train``: one table of keys, validated before any work.

Every key is declared once in ``KEYS`` (type, default, check, description); the same
table validates configs, applies ``--set`` overrides and writes the README reference.
The keys of the fit's options (``model.*``, ``cluster.retries``, ``cluster.worker_timeout``)
come from ``options.FitOptions``, with its defaults and checks.
Errors name the file, the key path and what was expected.
"""

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dasklr.errors import ConfigError
from dasklr.options import SCORINGS, option_fields

_REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One config key: ``section.name``, accepted type, default, and an optional check."""

    path: str
    kind: str  # "string", "number", "integer", "boolean", "string list", "path or list"
    default: Any
    description: str
    check: Callable[[Any], str | None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def _at_least(low: float, strict: bool = False) -> Callable[[Any], str | None]:
    def check(value):
        ok = (value > low if strict else value >= low) and math.isfinite(value)
        return None if ok else f"must be finite and {'>' if strict else '>='} {low}"

    return check


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"must be between {low} and {high}"


def _one_of(choices: Sequence[str]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {list(choices)}"


def _option_keys(section: str) -> tuple[Key, ...]:
    """The config keys of ``FitOptions``' fields in ``section``."""
    return tuple(
        Key(
            f.metadata["config"],
            f.metadata["kind"],
            f.default,
            f.metadata["doc"],
            f.metadata["check"],
        )
        for f in option_fields()
        if (f.metadata["config"] or "").startswith(section + ".")
    )


KEYS: tuple[Key, ...] = (
    Key(
        "data.path",
        "path or list",
        _REQUIRED,
        "Parquet file, directory, glob or list; fsspec URLs work",
    ),
    Key(
        "data.label",
        "string",
        None,
        "label column (integers, bools or strings): two classes are binary, more "
        "multinomial; required unless model.formula names it",
    ),
    Key(
        "data.classes",
        "label list",
        None,
        "the allowed labels; default: found by reading the label column once",
    ),
    Key(
        "data.features",
        "string list",
        None,
        "feature columns; default: every column numeric in every file but label, weight, "
        "data.exclude and integer keys (id, *_id, …)",
    ),
    Key(
        "data.exclude",
        "string list",
        None,
        "with data.features unset: columns not to take as features (besides integer keys "
        "named id, key, index, *_id or *_key, which are left out anyway)",
    ),
    Key(
        "data.categorical",
        "string list or auto",
        None,
        "columns (strings, dictionaries, bools, integers) that enter the model as one "
        "coefficient per level, named column[level]; 'auto': every string or dictionary "
        "column",
    ),
    Key(
        "data.min_frequency",
        "integer",
        1,
        "levels seen fewer times go to the level 'other'",
        lambda value: None if value >= 1 else "must be at least 1",
    ),
    Key(
        "data.max_levels",
        "integer",
        None,
        "keep at most this many levels per categorical column (the rarest go to 'other')",
        lambda value: None if value >= 2 else "must be at least 2",
    ),
    Key(
        "data.reference",
        "reference levels",
        "first",
        "the level of each categorical column without a coefficient: 'first' (in sorted "
        "order), 'none' (every level has one), or a table column = level",
    ),
    Key("data.weight", "string", None, "column of non-negative sample weights"),
    Key(
        "data.validation",
        "path or list",
        None,
        "Parquet data for the metrics stored with the model; default: the training data",
    ),
    Key(
        "data.on_invalid",
        "string",
        "error",
        "rows with null/NaN/inf values or negative weights: error, or drop (and count them)",
        _one_of(("error", "drop")),
    ),
    Key(
        "data.dtype",
        "string",
        "float64",
        "float64 or float32 for the features (sums are float64 either way)",
        _one_of(("float64", "float32")),
    ),
    *_option_keys("data"),
    *_option_keys("model"),
    Key(
        "model.alphas",
        "number list",
        None,
        "a grid of penalties: all fitted in the same passes, the best kept (model.alpha "
        "is then unused); chosen by cv_folds-fold cross-validation or on data.validation",
        lambda value: (
            None
            if value and all(0 <= v < math.inf for v in value) and len(set(value)) == len(value)
            else "must be distinct finite numbers >= 0, at least one"
        ),
    ),
    Key(
        "model.formula",
        "string",
        None,
        "a Wilkinson formula, e.g. 'y ~ x1 + x2 + C(region) + x1:x2', instead of "
        "data.label, data.features and data.categorical (the formula extra)",
    ),
    Key(
        "model.cv_folds",
        "integer",
        5,
        "folds for model.alphas (by a hash of the row index); 0: score on data.validation",
        lambda value: None if value == 0 or value >= 2 else "must be 0 or at least 2",
    ),
    Key(
        "model.cv_scoring",
        "string",
        "log_loss",
        "how model.alphas are compared: log_loss (lower wins) or roc_auc (binary)",
        _one_of(SCORINGS),
    ),
    Key(
        "model.init_model",
        "string",
        None,
        "model directory to start from (warm start, e.g. yesterday's model); same features",
    ),
    Key(
        "predict.keep",
        "string list",
        [],
        "columns `dasklr predict --config` copies into the predictions (e.g. row keys)",
    ),
    Key(
        "cluster.scheduler",
        "string",
        None,
        "scheduler address, e.g. tcp://host:8786; default: a local cluster",
    ),
    Key("cluster.tls_ca_file", "string", None, "CA certificate (PEM) for a tls:// scheduler"),
    Key("cluster.tls_cert", "string", None, "this client's certificate (PEM) for TLS"),
    Key("cluster.tls_key", "string", None, "this client's private key (PEM) for TLS"),
    *_option_keys("cluster"),
    Key(
        "inference.cov_type",
        "string",
        "nonrobust",
        "standard errors stored with binary models without L1 (`dasklr info` prints them): "
        "nonrobust, HC0 (sandwich), cluster (with inference.groups) or none",
        _one_of(("nonrobust", "HC0", "cluster", "none")),
    ),
    Key("inference.groups", "string", None, "cluster column for inference.cov_type = cluster"),
    Key("inference.level", "number", 0.95, "confidence level of the intervals", _between(0, 1)),
    Key("output.path", "string", _REQUIRED, "directory the model is written to"),
    Key("output.overwrite", "boolean", False, "replace an existing model at output.path"),
    Key(
        "output.fail_on_nonconvergence",
        "boolean",
        False,
        "a fit that stops before tol exits with code 8 and writes no model (the checkpoint stays)",
    ),
    Key(
        "output.checkpoint_every",
        "integer",
        0,
        "write a checkpoint every this many iterations (0: never); see train --resume",
        _at_least(0),
    ),
    Key(
        "output.checkpoint_path",
        "string",
        None,
        "checkpoint directory; default: output.path + '.checkpoint'",
    ),
    Key(
        "output.metrics",
        "boolean",
        True,
        "compute metrics after training (one more pass) and store them in the model",
    ),
)
_BY_PATH = {key.path: key for key in KEYS}
SECTIONS = tuple(dict.fromkeys(key.path.split(".")[0] for key in KEYS))


def load_config(
    path: str | os.PathLike, overrides: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """Read, override (``section.key=value`` strings) and validate a config file.

    Returns ``{section: {key: value}}`` with every default filled in.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a config file") from None
    except (PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    for item in overrides:
        _apply_override(raw, item, source)
    return validate(raw, source)


def validate(raw: dict[str, Any], source: str = "<config>") -> dict[str, dict[str, Any]]:
    """Check every key of a parsed config against ``KEYS``; fill in the defaults."""
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{source}: unknown section [{section}] (known: {', '.join(SECTIONS)})"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: '{section}' must be a table [{section}]")
        for name in table:
            if f"{section}.{name}" not in _BY_PATH:
                raise ConfigError(f"{source}: unknown key '{section}.{name}'{_hint(section, name)}")
    config: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for key in KEYS:
        section, name = key.path.split(".")
        if name in raw.get(section, {}):
            value = _checked(key, raw[section][name], source)
        elif key.required:
            raise ConfigError(f"{source}: missing required key '{key.path}' ({key.description})")
        else:
            value = key.default
        config[section][name] = value
    _check_together(config, source)
    return config


def _check_together(config: dict[str, dict[str, Any]], source: str) -> None:
    """Keys that only make sense with others."""
    model, inference = config["model"], config["inference"]
    data = config["data"]
    if data["label"] is None and model["formula"] is None:
        raise ConfigError(
            f"{source}: missing required key 'data.label' (label column; or name it in "
            "model.formula)"
        )
    named = [key for key in ("features", "categorical") if data[key] is not None]
    if model["formula"] is not None and named:
        raise ConfigError(f"{source}: model.formula names the columns; leave out data.{named[0]}")
    if config["data"]["features"] is not None and config["data"]["exclude"]:
        raise ConfigError(
            f"{source}: data.exclude goes with the default features (data.features unset); "
            "leave the columns out of data.features instead"
        )
    if model["alphas"] and model["cv_folds"] == 0 and config["data"]["validation"] is None:
        raise ConfigError(
            f"{source}: model.cv_folds = 0 scores model.alphas on data.validation, which is not set"
        )
    if model["early_stopping"] and (model["alphas"] or config["output"]["checkpoint_every"]):
        raise ConfigError(
            f"{source}: model.early_stopping does not go with model.alphas or "
            "output.checkpoint_every"
        )
    if model["alphas"] and (model["init_model"] or config["output"]["checkpoint_every"]):
        raise ConfigError(
            f"{source}: model.alphas does not go with a warm start (model.init_model) or "
            "checkpoints (output.checkpoint_every): the grid is fitted in a few passes; "
            "rerun it instead"
        )
    if (inference["cov_type"] == "cluster") != (inference["groups"] is not None):
        raise ConfigError(
            f"{source}: inference.groups goes with inference.cov_type = 'cluster', and only with it"
        )


def _checked(key: Key, value: Any, source: str) -> Any:
    if not _has_kind(value, key.kind):
        raise ConfigError(
            f"{source}: key '{key.path}' must be {_article(key.kind)} {key.kind}, "
            f"got {type(value).__name__} {value!r}"
        )
    if key.kind == "number":
        value = float(value)
    if key.kind == "number list":
        value = [float(v) for v in value]
    if key.kind in ("class weights", "number table") and isinstance(value, dict):
        value = {label: float(weight) for label, weight in value.items()}
    if key.kind == "bounds table":
        value = {name: [float(low), float(high)] for name, (low, high) in value.items()}
    problem = key.check(value) if key.check else None
    if problem:
        raise ConfigError(f"{source}: key '{key.path}' {problem}, got {value!r}")
    return value


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "number list":
        return isinstance(value, list) and all(_has_kind(v, "number") for v in value)
    if kind == "string list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "class weights":
        return value == "balanced" or (
            isinstance(value, dict) and all(_has_kind(v, "number") for v in value.values())
        )
    if kind == "bounds table":
        return isinstance(value, dict) and all(
            isinstance(v, list) and len(v) == 2 and all(_has_kind(x, "number") for x in v)
            for v in value.values()
        )
    if kind == "number table":
        return isinstance(value, dict) and all(_has_kind(v, "number") for v in value.values())
    if kind == "label list":
        return isinstance(value, list) and (
            all(isinstance(v, str) for v in value)
            or all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or all(isinstance(v, bool) for v in value)
        )
    if kind == "string list or auto":
        return value == "auto" or _has_kind(value, "string list")
    if kind == "reference levels":
        return value in ("first", "none") or (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        )
    if kind == "path or list":
        return isinstance(value, str) or _has_kind(value, "string list")
    raise AssertionError(kind)


def _apply_override(raw: dict[str, Any], item: str, source: str) -> None:
    """Apply ``section.key=value``; the value is read as TOML, else taken as a string."""
    path, sep, text = item.partition("=")
    path = path.strip()
    if not sep:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    if path not in _BY_PATH:
        section, _, name = path.rpartition(".")
        raise ConfigError(f"--set {item!r}: unknown key '{path}'{_hint(section, name)}")
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = text
    section, name = path.split(".")
    raw.setdefault(section, {})[name] = value


def _hint(section: str, name: str) -> str:
    """ "; did you mean 'model.alpha'?" for a close key, else the section's keys."""
    keys = [k.path for k in KEYS if k.path.startswith(section + ".")] or list(_BY_PATH)
    close = difflib.get_close_matches(f"{section}.{name}", keys, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (known: {', '.join(keys)})"


def reference_table() -> str:
    """The Markdown table of all keys, as printed in the README."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in KEYS:
        default = "required" if key.required else repr(key.default)
        lines.append(f"| `{key.path}` | {key.kind} | {default} | {key.description} |")
    return "\n".join(lines)


def categorical_options(data: dict[str, Any], formula: str | None = None) -> dict[str, Any]:
    """``read_parquet``'s categorical arguments (and ``formula``, model.formula) from a
    validated config's data section."""
    reference = data["reference"]
    return {
        "formula": formula,
        "categorical": data["categorical"],
        "min_frequency": data["min_frequency"],
        "max_levels": data["max_levels"],
        "reference": None if reference == "none" else reference,
    }


def fit_params(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``FitOptions`` fields (estimator parameters) a validated config sets."""
    params = {}
    for f in option_fields():
        section, name = f.metadata["config"].split(".")
        params[f.name] = config[section][name]
    return params
