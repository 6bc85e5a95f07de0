"""Solvers: ask-and-tell generators that never block and never touch Dask.

A solver *yields* what it needs: a ``Request`` ("evaluate F and ∇F here — with ∇²F,
with diag(∇²F), and F at these steps along this line") and is *sent* the
``Evaluation`` back; or a ``SolverState`` after each iteration, and is sent nothing.
Whoever drives it decides how a request is answered (one pass over the data, or one
pass for the requests of a whole grid of models), what to record, and when to stop
early. A solver stops by itself when ``max|∇F| <= tol`` or after ``max_iter`` steps.
``solve`` drives one with a plain function, for data in memory.

An ``Evaluation`` holds F and ∇F at ``params`` (∇²F when ``hessian``, diag(∇²F) when
``diagonal``), and F at ``params + s·direction`` for each ``s`` in ``steps`` — in the
same pass, which is how line searches avoid extra passes.

An L1 part, Σ λⱼ·|xⱼ| (``L1Penalty``), is added by the solver: its value in the
objective and the line search, and its minimum-norm subgradient in the stopping test.
With all λⱼ = 0 it is the plain smooth problem. Newton handles it as proximal Newton,
L-BFGS as OWL-QN; gradient descent refuses it.
"""

from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from dasklr.options import SOLVER_NAMES
from dasklr.protocol import Evaluation, Request

#: A solver: yields requests (sent their evaluation) and states (sent None).
Solver = Generator["Request | SolverState", "Evaluation | None", None]
#: A line search: yields requests, returns the step it accepted (or None).
Search = Generator[Request, Evaluation, "Step | None"]

