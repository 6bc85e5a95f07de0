"""Callbacks the driver calls after each iteration; returning True stops the fit."""

import sys
from typing import TextIO

from dasklr.fit.driver import IterationRecord


class ProgressPrinter:
    """Print one line per iteration: objective, gradient norm, step, passes, seconds."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, record: IterationRecord) -> bool:
        stream = self.stream or sys.stdout
        print(
            f"iter {record.iteration:5d}  objective {record.objective:.10g}  "
            f"max|grad| {record.grad_norm:.3e}  step {record.step:.3g}  "
            f"passes {record.passes:4d}  {record.seconds:7.2f} s",
            file=stream,
            flush=True,
        )
        return False
