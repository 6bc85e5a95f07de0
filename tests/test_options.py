"""The options of a fit, declared once (``dasklr.options``): the estimators, the driver and
the config keys are all views of ``FitOptions``."""

import inspect
from dataclasses import fields

import pytest

import dasklr
from dasklr.cli.config import KEYS, fit_params, validate
from dasklr.errors import ConfigError
from dasklr.options import NOT_FOR_GRID, FitOptions


def test_estimator_parameters_are_the_options_with_their_defaults():
    defaults = {f.name: f.default for f in fields(FitOptions)}
    signature = inspect.signature(dasklr.LogisticRegression.__init__).parameters
    own = {"self", "warm_start", "client", "verbose"}
    assert set(signature) - own == set(defaults)
    for name, default in defaults.items():
        assert signature[name].default == default, name
    cv = inspect.signature(dasklr.LogisticRegressionCV.__init__).parameters
    grid_own = {"self", "alphas", "cv", "scoring", "seed", "client", "verbose"}
    assert set(cv) - grid_own == set(defaults) - set(NOT_FOR_GRID)
    for name in set(cv) - grid_own:
        assert cv[name].default == defaults[name], name


def test_every_option_is_a_config_key_with_the_same_default():
    by_path = {key.path: key for key in KEYS}
    for f in fields(FitOptions):
        key = by_path[f.metadata["config"]]
        assert key.default == f.default, f.name
    config = validate({"data": {"path": "x", "label": "y"}, "output": {"path": "m"}})
    assert fit_params(config) == {f.name: f.default for f in fields(FitOptions)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": -1.0}, "alpha must be a number >= 0, got -1.0"),
        ({"tol": float("nan")}, "tol must be a number > 0"),
        ({"max_iter": True}, "max_iter must be an integer >= 0"),
        ({"solver": "sag"}, "solver must be one of"),
        ({"cache": "ssd"}, "cache must be one of"),
        ({"class_weight": {1: float("inf")}}, "class_weight must be None"),
        ({"validation_fraction": 0.0}, r"validation_fraction must be in \(0, 1\)"),
    ],
)
def test_a_bad_option_is_refused_with_its_name(params, message):
    with pytest.raises(ConfigError, match=message):
        FitOptions(**params)
    with pytest.raises(ConfigError, match=message):
        dasklr.LogisticRegression(**params).fit_options()


def test_the_same_check_serves_the_config():
    raw = {"data": {"path": "x", "label": "y"}, "output": {"path": "m"}, "model": {"tol": -1}}
    with pytest.raises(ConfigError, match=r"key 'model.tol' must be a number > 0, got -1"):
        validate(raw, "c.toml")
