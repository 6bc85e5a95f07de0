"""The ``dasklr`` command: train from a TOML config, predict, evaluate, inspect a model,
check a config, or run the quickstart.

A thin shell: parse arguments, validate the config, call the library, and turn every
``DasklrError`` into one line on stderr and a non-zero exit code (see ``errors.py``).
"""

import argparse
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from importlib.resources import files
from pathlib import Path

from dasklr import __version__
from dasklr.artifacts import local_path, output_problem
from dasklr.cli.config import categorical_options, fit_params, load_config
from dasklr.cli.report import check_report_possible, selection_sentence, write_report
from dasklr.data.levels import ON_UNSEEN
from dasklr.data.parquet import read_parquet
from dasklr.errors import (
    ClusterError,
    ConfigError,
    DasklrError,
    NotConvergedError,
    OutputExistsError,
)
from dasklr.estimators.estimator import LogisticRegression, data_manifest, load_model
from dasklr.estimators.inputs import input_columns
from dasklr.estimators.model_selection import LogisticRegressionCV
from dasklr.estimators.onnx_export import DTYPES, check_onnx_available, export_onnx
from dasklr.estimators.persistence import MARKER as MODEL_MARKER
from dasklr.estimators.persistence import read_metadata, save_model
from dasklr.estimators.scoring import INVALID_ROWS, evaluate_model, predict_to_parquet
from dasklr.fit.checkpoint import (
    Checkpoint,
    CheckpointPlan,
    check_identity,
    checkpoint_exists,
    read_checkpoint,
    remove_checkpoint,
)
from dasklr.options import NOT_FOR_GRID
from dasklr.passes.cluster import secure_client
from dasklr.passes.progress import PassProgress
from dasklr.remote import exists as artifact_exists
from dasklr.remote import is_url, location, remote_problem

