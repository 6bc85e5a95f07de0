"""Checkpoints: where a fit stands, written atomically so that a killed driver can resume.

    model.checkpoint/
      checkpoint.json   format and version, solver, iteration, passes, history, the
                        objective's fixed parts (scaling, class weights), the run's
                        identity (its config and data manifest), and the sha256 of
                        every array file
      params.npy, grad.npy, …   the solver state and its memory (``SolverState.memory``)

Like a model, a checkpoint is written to a temporary directory, fsynced, and swapped
with the previous one in one atomic rename (``dasklr.artifacts``; at an fsspec URL,
uploaded with ``checkpoint.json`` last, ``dasklr.remote``): a driver killed at any
instant leaves the previous or the new checkpoint complete. Resuming restores the
solver's memory exactly, so the resumed fit takes the same steps, bit for bit, as one that
was never interrupted.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dasklr.artifacts import ArtifactReader, metadata_checksum, write_array, write_checked_json
from dasklr.errors import ConfigError, ModelFormatError
from dasklr.fit.objective import Scaling
from dasklr.remote import exists, location, read_artifact, remove, staged_artifact
from dasklr.solvers.state import SolverState

FORMAT = "dasklr-checkpoint"
FORMAT_VERSION = 1
#: SolverState fields stored as numbers in checkpoint.json (params and gradient are arrays).
_STATE_NUMBERS = ("iteration", "objective", "step", "converged", "message")


@dataclass(frozen=True)
class CheckpointPlan:
    """Write a checkpoint to ``path`` every ``every`` iterations; ``identity`` (the config
    and the data manifest) must match for a resume to be accepted."""

    path: Path | str
    every: int
    identity: dict


@dataclass(frozen=True)
class Checkpoint:
    state: SolverState
    passes: int
    history: list[dict]
    solver: str
    scaling: Scaling | None
    class_weight: tuple[float, ...] | None
    identity: dict


#: The file written last, naming every other.
MARKER = "checkpoint.json"


def write_checkpoint(path: Path | str, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to the directory (or fsspec URL) ``path`` atomically,
    replacing the last one."""
    with staged_artifact(location(path), overwrite=True, marker=MARKER) as staging:
        arrays = {
            "params": checkpoint.state.params,
            "gradient": checkpoint.state.gradient,
        }
        numbers = {}
        for name, value in checkpoint.state.memory.items():
            if isinstance(value, np.ndarray):
                arrays[f"memory.{name}"] = value
            else:
                numbers[name] = value
        if checkpoint.scaling is not None:
            arrays["scaling.mean"] = checkpoint.scaling.mean
            arrays["scaling.inverse_scale"] = checkpoint.scaling.inverse_scale
        stored = {
            name: write_array(staging / f"{name}.npy", np.ascontiguousarray(value))
            for name, value in arrays.items()
        }
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "solver": checkpoint.solver,
            "state": {name: getattr(checkpoint.state, name) for name in _STATE_NUMBERS},
            "memory": numbers,
            "passes": checkpoint.passes,
            "history": checkpoint.history,
            "class_weight": checkpoint.class_weight,
            "identity": checkpoint.identity,
            "arrays": stored,
        }
        write_checked_json(staging / MARKER, metadata)


def read_checkpoint(path: Path | str) -> Checkpoint:
    """Read a checkpoint; refuses unknown formats and altered files, naming the file."""
    return read_artifact(path, _read_checkpoint)


def checkpoint_exists(path: Path | str) -> bool:
    """Whether ``path`` holds a checkpoint to resume from."""
    return exists(location(path), MARKER)


def remove_checkpoint(path: Path | str) -> None:
    """Remove a checkpoint that is no longer needed (its model is saved)."""
    remove(location(path))


def _read_checkpoint(snapshot: ArtifactReader) -> Checkpoint:
    meta_path = snapshot.where("checkpoint.json")
    try:
        metadata = snapshot.read_json("checkpoint.json")
    except ModelFormatError as exc:
        raise ModelFormatError(f"{meta_path}: not a readable checkpoint ({exc})") from None
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{meta_path}: not a dasklr checkpoint")
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{meta_path}: not a dasklr checkpoint of version {FORMAT_VERSION}")
    if metadata.get("checksum") != metadata_checksum(metadata):
        raise ModelFormatError(f"{meta_path}: checksum differs; the checkpoint was altered")
    arrays = {name: snapshot.read_array(entry) for name, entry in metadata["arrays"].items()}
    memory: dict[str, Any] = dict(metadata["memory"])
    for name, value in arrays.items():
        if name.startswith("memory."):
            memory[name.removeprefix("memory.")] = value
    state = SolverState(
        params=arrays["params"],
        gradient=arrays["gradient"],
        memory=memory,
        **metadata["state"],
    )
    scaling = None
    if "scaling.mean" in arrays:
        scaling = Scaling(
            mean=arrays["scaling.mean"], inverse_scale=arrays["scaling.inverse_scale"]
        )
    weights = metadata["class_weight"]
    return Checkpoint(
        state=state,
        passes=int(metadata["passes"]),
        history=metadata["history"],
        solver=metadata["solver"],
        scaling=scaling,
        class_weight=None if weights is None else tuple(weights),
        identity=metadata["identity"],
    )


def check_identity(saved: dict, current: dict, where: Path | str) -> None:
    """Refuse to resume a run whose config or data changed, naming the first difference."""
    for section in sorted(set(saved.get("config", {})) | set(current.get("config", {}))):
        before = saved.get("config", {}).get(section, {})
        now = current.get("config", {}).get(section, {})
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                raise ConfigError(
                    f"checkpoint {where} was written with {section}.{key} = "
                    f"{before.get(key)!r}; the config now has {now.get(key)!r}. Remove the "
                    "checkpoint to start afresh"
                )
    before_files = {f["path"]: f for f in saved.get("data", {}).get("files", [])}
    now_files = {f["path"]: f for f in current.get("data", {}).get("files", [])}
    for name in sorted(set(before_files) | set(now_files)):
        old, new = before_files.get(name), now_files.get(name)
        if old != new:
            change = "is new" if old is None else "is gone" if new is None else "changed"
            raise ConfigError(
                f"checkpoint {where}: data file {name} {change} since the checkpoint "
                f"(data.path); the checkpoint is for other data"
            )
