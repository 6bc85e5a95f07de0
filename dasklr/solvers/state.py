"""Where a solver stands: its state after each iteration, the L1 part it adds,
and what it remembers to continue from a checkpoint.
"""

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from dasklr.solvers.protocol import Evaluation, Request

#: A solver: yields requests (sent their evaluation) and states (sent None).
Solver = Generator["Request | SolverState", "Evaluation | None", None]
#: Changes of F within this many ulps of F are rounding, not progress.
ROUNDING_ULPS = 8


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
    #: what the solver needs to continue from here (``resume=``): flat names → arrays,
    #: numbers or None, so a checkpoint can store it as plain data
    memory: dict = field(default_factory=dict, repr=False, compare=False)
    #: the evaluation at ``params`` (None for a state restored from a checkpoint)
    evaluation: Evaluation | None = field(default=None, repr=False, compare=False)

    @property
    def grad_norm(self) -> float:
        """Max-norm of the gradient, the quantity compared with ``tol``."""
        return max_norm(self.gradient)


def max_norm(vector: np.ndarray) -> float:
    return float(np.max(np.abs(vector))) if vector.size else 0.0


@dataclass(frozen=True)
class NonSmooth:
    """The separable non-smooth part of the objective: Σ λⱼ·|xⱼ| (λ = 0 for the
    intercept) and the box lowⱼ ≤ xⱼ ≤ highⱼ (coefficient bounds; ±inf where unbounded),
    whose indicator adds 0 inside and +∞ outside. Solvers handle both the same way: the
    one-dimensional problem of a coordinate is soft-thresholded, then clipped."""

    strength: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def value(self, params: np.ndarray) -> float:
        return float(self.strength @ np.abs(params))

    def change(self, params: np.ndarray, move: np.ndarray) -> float:
        """value(params + move) − value(params), term by term: no cancellation of totals."""
        return float(self.strength @ (np.abs(params + move) - np.abs(params)))

    def optimality(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The minimum-norm element of ∂(smooth + non-smooth): zero exactly at the optimum.

        The subdifferential of coordinate j is the interval [lo, hi]: g + λ·sign(x) where
        x ≠ 0, [g − λ, g + λ] where x = 0; at a lower bound it extends to −∞, at an upper
        bound to +∞ (the normal cone of the box). Its element nearest 0 is returned.
        """
        lo = grad + self.strength * np.where(params == 0, -1.0, np.sign(params))
        hi = grad + self.strength * np.where(params == 0, 1.0, np.sign(params))
        if self.bounded:
            lo = np.where(params <= self.low, -np.inf, lo)
            hi = np.where(params >= self.high, np.inf, hi)
        return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))

    def project(self, params: np.ndarray) -> np.ndarray:
        """The nearest point of the box (``params`` itself without bounds)."""
        return np.clip(params, self.low, self.high) if self.bounded else params

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def active(self) -> bool:
        return bool(np.any(self.strength > 0)) or self.bounded


def no_penalty(n_params: int) -> NonSmooth:
    return NonSmooth(np.zeros(n_params))


NO_DECREASE = "line search found no decrease: tol is below the attainable precision"
STALLED = "the objective stopped decreasing (rounding level): tol is below the attainable precision"
#: Consecutive steps whose decrease is within rounding of F before a solver gives up.
STALL_STEPS = 3


class StallDetector:
    """Counts consecutive steps that neither lower F beyond rounding nor lower max|∇F|.

    When rounding, not the solver, limits progress, the line search would otherwise keep
    accepting steps that only move noise, one or more passes each, until ``max_iter``.
    """

    def __init__(self, count: int = 0) -> None:
        self.count = count

    def check(self, before: SolverState, after: SolverState) -> SolverState:
        """``after``, marked with a message when progress has stalled."""
        scale = max(abs(before.objective), 1e-300)
        flat: bool | np.bool_ = (
            before.objective - after.objective <= ROUNDING_ULPS * np.finfo(float).eps * scale
        )
        flat = flat and after.grad_norm >= before.grad_norm
        self.count = self.count + 1 if flat else 0
        if self.count >= STALL_STEPS and not after.converged:
            return replace(after, message=STALLED)
        return after


def with_memory(
    state: SolverState, current: Evaluation, detector: StallDetector, **extra
) -> SolverState:
    """``state`` with what continuing needs: the evaluation there, the stall count, extras."""
    memory = {
        "loss": current.loss,
        "grad": current.grad,
        "hessian": current.hessian,
        "hessian_diagonal": current.hessian_diagonal,
        "stalled": detector.count,
        **extra,
    }
    return replace(state, memory=memory)


def restore(resume: SolverState) -> tuple[SolverState, np.ndarray, Evaluation, StallDetector]:
    """The state, point, evaluation and stall detector a remembered state continues from."""
    memory = resume.memory
    current = Evaluation(
        loss=memory["loss"],
        grad=memory["grad"],
        hessian=memory["hessian"],
        hessian_diagonal=memory["hessian_diagonal"],
    )
    return (
        resume,
        np.array(resume.params, dtype=np.float64),
        current,
        StallDetector(int(memory["stalled"])),
    )


def state_at(
    iteration, x, current: Evaluation, step, tol, penalty: NonSmooth | None = None, message=""
) -> SolverState:
    """The state at ``x``: objective with its L1 part, and the minimum-norm subgradient."""
    penalty = penalty or no_penalty(x.size)
    gradient = penalty.optimality(x, current.grad)
    converged = max_norm(gradient) <= tol
    objective = current.loss + penalty.value(x)
    return SolverState(
        iteration,
        x,
        objective,
        gradient,
        step,
        converged,
        "" if converged else message,
        evaluation=current,
    )
