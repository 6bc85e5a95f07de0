"""L-BFGS (OWL-QN with an L1 part), for many features."""

from collections import deque

import numpy as np

from dasklr.solvers.line_search import Search, line_search, orthant_search
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

#: Memory of L-BFGS (pairs of steps and gradient changes).
LBFGS_MEMORY = 10


def lbfgs(
    x0: np.ndarray,
    start: Evaluation | None,
    *,
    tol: float,
    max_iter: int,
    penalty: NonSmooth | None = None,
    resume: SolverState | None = None,
) -> Solver:
    """Limited-memory BFGS with a backtracking line search, for many features.

    1. Start from ``start`` (or evaluate at ``x0``, with diag(∇²F) in the same pass: a
       warm start). The summary pass knows diag(∇²F) at the log-odds start: it
       preconditions every direction (D below), so features of very different scales
       do not slow the solver down.
    2. Direction from the two-loop recursion over the last ``LBFGS_MEMORY`` pairs
       (s = Δx, r = Δ∇F) with the initial inverse Hessian γ·D⁻¹, γ = sᵀr / rᵀD⁻¹r;
       the diagonal Newton step −D⁻¹∇F before any pair exists.
    3. ``line_search`` from the unit step; keep the pair when sᵀr > 0 (curvature).
    4. Stop when max|∇F| <= tol, or after ``max_iter`` steps.

    With an L1 part this is OWL-QN (Andrew & Gao, 2007): the two-loop recursion runs on
    the minimum-norm subgradient, the direction keeps only the components that descend
    along it, and ``orthant_search`` keeps every step inside the orthant it starts in,
    setting to exactly 0 the coefficients that would cross zero. With bounds, the same
    search projects every trial point onto the box, and coordinates held at a bound (their
    gradient pushing outward) are left out of the direction, as L-BFGS-B's active set.

    The loop is the algorithm's, numbered above; starting and resuming take most of its
    length, kept beside the loop so that what a checkpoint must hold is visible.
    """
    penalty = penalty or no_penalty(np.size(x0))
    pairs: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=LBFGS_MEMORY)
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        if penalty.bounded and not np.array_equal(penalty.project(x), x):
            x, start = penalty.project(x), None  # a start outside the bounds: theirs
        current = start or (yield Request(x, diagonal=True))
        assert current is not None  # the driver answers every request with its evaluation
        state = state_at(0, x, current, 0.0, tol, penalty)
        inverse_diagonal = None
        diagonal = current.hessian_diagonal
        if diagonal is not None and np.any(diagonal > 0):
            # a flat direction (an all-zero column without L2) keeps the mean scale
            diagonal = np.where(diagonal > 0, diagonal, np.mean(diagonal[diagonal > 0]))
            inverse_diagonal = 1.0 / diagonal
        detector = StallDetector()
    else:
        state, x, current, detector = restore(resume)
        inverse_diagonal = resume.memory["inverse_diagonal"]
        pairs.extend(zip(resume.memory["pairs_s"], resume.memory["pairs_r"], strict=True))

    def remember(state: SolverState) -> SolverState:
        assert current is not None
        s_rows = np.array([s for s, _ in pairs]).reshape(len(pairs), x.size)
        r_rows = np.array([r for _, r in pairs]).reshape(len(pairs), x.size)
        return with_memory(
            state,
            current,
            detector,
            inverse_diagonal=inverse_diagonal,
            pairs_s=s_rows,
            pairs_r=r_rows,
        )

    if resume is None:
        yield remember(state)
    for iteration in range(state.iteration + 1, max_iter + 1):
        if state.converged:
            return
        found = yield from _lbfgs_step(x, current, pairs, inverse_diagonal, penalty)
        if found is None and pairs:  # a stale memory can point uphill: restart once
            pairs.clear()
            found = yield from _lbfgs_step(x, current, pairs, inverse_diagonal, penalty)
        if found is None:
            yield state_at(iteration, x, current, 0.0, tol, penalty, NO_DECREASE)
            return
        s = found.params - x
        r = found.evaluation.grad - current.grad
        if float(s @ r) > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(r)):
            pairs.append((s, r))
        x, current = found.params, found.evaluation
        state = detector.check(state, state_at(iteration, x, current, found.length, tol, penalty))
        yield remember(state)
        if state.message:
            return


def _lbfgs_step(x, current, pairs, inverse_diagonal, penalty) -> Search:
    """One L-BFGS step: plain line search, or OWL-QN's projected one with an L1 part."""
    if not penalty.active:
        direction = _two_loop(current.grad, pairs, inverse_diagonal)
        return (yield from line_search(x, current, direction, 1.0, hessian=False))
    pseudo = penalty.optimality(x, current.grad)
    direction = _two_loop(pseudo, pairs, inverse_diagonal)
    penalised = penalty.strength > 0
    direction[penalised & (direction * pseudo >= 0)] = 0.0  # only components that descend
    if penalty.bounded:  # coordinates held at a bound stay there (L-BFGS-B's active set)
        held = (pseudo == 0) & ((x <= penalty.low) | (x >= penalty.high))
        direction[held] = 0.0
    return (yield from orthant_search(x, current, pseudo, direction, penalty))


def _two_loop(grad: np.ndarray, pairs: deque, inverse_diagonal: np.ndarray | None) -> np.ndarray:
    """−H·∇F for the L-BFGS inverse-Hessian approximation H (Nocedal & Wright, Alg. 7.4).

    The initial matrix is γ·D⁻¹ (``inverse_diagonal``; the identity when unknown).
    """
    scale = np.ones_like(grad) if inverse_diagonal is None else inverse_diagonal
    if not pairs:
        if inverse_diagonal is None:
            return -grad / max(max_norm(grad), 1e-300)
        return -scale * grad
    q = grad.copy()
    alphas = []
    for s, r in reversed(pairs):
        a = float(s @ q) / float(s @ r)
        alphas.append(a)
        q -= a * r
    s, r = pairs[-1]
    q *= scale * (float(s @ r) / float(r @ (scale * r)))
    for (s, r), a in zip(pairs, reversed(alphas), strict=True):
        b = float(r @ q) / float(s @ r)
        q += (a - b) * s
    return -q