#: Armijo's sufficient-decrease constant: accept t when F(x + t·p) <= F(x) + c·t·∇Fᵀp.
ARMIJO_C = 1e-4
#: Fractions of the trial step whose losses ride along with every line-search pass.
LADDER = 2.0 ** -np.arange(1, 5)
#: Line-search passes before giving up (each shrinks the step by 2^-5 more).
MAX_LINE_PASSES = 8
#: Changes of F within this many ulps of F are rounding, not progress.
ROUNDING_ULPS = 8
#: Newton refuses more coefficients than this (features × classes for multinomial): the
#: Hessian over them travels in every partial.
NEWTON_MAX_FEATURES = 4096
#: ``solver="auto"`` picks Newton up to this many coefficients, L-BFGS beyond.
AUTO_NEWTON_MAX_FEATURES = 1024
#: Coordinate-descent sweeps for one proximal Newton direction, at most.
PROXIMAL_SWEEPS = 500
#: Halvings of OWL-QN's projected step (one pass each) before it gives up.
MAX_ORTHANT_PASSES = 30
#: A Newton step that cuts max|∇F| by this factor lets a sampled Hessian be used again.
REUSE_CONTRACTION = 0.1
#: Memory of L-BFGS (pairs of steps and gradient changes).
LBFGS_MEMORY = 10


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
class L1Penalty:
    """Σ λⱼ·|xⱼ|: the non-smooth part of the objective (λ = 0 for the intercept)."""

    strength: np.ndarray

    def value(self, params: np.ndarray) -> float:
        return float(self.strength @ np.abs(params))

    def change(self, params: np.ndarray, move: np.ndarray) -> float:
        """value(params + move) − value(params), term by term: no cancellation of totals."""
        return float(self.strength @ (np.abs(params + move) - np.abs(params)))

    def optimality(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The minimum-norm subgradient of smooth + L1: zero exactly at the optimum.

        g + λ·sign(x) where x ≠ 0; where x = 0, |g| shrunk by λ (0 when |g| ≤ λ).
        """
        out = grad + self.strength * np.sign(params)
        zero = params == 0
        out[zero] = np.sign(grad[zero]) * np.maximum(np.abs(grad[zero]) - self.strength[zero], 0)
        return out

    @property
    def active(self) -> bool:
        return bool(np.any(self.strength > 0))


def no_penalty(n_params: int) -> L1Penalty:
    return L1Penalty(np.zeros(n_params))


@dataclass(frozen=True)
class Step:
    """An accepted line-search step: its length, the new point, and the evaluation there."""

    length: float
    params: np.ndarray
    evaluation: Evaluation


def line_search(
    x: np.ndarray,
    current: Evaluation,
    direction: np.ndarray,
    trial: float,
    *,
    hessian: bool,
    penalty: L1Penalty | None = None,
    ladder: bool = True,
) -> Search:
    """Backtracking (Armijo) search along ``direction``, several step lengths per pass.

    1. Evaluate fully (∇F, and ∇²F if asked) at ``x + t·p`` and, in the same pass, F at
       ``x + t·f·p`` for the fractions f of ``LADDER``.
    2. Accept the longest step that satisfies Armijo's condition; if that is not ``t``
       itself, one more pass evaluates the new point fully.
    3. If none does, continue below the shortest fraction; give up after
       ``MAX_LINE_PASSES`` passes (None), e.g. when ``p`` is not a descent direction.

    Near the optimum the decrease a step promises, −t·∇Fᵀp, can fall below the rounding
    of F itself; F can then neither confirm nor refute it. There, a full trial step is
    accepted when it lowers max|∇F| instead (the gradient is still exact), which lets
    tolerances far below √(rounding of F) be reached.

    With an L1 part h, the promised decrease is Δ = ∇Fᵀp + h(x + p) − h(x) (proximal
    Newton's condition; Δ = ∇Fᵀp without one) and F + h is compared at each point.

    ``ladder=False`` leaves the shorter steps out of the first pass (their losses cost
    more than the gradient): for a step that is almost always taken whole, as Newton's
    once its last step was. If it is not, the search goes on from t/2 with the ladder.
    """
    penalty = penalty or no_penalty(x.size)
    slope = float(current.grad @ direction) + penalty.change(x, direction)
    if not slope < 0:
        return None
    rounding = ROUNDING_ULPS * np.finfo(np.float64).eps * max(abs(current.loss), 1e-300)

    def gain(loss: float, length: float) -> float:
        """(F + h)(x + length·p) − (F + h)(x)."""
        return loss - current.loss + penalty.change(x, length * direction)

    def sufficient(loss: float, length: float) -> bool:
        change = gain(loss, length)
        return bool(np.isfinite(change)) and change <= ARMIJO_C * length * slope

    def stationarity(point: np.ndarray, evaluation: Evaluation) -> float:
        return max_norm(penalty.optimality(point, evaluation.grad))

    t = trial
    for attempt in range(MAX_LINE_PASSES):
        point = x + t * direction
        fractions = LADDER if ladder or attempt else LADDER[:0]
        at_t = yield Request(
            point, hessian=hessian, direction=direction, steps=t * (fractions - 1.0)
        )
        if sufficient(at_t.loss, t):
            return Step(t, point, at_t)
        below_rounding = -t * slope <= rounding and gain(at_t.loss, t) <= rounding
        if below_rounding and stationarity(point, at_t) < stationarity(x, current):
            return Step(t, point, at_t)
        if not fractions.size:
            t *= LADDER[0]
            continue
        for fraction, loss in zip(fractions, at_t.step_losses, strict=True):
            if sufficient(loss, t * fraction):
                shorter = x + t * fraction * direction
                return Step(t * fraction, shorter, (yield Request(shorter, hessian=hessian)))
        t *= LADDER[-1] / 2.0
    return None


_NO_DECREASE = "line search found no decrease: tol is below the attainable precision"
_STALLED = (
    "the objective stopped decreasing (rounding level): tol is below the attainable precision"
)
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
        flat = before.objective - after.objective <= ROUNDING_ULPS * np.finfo(float).eps * scale
        flat = flat and after.grad_norm >= before.grad_norm
        self.count = self.count + 1 if flat else 0
        if self.count >= STALL_STEPS and not after.converged:
            return replace(after, message=_STALLED)
        return after


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
        step = 0.5  # the first trial is 2 × step = 1
        previous: tuple[np.ndarray, np.ndarray] | None = None
        detector = StallDetector()
        state = _state(0, x, current, 0.0, tol)
    else:
        state, x, current, detector = _restore(resume)
        step = resume.memory["trial_step"]
        previous = None
        if resume.memory["previous_x"] is not None:
            previous = (resume.memory["previous_x"], resume.memory["previous_grad"])

    def remember(state: SolverState) -> SolverState:
        before = (None, None) if previous is None else previous
        return _remember(
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
            yield _state(iteration, x, current, 0.0, tol, message=_NO_DECREASE)
            return
        previous = (x, current.grad)
        x, current, step = found.params, found.evaluation, found.length
        state = detector.check(state, _state(iteration, x, current, step, tol))
        yield remember(state)
        if state.message:
            return


def newton(
    x0: np.ndarray,
    start: Evaluation | None,
    *,
    tol: float,
    max_iter: int,
    penalty: L1Penalty | None = None,
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
        current = current or (yield Request(x, hessian=True))
        detector = StallDetector()
        state = _state(0, x, current, 0.0, tol, penalty)
        contracting = False
        yield _remember(state, current, detector, contracting=0)
    else:
        state, x, current, detector = _restore(resume)
        contracting = bool(resume.memory.get("contracting", 0))
    for iteration in range(state.iteration + 1, max_iter + 1):
        if state.converged:
            return
        fresh = not (reuse_hessian and contracting)
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
            yield _state(iteration, x, current, 0.0, tol, penalty, _NO_DECREASE)
            return
        before = state
        x = found.params
        current = found.evaluation if fresh else replace(found.evaluation, hessian=current.hessian)
        state = detector.check(state, _state(iteration, x, current, found.length, tol, penalty))
        contracting = found.length == 1.0 and (
            state.grad_norm <= REUSE_CONTRACTION * before.grad_norm
        )
        yield _remember(state, current, detector, contracting=int(contracting))
        if state.message:
            return


def proximal_newton_direction(
    hessian: np.ndarray, grad: np.ndarray, x: np.ndarray, penalty: L1Penalty
) -> np.ndarray:
    """p minimising ∇Fᵀp + ½·pᵀ∇²F·p + Σ λⱼ|xⱼ + pⱼ|, by cyclic coordinate descent.

    Works on u = x + p, keeping ∇²F·(u − x) up to date column by column; each
    coordinate is a one-dimensional quadratic plus |·|, solved by soft-thresholding.
    Coordinates that end at exactly 0 give exact zeros in ``coef_`` once t = 1.
    """
    u = x.copy()
    curvature = np.diag(hessian).copy()
    moved = np.zeros_like(x)  # ∇²F·(u − x)
    for _ in range(PROXIMAL_SWEEPS):
        largest = 0.0
        for j in np.flatnonzero(curvature > 0):
            target = u[j] - (grad[j] + moved[j]) / curvature[j]
            threshold = penalty.strength[j] / curvature[j]
            new = np.sign(target) * max(abs(target) - threshold, 0.0)
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


def lbfgs(
    x0: np.ndarray,
    start: Evaluation | None,
    *,
    tol: float,
    max_iter: int,
    penalty: L1Penalty | None = None,
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
    setting to exactly 0 the coefficients that would cross zero.
    """
    penalty = penalty or no_penalty(np.size(x0))
    pairs: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=LBFGS_MEMORY)
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        current = start or (yield Request(x, diagonal=True))
        state = _state(0, x, current, 0.0, tol, penalty)
        inverse_diagonal = None
        diagonal = current.hessian_diagonal
        if diagonal is not None and np.any(diagonal > 0):
            # a flat direction (an all-zero column without L2) keeps the mean scale
            diagonal = np.where(diagonal > 0, diagonal, np.mean(diagonal[diagonal > 0]))
            inverse_diagonal = 1.0 / diagonal
        detector = StallDetector()
    else:
        state, x, current, detector = _restore(resume)
        inverse_diagonal = resume.memory["inverse_diagonal"]
        pairs.extend(zip(resume.memory["pairs_s"], resume.memory["pairs_r"], strict=True))

    def remember(state: SolverState) -> SolverState:
        s_rows = np.array([s for s, _ in pairs]).reshape(len(pairs), x.size)
        r_rows = np.array([r for _, r in pairs]).reshape(len(pairs), x.size)
        return _remember(
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
            yield _state(iteration, x, current, 0.0, tol, penalty, _NO_DECREASE)
            return
        s = found.params - x
        r = found.evaluation.grad - current.grad
        if float(s @ r) > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(r)):
            pairs.append((s, r))
        x, current = found.params, found.evaluation
        state = detector.check(state, _state(iteration, x, current, found.length, tol, penalty))
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
    return (yield from orthant_search(x, current, pseudo, direction, penalty))


def orthant_search(
    x: np.ndarray,
    current: Evaluation,
    pseudo: np.ndarray,
    direction: np.ndarray,
    penalty: L1Penalty,
) -> Search:
    """OWL-QN's backtracking: each trial point is projected onto the starting orthant.

    The orthant is sign(x), or sign(−pseudo-gradient) where x = 0; penalised
    coordinates that would leave it are set to 0. Accept when F + h decreases by at
    least c·pseudoᵀ(x_new − x). The path bends at the projections, so the losses along
    a line cannot be shared: one pass per trial.
    """
    penalised = penalty.strength > 0
    orthant = np.where(x != 0, np.sign(x), -np.sign(pseudo))
    rounding = ROUNDING_ULPS * np.finfo(np.float64).eps * max(abs(current.loss), 1e-300)
    t = 1.0
    for _ in range(MAX_ORTHANT_PASSES):
        point = x + t * direction
        point[penalised & (np.sign(point) != orthant)] = 0.0
        predicted = float(pseudo @ (point - x))
        if not predicted < 0:
            return None
        at_t = yield Request(point)
        change = at_t.loss - current.loss + penalty.change(x, point - x)
        if np.isfinite(change) and change <= ARMIJO_C * predicted:
            return Step(t, point, at_t)
        if -predicted <= rounding and change <= rounding:
            before = max_norm(pseudo)
            if max_norm(penalty.optimality(point, at_t.grad)) < before:
                return Step(t, point, at_t)
        t *= 0.5
    return None


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


def _remember(
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


def _restore(resume: SolverState) -> tuple[SolverState, np.ndarray, Evaluation, StallDetector]:
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


def _state(
    iteration, x, current: Evaluation, step, tol, penalty: L1Penalty | None = None, message=""
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


@dataclass(frozen=True)
class SolverSpec:
    """A solver function and whether it needs the Hessian (full moments in the first pass)."""

    run: Callable[..., Solver]
    uses_hessian: bool
    supports_l1: bool = False


#: Solver name (the ``solver`` parameter) → solver.
SOLVERS = {
    "gd": SolverSpec(gradient_descent, uses_hessian=False),
    "lbfgs": SolverSpec(lbfgs, uses_hessian=False, supports_l1=True),
    "newton": SolverSpec(newton, uses_hessian=True, supports_l1=True),
}


def choose_solver(name: str, n_features: int, l1: bool = False) -> str:
    """Resolve ``"auto"`` by shape: Newton up to ``AUTO_NEWTON_MAX_FEATURES``, else L-BFGS
    (OWL-QN with an L1 part).

    ``n_features`` counts coefficients: d for binary, K·d for K classes, whose Hessian
    grows as (K·d)².
    """
    if name == "auto":
        name = "newton" if n_features <= AUTO_NEWTON_MAX_FEATURES else "lbfgs"
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVER_NAMES)}, got {name!r}")
    if l1 and not SOLVERS[name].supports_l1:
        raise NotImplementedError(
            f"solver='{name}' does not support l1_ratio > 0; use 'newton', 'lbfgs' or 'auto'"
        )
    if name == "newton" and n_features > NEWTON_MAX_FEATURES:
        raise ValueError(
            f"solver='newton' handles at most {NEWTON_MAX_FEATURES} coefficients (features × "
            f"classes for multinomial; its Hessian has their square of entries per chunk); "
            f"this model has {n_features}: use 'lbfgs' or 'auto'"
        )
    return name


def solve(solver: Solver, evaluate: Callable[..., Evaluation]) -> Iterator[SolverState]:
    """Drive an ask-and-tell ``solver`` with ``evaluate(params, hessian=…, direction=…,
    steps=…, diagonal=…)`` (e.g. ``LogisticObjective.evaluate`` on data in memory),
    yielding its states."""
    reply = None
    while True:
        try:
            item = solver.send(reply)
        except StopIteration:
            return
        if isinstance(item, SolverState):
            reply = None
            yield item
        else:
            reply = evaluate(
                item.params,
                hessian=item.hessian,
                direction=item.direction,
                steps=item.steps,
                diagonal=item.diagonal,
            )
