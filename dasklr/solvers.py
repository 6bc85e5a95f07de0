"""Solvers: they see ``loss_and_grad(params)`` and yield their states, nothing else.

A solver never touches Dask: the driver hands it a function (each call is one pass over
the data), iterates over the states it yields, and decides what to record or when to stop
early. A solver stops by itself when ``max|∇F| <= tol`` or after ``max_iter`` steps.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

LossAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]

#: Armijo's sufficient-decrease constant: accept t when F(x − t·g) <= F(x) − c·t·‖g‖².
ARMIJO_C = 1e-4
#: Halvings of the step before the line search gives up (2^-60 ≈ 1e-18 of the first trial).
MAX_BACKTRACKS = 60


@dataclass(frozen=True)
class SolverState:
    """Where a solver stands after an iteration (iteration 0 is the starting point)."""

    iteration: int
    params: np.ndarray
    objective: float
    gradient: np.ndarray
    step: float
    converged: bool
    message: str = ""

    @property
    def grad_norm(self) -> float:
        """Max-norm of the gradient, the quantity compared with ``tol``."""
        return max_norm(self.gradient)


def max_norm(vector: np.ndarray) -> float:
    return float(np.max(np.abs(vector))) if vector.size else 0.0


def gradient_descent(
    loss_and_grad: LossAndGrad, x0: np.ndarray, *, tol: float, max_iter: int
) -> Iterator[SolverState]:
    """Gradient descent with a backtracking (Armijo) line search.

    1. Evaluate F and ∇F at the start.
    2. Try the Barzilai–Borwein step ``sᵀs / sᵀΔg`` (from the last two iterates; the
       previous accepted step doubled at first or when the curvature is not positive).
    3. Halve the step until Armijo's condition holds: F(x − t·g) <= F(x) − c·t·‖g‖².
       Each trial is one evaluation, so one pass; the accepted trial's gradient is reused.
    4. Stop when max|g| <= tol, or after ``max_iter`` steps.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = loss_and_grad(x)
    state = SolverState(0, x, f, g, 0.0, converged=max_norm(g) <= tol)
    yield state
    step = 0.5  # the first trial is 2 × step = 1
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for iteration in range(1, max_iter + 1):
        if state.converged:
            return
        trial = _barzilai_borwein(x, g, previous) or 2.0 * step
        gg = float(g @ g)
        for _ in range(MAX_BACKTRACKS):
            x_new = x - trial * g
            f_new, g_new = loss_and_grad(x_new)
            if np.isfinite(f_new) and f_new <= f - ARMIJO_C * trial * gg:
                break
            trial *= 0.5
        else:
            yield SolverState(
                iteration,
                x,
                f,
                g,
                0.0,
                converged=False,
                message="line search found no decrease: tol is below the attainable precision",
            )
            return
        previous = (x, g)
        x, f, g, step = x_new, f_new, g_new, trial
        state = SolverState(iteration, x, f, g, step, converged=max_norm(g) <= tol)
        yield state


def _barzilai_borwein(
    x: np.ndarray, g: np.ndarray, previous: tuple[np.ndarray, np.ndarray] | None
) -> float | None:
    """The BB1 step from the last move, or None when the measured curvature is not positive."""
    if previous is None:
        return None
    s = x - previous[0]
    dg = g - previous[1]
    curvature = float(s @ dg)
    return float(s @ s) / curvature if curvature > 0 else None


#: Solver name (the ``solver`` parameter) → solver function.
SOLVERS = {"gd": gradient_descent}
