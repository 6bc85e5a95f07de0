"""The ask-and-tell protocol between solvers and whoever answers them.

A solver yields a ``Request`` and is sent the ``Evaluation`` back; the objective turns
a request into a kernel's probe and a pass's raw sums into the evaluation.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Request:
    """What a solver asks to have evaluated: F and ∇F at ``params``; ∇²F with
    ``hessian``, diag(∇²F) with ``diagonal``; F at ``params + s·direction`` for each s
    in ``steps``. One request is answered by one pass."""

    params: np.ndarray
    hessian: bool = False
    direction: np.ndarray | None = None
    steps: np.ndarray | tuple = ()
    diagonal: bool = False


@dataclass(frozen=True)
class Totals:
    """What any pass over the training rows knows besides its sums: the rows read (after
    ``on_invalid="drop"``), Σw, and Σw·y (Σw per class for K > 2 classes)."""

    rows: int
    weight: float
    weighted_labels: float | np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """F, ∇F and (when asked) ∇²F at a point, and F at further points along a line."""

    loss: float
    grad: np.ndarray
    hessian: np.ndarray | None = None
    step_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: diag(∇²F), known at the start from the summary pass even without the full Hessian
    hessian_diagonal: np.ndarray | None = None
    #: rows, Σw and Σw·y of the pass (or the summary) this evaluation came from
    totals: Totals | None = field(default=None, compare=False)
    #: with early stopping, the mean log-loss of the held-out rows at this point
    held_out_loss: float | None = field(default=None, compare=False)
