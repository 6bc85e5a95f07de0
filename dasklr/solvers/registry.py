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

An L1 part, Σ λⱼ·|xⱼ| (``NonSmooth``), is added by the solver: its value in the
objective and the line search, and its minimum-norm subgradient in the stopping test.
With all λⱼ = 0 it is the plain smooth problem. Newton handles it as proximal Newton,
L-BFGS as OWL-QN; gradient descent refuses it.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dasklr.options import SOLVER_NAMES
from dasklr.solvers.gradient_descent import gradient_descent
from dasklr.solvers.lbfgs import lbfgs
from dasklr.solvers.newton import NEWTON_MAX_FEATURES, newton
from dasklr.solvers.protocol import Evaluation
from dasklr.solvers.state import Solver, SolverState

#: ``solver="auto"`` picks Newton up to this many coefficients, L-BFGS beyond.
AUTO_NEWTON_MAX_FEATURES = 1024


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
