"""Line searches that cost few passes: several step lengths per pass
(Armijo backtracking), and OWL-QN's orthant-projected search.
"""

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from dasklr.solvers.protocol import Evaluation, Request
from dasklr.solvers.state import ROUNDING_ULPS, NonSmooth, max_norm, no_penalty

#: A line search: yields requests, returns the step it accepted (or None).
Search = Generator[Request, Evaluation, "Step | None"]

#: Armijo's sufficient-decrease constant: accept t when F(x + t·p) <= F(x) + c·t·∇Fᵀp.
ARMIJO_C = 1e-4
#: Fractions of the trial step whose losses ride along with every line-search pass.
LADDER = 2.0 ** -np.arange(1, 5)
#: Line-search passes before giving up (each shrinks the step by 2^-5 more).
MAX_LINE_PASSES = 8
#: Halvings of OWL-QN's projected step (one pass each) before it gives up.
MAX_ORTHANT_PASSES = 30


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
    penalty: NonSmooth | None = None,
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


def orthant_search(
    x: np.ndarray,
    current: Evaluation,
    pseudo: np.ndarray,
    direction: np.ndarray,
    penalty: NonSmooth,
) -> Search:
    """OWL-QN's backtracking: each trial point is projected onto the starting orthant.

    The orthant is sign(x), or sign(−pseudo-gradient) where x = 0; penalised
    coordinates that would leave it are set to 0. Accept when F + h decreases by at
    least c·pseudoᵀ(x_new − x). With bounds every trial point is also clipped to the box.
    The path bends at the projections, so the losses along a line cannot be shared: one
    pass per trial.
    """
    penalised = penalty.strength > 0
    orthant = np.where(x != 0, np.sign(x), -np.sign(pseudo))
    rounding = ROUNDING_ULPS * np.finfo(np.float64).eps * max(abs(current.loss), 1e-300)
    t = 1.0
    for _ in range(MAX_ORTHANT_PASSES):
        point = x + t * direction
        point[penalised & (np.sign(point) != orthant)] = 0.0
        point = penalty.project(point)  # with bounds: onto the box too
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
