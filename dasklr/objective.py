"""The objective of DESIGN.md, assembled on the driver from the raw sums of one pass.

    F(θ, b) = (1/Σw)·Σ w·[softplus(z) − y·z] + alpha·(1 − l1_ratio)/2·‖θ‖²,   z = Xθ + b

The intercept b is never penalised. Solvers see a flat parameter vector ``[θ, b]`` (or
``θ`` alone without an intercept) and call ``evaluate``; they never see Dask.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dasklr.errors import DataError
from dasklr.kernels import LogisticSums, Probe, SummarySums
from dasklr.numerics import softplus

#: Runs one pass over all the data for a probe and returns the merged raw sums.
SumsFunction = Callable[[Probe], LogisticSums]


@dataclass(frozen=True)
class Evaluation:
    """F, ∇F and (when asked) ∇²F at a point, and F at further points along a line."""

    loss: float
    grad: np.ndarray
    hessian: np.ndarray | None = None
    step_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: diag(∇²F), known at the start from the summary pass even without the full Hessian
    hessian_diagonal: np.ndarray | None = None


class LogisticObjective:
    """Mean weighted log-loss plus an L2 penalty, as a function of ``[θ, b]``."""

    def __init__(
        self,
        sums: SumsFunction,
        n_features: int,
        *,
        alpha: float,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
    ) -> None:
        if l1_ratio != 0.0:
            raise NotImplementedError("l1_ratio > 0 (L1 / elastic net) is not implemented yet")
        self.sums = sums
        self.n_features = n_features
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    @property
    def n_params(self) -> int:
        return self.n_features + int(self.fit_intercept)

    def split(self, params: np.ndarray) -> tuple[np.ndarray, float]:
        """``[θ, b]`` → (θ, b); b is 0 without an intercept."""
        coef = params[: self.n_features]
        intercept = float(params[self.n_features]) if self.fit_intercept else 0.0
        return coef, intercept

    def evaluate(
        self,
        params: np.ndarray,
        *,
        hessian: bool = False,
        direction: np.ndarray | None = None,
        steps: np.ndarray | tuple = (),
    ) -> Evaluation:
        """F, ∇F (and ∇²F) at ``params``, and F at ``params + s·direction`` for s in ``steps``.

        One pass over the data, one division by Σw.
        """
        coef, intercept = self.split(params)
        steps = np.asarray(steps, dtype=np.float64)
        line = None
        if direction is not None and steps.size:
            line = np.zeros(self.n_features + 1)
            line[: self.n_params] = direction
        s = self.sums(Probe(coef, intercept, hessian=hessian, direction=line, steps=steps))
        if not s.weight > 0:
            raise DataError(f"the total sample weight is {s.weight}; nothing to train on")
        grad = np.empty(self.n_params)
        grad[: self.n_features] = s.grad_coef / s.weight + self.alpha * coef
        if self.fit_intercept:
            grad[self.n_features] = s.grad_intercept / s.weight
        step_losses = s.step_losses / s.weight
        for k, step in enumerate(steps):
            step_losses[k] += self._penalty(coef + step * line[: self.n_features])
        return Evaluation(
            loss=s.loss / s.weight + self._penalty(coef),
            grad=grad,
            hessian=None if s.hessian is None else self._hessian(s.hessian / s.weight),
            step_losses=step_losses,
        )

    def loss_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        evaluation = self.evaluate(params)
        return evaluation.loss, evaluation.grad

    def start(self, summary: SummarySums) -> tuple[np.ndarray, Evaluation]:
        """The log-odds start and F, ∇F (and ∇²F, with full moments) there, with no pass.

        At θ = 0 every row has the same σ(b), so with W = Σw and Y = Σw·y:
        F = softplus(b) − b·Y/W, ∇_θF = (σ·Σw·x − Σw·y·x)/W, ∂_bF = σ − Y/W (zero at
        b = log(Y / (W − Y))), and ∇²F = σ(1 − σ)·Σw·[x, 1][x, 1]ᵀ/W + alpha on θ.
        """
        W, Y = summary.weight, summary.weighted_labels
        if not W > 0:
            raise DataError(f"the total sample weight is {W}; nothing to train on")
        if not 0 < Y < W:
            present = "1" if Y > 0 else "0"
            raise DataError(
                f"the label column holds a single class ({present}); logistic regression "
                "needs rows of both classes"
            )
        intercept = float(np.log(Y / (W - Y))) if self.fit_intercept else 0.0
        sigma = Y / W if self.fit_intercept else 0.5
        params = np.zeros(self.n_params)
        if self.fit_intercept:
            params[-1] = intercept
        grad = np.zeros(self.n_params)
        grad[: self.n_features] = (sigma * summary.first - summary.label_first) / W
        if self.fit_intercept:
            grad[-1] = sigma - Y / W
        curvature = sigma * (1.0 - sigma) / W
        hessian = None
        if summary.moments is not None:
            hessian = self._hessian(curvature * summary.moments)
        diagonal = np.full(self.n_params, curvature * W)  # the intercept's entry
        diagonal[: self.n_features] = curvature * summary.squares + self.alpha
        loss = float(softplus(np.float64(intercept))) - intercept * Y / W
        return params, Evaluation(loss, grad, hessian, hessian_diagonal=diagonal)

    def _penalty(self, coef: np.ndarray) -> float:
        return 0.5 * self.alpha * float(coef @ coef)

    def _hessian(self, data_part: np.ndarray) -> np.ndarray:
        """(d+1)² data curvature over [x, 1] → ∇²F over the parameters, penalty added."""
        n = self.n_params
        hessian = np.array(data_part[:n, :n])
        diagonal = np.arange(self.n_features)
        hessian[diagonal, diagonal] += self.alpha
        return hessian
