"""Newton's method (proximal Newton with an L1 part): few passes for up to a few
thousand coefficients.
"""

from dataclasses import replace

import numpy as np

from dasklr.solvers.line_search import line_search
from dasklr.solvers.protocol import Evaluation, Request
from dasklr.solvers.state import (
    NO_DECREASE,
    NonSmooth,
    Solver,
    SolverState,
    StallDetector,
    max_norm,
    no_penalty,
    restore,
    state_at,
    with_memory,
)

#: Newton refuses more coefficients than this (features × classes for multinomial): the
#: Hessian over them travels in every partial.
NEWTON_MAX_FEATURES = 4096
#: Coordinate-descent sweeps for one proximal Newton direction, at most.
PROXIMAL_SWEEPS = 500
#: A Newton step that cuts max|∇F| by this factor lets a sampled Hessian be used again.
REUSE_CONTRACTION = 0.1


def newton(
    x0: np.ndarray,
    start: Evaluation | None,
    *,
    tol: float,
    max_iter: int,
    penalty: NonSmooth | None = None,
    resume: SolverState | None = None,
    reuse_hessian: bool = False,
) -> Solver:
    """Newton's method with a backtracking line search.

    1. Start from ``start`` (from the summary pass: its Hessian is exact at the log-odds
       start) or evaluate F, ∇F, ∇²F at ``x0``.
    2. Solve ∇²F·p = −∇F (``newton_direction``: Cholesky, eigenvalues as a safeguard);
       with an L1 part, minimise the quadratic model plus L1 instead
       (``proximal_newton_direction``: proximal Newton).
    3. ``line_search`` from the full step t = 1, evaluating ∇F and ∇²F at the new point in
       the same pass: near the optimum every iteration is exactly one pass.
    4. Stop when the max-norm of the (minimum-norm sub)gradient is <= tol, or after
       ``max_iter`` steps.

    With ``reuse_hessian`` (for a Hessian from a sample of the rows, whose sampling error
    outweighs the change of ∇²F over a step near the optimum), a step that cut max|∇F|
    by at least ``REUSE_CONTRACTION`` lets the next pass skip the Hessian: the last one
    is used again until a step contracts less. The gradient is exact in every pass, so
    the fit stops at the same optimum, in passes that cost what an L-BFGS pass costs.
    """
    penalty = penalty or no_penalty(np.size(x0))
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        current = start if start is not None and start.hessian is not None else None
        if penalty.bounded and not np.array_equal(penalty.project(x), x):
            x, current = penalty.project(x), None  # a start outside the bounds: theirs
        current = current or (yield Request(x, hessian=True))
        assert current is not None  # the driver answers every request with its evaluation
        detector = StallDetector()
        state = state_at(0, x, current, 0.0, tol, penalty)
        contracting = False
        yield with_memory(state, current, detector, contracting=0)
    else:
        state, x, current, detector = restore(resume)
        contracting = bool(resume.memory.get("contracting", 0))
    for iteration in range(state.iteration + 1, max_iter + 1):
        if state.converged:
            return
        fresh = not (reuse_hessian and contracting)
        assert current.hessian is not None  # asked for in every pass, or kept from the last
        if penalty.active:
            direction = proximal_newton_direction(current.hessian, current.grad, x, penalty)
        else:
            direction = newton_direction(current.hessian, current.grad)
        # Newton's first step from the log-odds start, and any step after a whole one, is
        # almost always taken whole: no ladder in its pass (a miss costs one pass)
        whole = state.step == 1.0 or state.iteration == 0
        found = yield from line_search(
            x, current, direction, 1.0, hessian=fresh, penalty=penalty, ladder=not whole
        )
        if found is None:
            yield state_at(iteration, x, current, 0.0, tol, penalty, NO_DECREASE)
            return
        before = state
        x = found.params
        current = found.evaluation if fresh else replace(found.evaluation, hessian=current.hessian)
        state = detector.check(state, state_at(iteration, x, current, found.length, tol, penalty))
        contracting = found.length == 1.0 and (
            state.grad_norm <= REUSE_CONTRACTION * before.grad_norm
        )
        yield with_memory(state, current, detector, contracting=int(contracting))
        if state.message:
            return


def proximal_newton_direction(
    hessian: np.ndarray, grad: np.ndarray, x: np.ndarray, penalty: NonSmooth
) -> np.ndarray:
    """p minimising ∇Fᵀp + ½·pᵀ∇²F·p + Σ λⱼ|xⱼ + pⱼ| over lⱼ ≤ xⱼ + pⱼ ≤ hⱼ, by cyclic
    coordinate descent (with bounds, projected Newton: x + p stays in the box, and so
    does every step of the line search along p).

    Works on u = x + p, keeping ∇²F·(u − x) up to date column by column; each
    coordinate is a one-dimensional quadratic plus |·|, solved by soft-thresholding.
    Coordinates that end at exactly 0 give exact zeros in ``coef_`` once t = 1.
    """
    u = x.copy()
    low = penalty.low if penalty.low is not None else np.full(x.size, -np.inf)
    high = penalty.high if penalty.high is not None else np.full(x.size, np.inf)
    curvature = np.diag(hessian).copy()
    moved = np.zeros_like(x)  # ∇²F·(u − x)
    for _ in range(PROXIMAL_SWEEPS):
        largest = 0.0
        for j in np.flatnonzero(curvature > 0):
            target = u[j] - (grad[j] + moved[j]) / curvature[j]
            threshold = penalty.strength[j] / curvature[j]
            new = np.sign(target) * max(abs(target) - threshold, 0.0)
            new = min(max(new, low[j]), high[j])  # a convex 1-D minimum over [l, h]: the clip
            change = new - u[j]
            if change:
                moved += change * hessian[:, j]
                u[j] = new
                largest = max(largest, abs(change))
        if largest <= 1e-13 * max(1.0, max_norm(u)):
            break
    return u - x


def newton_direction(hessian: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Solve ∇²F·p = −∇F; safeguarded where ∇²F is singular or badly conditioned.

    Cholesky first (∇²F is symmetric positive semi-definite for this objective). If it
    fails, or its diagonal says the condition number is beyond ~1e12, fall back to the
    eigen-decomposition with eigenvalues floored at 1e-12 of the largest: directions of
    (near) zero curvature then get a bounded step instead of an infinite one.
    """
    try:
        factor = np.linalg.cholesky(hessian)
        diagonal = np.abs(np.diag(factor))
        if diagonal.min() > 1e-6 * diagonal.max():
            return np.linalg.solve(hessian, -grad)
    except np.linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh(hessian)
    floor = max(values.max(), 1.0) * 1e-12
    return -vectors @ ((vectors.T @ grad) / np.maximum(values, floor))
