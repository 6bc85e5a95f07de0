"""The ``dasklr`` command: train from a TOML config, or run the quickstart.

A thin shell: parse arguments, validate the config, call the library, and turn every
``DasklrError`` into one line on stderr and a non-zero exit code (see ``errors.py``).
"""

import argparse
import sys
import warnings
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from dasklr import __version__
from dasklr.config import load_config
from dasklr.errors import ClusterError, ConfigError, DasklrError
from dasklr.estimator import LogisticRegression
from dasklr.parquet import read_parquet


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    plain_format = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return args.command(args)
    except (DasklrError, NotImplementedError, FileExistsError) as exc:
        print(f"dasklr: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print("dasklr: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = plain_format


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"dasklr: warning: {message}\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dasklr",
        description="Train logistic regression on Parquet data with Dask.",
        epilog="Exit codes: 0 ok, 2 config error, 3 data error, 4 cluster error, "
        "5 model file error, 1 other.",
    )
    parser.add_argument("--version", action="version", version=f"dasklr {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

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
    train.add_argument("--quiet", action="store_true", help="no per-iteration lines")
    train.set_defaults(command=train_command)

    quick = commands.add_parser(
        "quickstart",
        help="generate a synthetic dataset and train on it",
        description=quickstart_command.__doc__,
    )
    quick.add_argument("--dir", default="dasklr-quickstart", help="folder for data and model")
    quick.add_argument("--rows", type=int, default=200_000, help="rows to generate")
    quick.add_argument("--features", type=int, default=16, help="features to generate")
    quick.set_defaults(command=quickstart_command)
    return parser


def train_command(args: argparse.Namespace) -> int:
    """Validate the config, read the Parquet footers, train, and write the model atomically."""
    config = load_config(args.config, args.overrides)
    output = Path(config["output"]["path"])
    overwrite = args.overwrite or config["output"]["overwrite"]
    if output.exists() and not overwrite:
        raise ConfigError(
            f"{args.config}: output.path {output} already exists; "
            "set output.overwrite = true or pass --overwrite"
        )
    data = read_parquet(
        config["data"]["path"],
        label=config["data"]["label"],
        features=config["data"]["features"],
        weight=config["data"]["weight"],
        classes=config["data"]["classes"],
        dtype=config["data"]["dtype"],
    )
    n_rows = data.X.shape[0]
    print(
        f"data: {len(data.files)} files, {n_rows} rows, {len(data.feature_names)} features, "
        f"{len(data.classes)} classes, {data.X.numblocks[0]} chunks",
        flush=True,
    )
    scheduler = config["cluster"]["scheduler"]
    model = LogisticRegression(**config["model"], client=scheduler, verbose=not args.quiet)
    try:
        model.fit(data)
    except ClusterError as exc:
        if scheduler is None:
            raise
        raise ClusterError(f"{exc} (cluster.scheduler in {args.config})") from None
    model.save(output, overwrite=overwrite)
    last = model.history_[-1]
    status = "converged" if model.converged_ else "NOT converged"
    print(
        f"{status} after {model.n_iter_} iterations, {model.n_passes_} passes, "
        f"{last['seconds']:.1f} s; objective {last['objective']:.10g}; model written to {output}"
    )
    return 0


def quickstart_command(args: argparse.Namespace) -> int:
    """Write a synthetic Parquet dataset under --dir, then train on it (quickstart config)."""
    from dasklr.synthetic import make_parquet_dataset

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
        argparse.Namespace(config=config, overrides=overrides, overwrite=True, quiet=False)
    )


def quickstart_config() -> Path:
    """``configs/quickstart.toml``: packaged in the wheel, or beside the source tree."""
    packaged = files("dasklr") / "_configs" / "quickstart.toml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "configs" / "quickstart.toml"


def _toml_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    sys.exit(main())