#: Environment variable with the scheduler address, when neither config nor flag gives one.
SCHEDULER_VARIABLE = "DASKLR_SCHEDULER"
#: predict's and evaluate's choice for a categorical value the model has not seen
ON_UNSEEN_FLAG = ("--on-unseen",)
ON_UNSEEN_HELP = {
    "choices": ON_UNSEEN,
    "default": "error",
    "help": "a categorical value the model has not seen: fail naming it (error), or score "
    "it as the level 'other' (the reference level where nothing was folded)",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error it expects is one line on stderr and an exit code
    (with ``--debug``: Dask's log messages and the traceback too)."""
    parser = _parser()
    args = parser.parse_args(argv)
    plain_format = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    dask_levels = {} if args.debug else _silence_dask_logs()
    try:
        return args.command(args)
    except BrokenPipeError:  # `dasklr info --json | head`: the reader has what it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (DasklrError, NotImplementedError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"dasklr: error: {exc}", file=sys.stderr)
        if isinstance(exc, FileExistsError) and not isinstance(exc, DasklrError):
            return OutputExistsError.exit_code
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print("dasklr: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        warnings.formatwarning = plain_format
        for logger, level in dask_levels.items():
            logger.setLevel(level)


def _silence_dask_logs() -> dict[logging.Logger, int]:
    """Quiet Dask's own log lines (e.g. the client's reconnect attempts after a scheduler
    died), which dasklr's errors say in one line; returns the levels to put back."""
    names = [
        "distributed",
        *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
    ]
    levels = {}
    for name in names:
        logger = logging.getLogger(name)
        levels[logger] = logger.level
        logger.setLevel(logging.CRITICAL)
    return levels


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"dasklr: warning: {message}\n"


#: Exit codes besides those of dasklr's errors (``exit_code``: 2 config, 3 data,
#: 4 cluster, 5 model file, 6 storage, 7 output exists, 8 not converged).
USAGE, INTERRUPTED = 64, 130


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on exit code 64 (sysexits' EX_USAGE), so that they
    are not taken for a config error (2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dasklr",
        description="Train logistic regression on Parquet data with Dask.",
        epilog="Exit codes: 0 ok, 1 other, 2 config error, 3 data error, 4 cluster error, "
        "5 model file error, 6 storage full or refused, 7 output exists, 8 not converged "
        "(train --fail-on-nonconvergence), 64 usage, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"dasklr {__version__}")

    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_train(commands)
    _add_predict(commands)
    _add_evaluate(commands)
    _add_info(commands)
    _add_export(commands)
    _add_config(commands)
    _add_quickstart(commands)
    _add_debug(parser)
    return parser


def _add_debug(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """``--debug`` on the command and on every subcommand, before or after its name."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show Dask's log messages and the traceback of an error",
    )
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for sub in getattr(action, "choices", {}).values():
            _add_debug(sub, top=False)


def _add_train(commands) -> None:
    """The ``train`` command and its arguments."""
    train = commands.add_parser(
        "train", help="train a model from a TOML config", description=train_command.__doc__
    )
    train.add_argument("config", help="path of the TOML config (see configs/)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.alpha=0.01 (repeatable)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing model")
    train.add_argument(
        "--init-model", help="start from this model directory (overrides model.init_model)"
    )
    train.add_argument("--report", metavar="DIR", help="write plots and index.html to DIR")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint (output.checkpoint_every), if there is one",
    )
    train.add_argument("--quiet", action="store_true", help="no per-iteration lines")
    train.add_argument(
        "--fail-on-nonconvergence",
        action="store_true",
        help="exit with code 8, writing no model, when the fit stops before tol "
        "(output.fail_on_nonconvergence)",
    )
    _scheduler_flag(train)
    train.set_defaults(command=train_command)


def _add_predict(commands) -> None:
    """The ``predict`` command and its arguments."""
    predict = commands.add_parser(
        "predict", help="score a Parquet dataset into Parquet", description=predict_command.__doc__
    )
    predict.add_argument("model", help="model directory written by train")
    predict.add_argument("data", help="Parquet file, folder, glob or URL to score")
    predict.add_argument("--output", required=True, help="folder for the predictions")
    predict.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COLUMN",
        help="column to copy into the predictions, e.g. a row key (repeatable)",
    )
    predict.add_argument("--overwrite", action="store_true", help="replace an existing output")
    predict.add_argument("--quiet", action="store_true", help="no progress line")
    predict.add_argument(
        "--on-invalid",
        choices=INVALID_ROWS,
        default="error",
        help="a row with a null, NaN or ±inf feature: fail naming it (error), leave it out "
        "(drop), or write it with null probabilities (null)",
    )
    predict.add_argument(*ON_UNSEEN_FLAG, **ON_UNSEEN_HELP)
    predict.add_argument(
        "--std",
        action="store_true",
        help="binary models with standard errors: add logit_se (the log-odds' standard "
        "error) and proba_<class>_low/_high (the probability's confidence bounds)",
    )
    predict.add_argument(
        "--level",
        type=float,
        default=0.95,
        help="confidence level of the --std bounds (default 0.95)",
    )
    predict.add_argument(
        "--part-rows",
        type=_positive_int,
        metavar="N",
        help="at most N rows per part file (default: parts sized to the workers' memory)",
    )
    predict.add_argument(
        "--config",
        help="a training config: its predict.keep, cluster.scheduler and TLS files apply",
    )
    _scheduler_flag(predict)
    predict.set_defaults(command=predict_command)


def _positive_int(text: str) -> int:
    """An argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}")
    return value


def _add_evaluate(commands) -> None:
    """The ``evaluate`` command and its arguments."""
    evaluate = commands.add_parser(
        "evaluate", help="metrics of a model on labelled data", description=evaluate_command.__doc__
    )
    evaluate.add_argument("model", help="model directory written by train")
    evaluate.add_argument("data", help="labelled Parquet file, folder, glob or URL")
    evaluate.add_argument("--label", help="label column (default: the training one)")
    evaluate.add_argument("--weight", help="weight column (default: the training one, if any)")
    evaluate.add_argument("--threshold", type=float, default=0.5, help="binary: P(class 1) cut")
    evaluate.add_argument(*ON_UNSEEN_FLAG, **ON_UNSEEN_HELP)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--curves", action="store_true", help="with --json: include the ROC curves' points"
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress line")
    evaluate.add_argument("--report", metavar="DIR", help="write plots and index.html to DIR")
    evaluate.add_argument(
        "--config", help="a training config: its cluster.scheduler and TLS files apply"
    )
    _scheduler_flag(evaluate)
    evaluate.set_defaults(command=evaluate_command)


def _add_info(commands) -> None:
    """The ``info`` command and its arguments."""
    info = commands.add_parser(
        "info", help="what a model file holds", description=info_command.__doc__
    )
    info.add_argument("model", help="model directory written by train")
    info.add_argument("--json", action="store_true", help="print the whole metadata as JSON")
    info.set_defaults(command=info_command)


def _add_export(commands) -> None:
    """The ``export`` command and its arguments."""
    export = commands.add_parser(
        "export",
        help="write a model in another format (ONNX)",
        description=export_command.__doc__,
    )
    export.add_argument("model", help="model directory written by train")
    export.add_argument("--format", choices=["onnx"], default="onnx", help="the format")
    export.add_argument(
        "--output", help="the file to write (default: MODEL.onnx, beside the model folder)"
    )
    export.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float64",
        help="the graph's input and probability type (float64 matches predict_proba)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.set_defaults(command=export_command)


def _add_config(commands) -> None:
    """The ``config`` command and its arguments."""
    config = commands.add_parser("config", help="check a config file")
    config_commands = config.add_subparsers(title="config commands", required=True)
    check = config_commands.add_parser(
        "check", help="validate a config file", description=check_command.__doc__
    )
    check.add_argument("config", help="path of the TOML config")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    check.set_defaults(command=check_command)


def _add_quickstart(commands) -> None:
    """The ``quickstart`` command and its arguments."""
    quick = commands.add_parser(
        "quickstart",
        help="generate a synthetic dataset and train on it",
        description=quickstart_command.__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    quick.add_argument("--dir", default="dasklr-quickstart", help="folder for data and model")
    quick.add_argument("--rows", type=int, default=200_000, help="rows to generate")
    quick.add_argument("--features", type=int, default=16, help="features to generate")
    _scheduler_flag(quick)
    quick.set_defaults(command=quickstart_command)


def train_command(args: argparse.Namespace) -> int:
    """Validate the config, read the Parquet footers, train, and write the model atomically."""
    config = load_config(args.config, args.overrides)
    _check_outputs(config, args.config)
    output = location(config["output"]["path"])
    overwrite = args.overwrite or config["output"]["overwrite"]
    if artifact_exists(output, MODEL_MARKER) and not overwrite:
        raise OutputExistsError(
            f"{args.config}: output.path {config['output']['path']} already exists; "
            "set output.overwrite = true or pass --overwrite"
        )
    if getattr(args, "report", None):
        check_report_possible(args.report)
    init_model = getattr(args, "init_model", None) or config["model"]["init_model"]
    if init_model is not None and not _is_model(init_model):
        raise ConfigError(f"{args.config}: model.init_model {init_model} is not a model folder")
    data = read_parquet(
        config["data"]["path"],
        label=config["data"]["label"],
        features=_with_offset(config["data"]["features"], config["data"]["offset"]),
        weight=config["data"]["weight"],
        classes=config["data"]["classes"],
        dtype=config["data"]["dtype"],
        on_invalid=config["data"]["on_invalid"],
        exclude=config["data"]["exclude"] or (),
        **categorical_options(config["data"], config["model"]["formula"]),
    )
    n_rows = data.X.shape[0]
    print(
        f"data: {len(data.files)} files, {n_rows} rows, {len(data.feature_names)} features, "
        f"{len(data.classes)} classes, {data.X.numblocks[0]} chunks",
        flush=True,
    )
    print(f"features: {', '.join(data.feature_names)}", flush=True)
    # the validation data's footers now, not after the fit: a wrong path costs nothing
    validation = _validation_data(config, data) if config["data"]["validation"] else None
    with ExitStack() as stack:
        return _train(args, config, (data, validation), overwrite, stack)


def _check_outputs(config, source) -> None:
    """Refuse, before any pass, an output.path or checkpoint path that cannot be written."""
    data = config["data"]
    paths = data["path"] if isinstance(data["path"], list) else [data["path"]]
    inputs = [*paths, *([data["validation"]] if data["validation"] else [])]
    output = config["output"]
    targets = {"output.path": output["path"]}
    if output["checkpoint_every"]:
        targets["output.checkpoint_path"] = (
            output["checkpoint_path"] or f"{output['path']}.checkpoint"
        )
    for key, target in targets.items():
        try:
            place = location(target)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {key} {exc}") from None
        if isinstance(place, Path):
            problem = output_problem(place, [str(p) for p in inputs])
        else:
            problem = remote_problem(place)
        if problem:
            raise ConfigError(f"{source}: {key} {target} cannot be written: {problem}")


def _with_offset(features: list[str] | None, offset: str | None) -> list[str] | None:
    """The configured features, with data.offset among them (it is read as one)."""
    if features is None or offset is None or offset in features:
        return features
    return [*features, offset]


def _is_model(path: str) -> bool:
    """Whether ``path`` (a folder or URL) holds a saved model, checked before any pass."""
    try:
        place = location(path)
    except ConfigError:
        return False
    return artifact_exists(place, MODEL_MARKER) if not isinstance(place, Path) else place.is_dir()


def _train(args, config, datasets, overwrite: bool, stack: ExitStack) -> int:
    data, validation = datasets
    address = (
        getattr(args, "scheduler", None)
        or config["cluster"]["scheduler"]
        or os.environ.get(SCHEDULER_VARIABLE)
    )
    try:
        scheduler = _client(address, config, stack)
    except ClusterError as exc:
        raise ClusterError(f"{exc} (cluster.scheduler, cluster.tls_* in {args.config})") from None
    model, fit_options = _estimator(args, config, datasets, scheduler)
    alphas = config["model"]["alphas"]
    plan, resume = (None, None) if alphas else _checkpoints(args, config, data)
    try:
        if alphas:
            model.fit(data, **fit_options)
            print(_selection_line(model.selection_, model.n_passes_), flush=True)
        else:
            model.fit(data, checkpoint=plan, resume=resume)
        _store_summary(model, config["inference"])
        if config["output"]["metrics"]:
            scored = data if validation is None else validation
            model.metrics_ = _training_metrics(scored, validation, model, scheduler)
    except ClusterError as exc:
        if address is None:
            raise
        if getattr(args, "scheduler", None):
            raise ClusterError(f"{exc} (from --scheduler)") from None
        if config["cluster"]["scheduler"]:
            raise ClusterError(f"{exc} (cluster.scheduler in {args.config})") from None
        raise ClusterError(f"{exc} (the address is ${SCHEDULER_VARIABLE})") from None
    fail = getattr(args, "fail_on_nonconvergence", False)
    if not model.converged_ and (fail or config["output"]["fail_on_nonconvergence"]):
        kept = f"; the checkpoint {plan.path} stays" if plan is not None else ""
        raise NotConvergedError(
            f"the fit stopped before tol after {model.n_iter_} iterations "
            f"({model.message_ or 'max_iter reached'}): no model written to "
            f"{config['output']['path']}{kept}"
        )
    written = save_model(model, config["output"]["path"], overwrite=overwrite)
    if getattr(args, "report", None):
        page = write_report(args.report, model, getattr(model, "metrics_", None), f"{written}")
        print(f"report: {page}")
    if plan is not None:  # the model is safe: its checkpoint is no longer needed
        remove_checkpoint(plan.path)
    dropped = (model.training_data_ or {}).get("rows_dropped")
    if dropped:
        print(f"left out {dropped} rows with invalid values (data.on_invalid = 'drop')")
    last = model.history_[-1]
    status = "converged" if model.converged_ else "NOT converged"
    print(
        f"{status} after {model.n_iter_} iterations, {model.n_passes_} passes, "
        f"{last['seconds']:.1f} s; objective {last['objective']:.10g}; model written to {written}"
    )
    return 0


def _estimator(args, config, datasets, scheduler) -> tuple[LogisticRegression, dict]:
    """The estimator the config describes, and the options of its ``fit``: a grid
    (``LogisticRegressionCV``), a warm start from a model file, or a plain fit."""
    _, validation = datasets
    params = {**fit_params(config), "client": scheduler, "verbose": not args.quiet}
    model_keys = config["model"]
    init_model = getattr(args, "init_model", None) or model_keys["init_model"]
    if model_keys["alphas"]:  # every alpha (and fold) in the same passes, the best kept
        if init_model or getattr(args, "resume", False):
            raise ConfigError(
                f"{args.config}: model.alphas does not go with a warm start or --resume "
                "(the grid is fitted in a few passes; rerun it instead)"
            )
        params = {name: value for name, value in params.items() if name not in NOT_FOR_GRID}
        folds = model_keys["cv_folds"]
        model: LogisticRegression = LogisticRegressionCV(
            alphas=model_keys["alphas"], cv=folds or 5, scoring=model_keys["cv_scoring"], **params
        )
        return model, {"validation": validation} if folds == 0 else {}
    if init_model is not None:  # yesterday's coefficients as the starting point
        model = load_model(init_model)
        model.set_params(**params, warm_start=True)
        print(f"starting from {init_model}", flush=True)
        return model, {}
    return LogisticRegression(**params), {}


def _client(address: str | None, config, stack: ExitStack):
    """The address itself, or with the config's TLS files a client that uses them."""
    cluster = config["cluster"]
    tls = (cluster["tls_ca_file"], cluster["tls_cert"], cluster["tls_key"])
    if address is None or not any(tls):
        return address
    if not all(tls):
        raise ConfigError("TLS needs all of cluster.tls_ca_file, cluster.tls_cert, cluster.tls_key")
    return stack.enter_context(secure_client(address, *tls))


def _checkpoints(args, config, data) -> tuple[CheckpointPlan | None, Checkpoint | None]:
    """The checkpoint plan from the config, and with --resume the checkpoint to continue."""
    output = config["output"]
    path = output["checkpoint_path"] or f"{output['path']}.checkpoint"
    if not is_url(path):
        path = local_path(path)
    identity = {
        "config": {"data": config["data"], "model": config["model"]},
        "data": data_manifest(data),
    }
    every = output["checkpoint_every"]
    plan = CheckpointPlan(path=path, every=every, identity=identity) if every else None
    if not getattr(args, "resume", False):
        return plan, None
    if not checkpoint_exists(path):
        print(f"no checkpoint at {path}: starting from the beginning", flush=True)
        return plan, None
    resume = read_checkpoint(path)
    check_identity(resume.identity, json.loads(json.dumps(identity)), path)
    print(f"resuming from {path} at iteration {resume.state.iteration}", flush=True)
    return plan, resume


def _validation_data(config, training):
    """data.validation, read with the training data's features, levels and classes."""
    formula = training.formula
    return read_parquet(
        config["data"]["validation"],
        label=training.label,
        features=None if formula else list(training.feature_names[: training.n_numeric]),
        formula=None if formula is None else formula.text,
        levels=training.levels,
        weight=config["data"]["weight"],
        classes=training.classes,
        dtype=config["data"]["dtype"],
    )


def _selection_line(selection: dict, passes: int) -> str:
    return f"{selection_sentence(selection)[:-1]}; the grid took {passes} passes"


def _store_summary(model, inference: dict) -> None:
    """Compute the summary the config asks for, to be saved with the model; where a model
    has none (multinomial, L1, not converged, not identifiable), say why and go on."""
    if inference["cov_type"] == "none":
        return
    try:
        summary = model.summary(
            cov_type=inference["cov_type"], level=inference["level"], groups=inference["groups"]
        )
    except ValueError as exc:
        print(f"no summary stored: {exc}", flush=True)
        return
    model.summary_ = summary


def without_curves(metrics):
    """The metrics without the ROC curves' points (``roc``), which --json prints only with
    --curves: a few hundred numbers a class, for plots rather than reading."""
    if isinstance(metrics, dict):
        return {k: without_curves(v) for k, v in metrics.items() if k != "roc"}
    if isinstance(metrics, list):
        return [without_curves(v) for v in metrics]
    return metrics


def _training_metrics(data, validation, model, scheduler) -> dict:
    """Metrics on the validation data when configured (``data`` is it then), else on the
    training data."""
    metrics = evaluate_model(model, data, client=scheduler)
    return {"dataset": "training" if validation is None else "validation", **metrics}


def predict_command(args: argparse.Namespace) -> int:
    """Score every row of DATA with MODEL, chunk by chunk on the cluster, and write the
    probabilities (proba_<class>), the predicted class and the --keep columns as Parquet
    part files under --output (renamed into place when complete)."""
    config = load_config(args.config) if args.config else None
    keep = list(args.keep) or (config["predict"]["keep"] if config else [])
    model = load_model(args.model)
    with ExitStack() as stack:
        rows, invalid = predict_to_parquet(
            model,
            args.data,
            args.output,
            keep=keep,
            client=_cluster_of(args, config, stack),
            overwrite=args.overwrite,
            part_rows=args.part_rows,
            on_invalid=args.on_invalid,
            progress=None if args.quiet else PassProgress(label="predict"),
            std_level=args.level if args.std else None,
            on_unseen=args.on_unseen,
        )
    print(f"wrote predictions for {rows} rows to {args.output}")
    if invalid:
        done = "left out" if args.on_invalid == "drop" else "written with null predictions"
        print(f"{invalid} rows with invalid features {done}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """Metrics of MODEL on the labelled DATA, in one pass: log-loss, accuracy, Brier
    score, AUC, precision/recall/F1 and a calibration table (per class for more than two)."""
    if args.report:
        check_report_possible(args.report)
    model = load_model(args.model)
    trained_on = getattr(model, "training_data_", None) or {}
    label = args.label or trained_on.get("label")
    if label is None:
        raise ConfigError("the model does not record its label column; pass --label")
    features, levels = input_columns(model)
    formula = getattr(model, "formula_", None)
    data = read_parquet(
        args.data,
        label=label,
        features=None if formula else features,
        formula=formula,
        levels=levels,
        on_unseen=args.on_unseen,
        weight=args.weight or trained_on.get("weight"),
    )
    config = load_config(args.config) if args.config else None
    with ExitStack() as stack:
        client = _cluster_of(args, config, stack)
        progress = None if args.quiet else PassProgress(label="metrics")
        metrics = evaluate_model(
            model, data, client=client, threshold=args.threshold, progress=progress
        )
    shown = metrics if args.curves else without_curves(metrics)
    print(json.dumps(shown, indent=2) if args.json else format_metrics(metrics))
    if args.report:
        page = write_report(args.report, model, metrics, f"{args.model} on {args.data}")
        print(f"report: {page}", file=sys.stderr if args.json else sys.stdout)
    return 0


def info_command(args: argparse.Namespace) -> int:
    """What MODEL holds: versions, features, classes, parameters, convergence, training
    data and metrics."""
    metadata = read_metadata(args.model)
    if args.json:
        print(json.dumps(metadata, indent=2))
        return 0
    history = metadata["history"]
    data = metadata.get("training_data") or {}
    lines = [
        f"model: {args.model} (format {metadata['format_version']}, "
        f"dasklr {metadata['versions'].get('dasklr')})",
        f"classes: {metadata['classes']}",
        f"features ({metadata['n_features_in']}): {', '.join(metadata['feature_names_in'] or [])}",
        "parameters: " + ", ".join(f"{k}={v!r}" for k, v in metadata["params"].items()),
        f"{'converged' if metadata['converged'] else 'NOT converged'} after "
        f"{metadata['n_iter']} iterations, {metadata['n_passes']} passes; objective "
        f"{history[0]['objective']:.10g} -> {history[-1]['objective']:.10g}",
    ]
    if data:
        lines.append(
            f"trained on {data['rows']} rows in {len(data['files'])} files (label "
            f"'{data['label']}'{', weight ' + repr(data['weight']) if data['weight'] else ''})"
        )
    if metadata.get("selection"):
        lines.append(_selection_line(metadata["selection"], metadata["n_passes"]))
    if metadata.get("summary"):
        lines.append(metadata["summary"]["table"])
    if metadata.get("metrics"):
        lines.append(f"metrics on the {metadata['metrics']['dataset']} data:")
        lines.append(format_metrics(metadata["metrics"]))
    print("\n".join(lines))
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Write MODEL as an ONNX graph (input X: the features in the model's order; outputs
    label and probabilities), to serve it with onnxruntime where there is no Python."""
    check_onnx_available()
    model = load_model(args.model)
    output = args.output or f"{os.fspath(args.model).rstrip('/')}.onnx"
    target = export_onnx(model, output, dtype=args.dtype, overwrite=args.overwrite)
    names = getattr(model, "feature_names_in_", None)
    columns = "" if names is None else ": " + ", ".join(map(str, names))
    print(f"wrote {target} (ONNX; input X, {args.dtype}, {model.n_features_in_} columns{columns})")
    return 0


def check_command(args: argparse.Namespace) -> int:
    """Validate a config file (and --set overrides) without touching data or a cluster."""
    config = load_config(args.config, args.overrides)
    print(f"{args.config}: ok")
    for section, table in config.items():
        for key, value in table.items():
            print(f"  {section}.{key} = {value!r}")
    return 0


def format_metrics(metrics: dict) -> str:
    """The metrics as an aligned text table."""
    lines = [
        f"  log-loss {metrics['log_loss']:.6f}  accuracy {metrics['accuracy']:.6f}  "
        f"Brier {metrics['brier']:.6f}",
        f"  {'class':>12s} {'AUC':>9s} {'±':>8s} {'precision':>9s} {'recall':>8s} {'F1':>8s}",
    ]
    for row in metrics["classes"]:
        cells = [row["auc"], row["auc_error_bound"], row["precision"], row["recall"], row["f1"]]
        shown = ["-" if v is None else f"{v:.6f}" for v in cells]
        lines.append(
            f"  {row['class']!s:>12s} {shown[0]:>9s} {shown[1]:>8s} {shown[2]:>9s} "
            f"{shown[3]:>8s} {shown[4]:>8s}"
        )
    return "\n".join(lines)


def _scheduler_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        help=f"Dask scheduler address (default: ${SCHEDULER_VARIABLE}, else a local cluster)",
    )


def _cluster_of(args: argparse.Namespace, config, stack: ExitStack):
    """--scheduler, else the config's cluster.scheduler (with its TLS files), else
    $DASKLR_SCHEDULER, else None (a local cluster)."""
    from_config = config["cluster"]["scheduler"] if config else None
    address = args.scheduler or from_config or os.environ.get(SCHEDULER_VARIABLE)
    return _client(address, config, stack) if config else address


def quickstart_command(args: argparse.Namespace) -> int:
    """Write a synthetic Parquet dataset under --dir, then train on it (quickstart config)."""
    from dasklr.data.synthetic import make_parquet_dataset

    folder = Path(args.dir)
    data_dir = folder / "data"
    if data_dir.exists() and any(data_dir.iterdir()):
        print(f"using the dataset already in {data_dir}")
    else:
        make_parquet_dataset(data_dir, args.rows, args.features, n_files=4, row_group_rows=16_384)
        print(f"wrote {args.rows} rows × {args.features} features to {data_dir}")
    config = quickstart_config()
    print(f"training with {config}")
    overrides = [
        f"data.path={_toml_string(data_dir)}",
        f"output.path={_toml_string(folder / 'model')}",
        "output.overwrite=true",
    ]
    return train_command(
        argparse.Namespace(
            config=config,
            overrides=overrides,
            overwrite=True,
            quiet=False,
            scheduler=args.scheduler,
        )
    )


def quickstart_config() -> Path:
    """``configs/quickstart.toml``: packaged in the wheel, or beside the source tree."""
    packaged = files("dasklr") / "_configs" / "quickstart.toml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "configs" / "quickstart.toml"


def _toml_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    sys.exit(main())
