"""Gradient descent, the baseline: Barzilai–Borwein steps, Armijo backtracking."""

import numpy as np

from dasklr.solvers.line_search import line_search
from dasklr.solvers.protocol import Evaluation, Request
from dasklr.solvers.state import (
    NO_DECREASE,
    Solver,
    SolverState,
    StallDetector,
    restore,
    state_at,
    with_memory,
)


def gradient_descent(
    x0: np.ndarray,
    start: Evaluation | None,
    *,
    tol: float,
    max_iter: int,
    resume: SolverState | None = None,
) -> Solver:
    """Gradient descent with a backtracking (Armijo) line search.

    1. Start from ``start`` (or evaluate at ``x0``), or continue from ``resume``.
    2. Try the Barzilai–Borwein step ``sᵀs / sᵀΔg`` from the last two iterates (the
       previous accepted step doubled at first, or when the curvature is not positive).
    3. Backtrack with ``line_search`` along −∇F.
    4. Stop when max|∇F| <= tol, or after ``max_iter`` steps.
    """
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        current = start or (yield Request(x))
        assert current is not None  # the driver answers every request with its evaluation
        step = 0.5  # the first trial is 2 × step = 1
        previous: tuple[np.ndarray, np.ndarray] | None = None
        detector = StallDetector()
        state = state_at(0, x, current, 0.0, tol)
    else:
        state, x, current, detector = restore(resume)
        step = resume.memory["trial_step"]
        previous = None
        if resume.memory["previous_x"] is not None:
            previous = (resume.memory["previous_x"], resume.memory["previous_grad"])

    def remember(state: SolverState) -> SolverState:
        assert current is not None
        before = (None, None) if previous is None else previous
        return with_memory(
            state, current, detector, trial_step=step, previous_x=before[0], previous_grad=before[1]
        )

    if resume is None:
        yield remember(state)
    for iteration in range(state.iteration + 1, max_iter + 1):
        if state.converged:
            return
        trial = _barzilai_borwein(x, current.grad, previous) or 2.0 * step
        found = yield from line_search(x, current, -current.grad, trial, hessian=False)
        if found is None:
            yield state_at(iteration, x, current, 0.0, tol, message=NO_DECREASE)
            return
        previous = (x, current.grad)
        x, current, step = found.params, found.evaluation, found.length
        state = detector.check(state, state_at(iteration, x, current, step, tol))
        yield remember(state)
        if state.message:
            return


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
