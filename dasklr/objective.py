"""The objective of DESIGN.md, assembled on the driver from the raw sums of one pass.

    F(θ, b) = (1/Σw)·Σ w·[softplus(z) − y·z] + alpha·(1 − l1_ratio)/2·‖θ‖²   (smooth part)
              + alpha·l1_ratio·‖θ‖₁                                          (L1 part)

with z = Xθ + b. The intercept b is never penalised. Solvers see a flat parameter vector
``[θ, b]`` (or ``θ`` alone without an intercept) and call ``evaluate`` for the smooth
part; the L1 part is separable and known in closed form (``l1_strength``), so solvers
that support it handle it themselves (proximal steps). They never see Dask.

With ``standardize``, the parameters are those of the standardised features
x̃ = (x − μ)/σ (μ = 0 without an intercept), as in Spark MLlib: the penalty applies to
them, but no scaled copy of X is made. The kernel runs on the original features with
the equivalent coefficients θ = θ̃/σ, b = b̃ − θ·μ, and the chain rule maps the sums
back: with J = ∂(θ, b)/∂(θ̃, b̃), ∇F̃ = Jᵀ∇F and ∇²F̃ = Jᵀ∇²F·J. A constant feature
(σ = 0) gets 1/σ = 0: its coefficient stays 0 and nothing divides by zero.
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


@dataclass(frozen=True)
class Scaling:
    """Feature means and 1/σ (0 for constant features) from the summary pass."""

    mean: np.ndarray
    inverse_scale: np.ndarray

    @classmethod
    def from_summary(cls, summary: SummarySums, *, center: bool) -> "Scaling":
        """Weighted mean and population standard deviation (ddof = 0), as StandardScaler.

        A constant feature gets 1/σ = 0 (coefficient 0) when the data is centred: the
        intercept carries it. Without an intercept a constant non-zero feature is the
        intercept, so it keeps its original scale (1/σ = 1) instead of being dropped.
        """
        if not summary.weight > 0:
            raise DataError(f"the total sample weight is {summary.weight}; nothing to train on")
        mean = summary.mean
        std = np.sqrt(summary.spread / summary.weight)
        # a spread within rounding of the mean is no spread: the feature is constant
        constant = std <= 1e-10 * np.abs(mean) + 1e-300
        kept = 0.0 if center else np.where(mean != 0, 1.0, 0.0)
        inverse = np.where(constant, kept, 1.0 / np.where(constant, 1.0, std))
        return cls(mean=mean if center else np.zeros_like(mean), inverse_scale=inverse)


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
        scaling: Scaling | None = None,
        class_weight: tuple[float, float] | None = None,
    ) -> None:
        self.sums = sums
        self.n_features = n_features
        self.l2 = alpha * (1.0 - l1_ratio)
        self.l1 = alpha * l1_ratio
        self.fit_intercept = fit_intercept
        self.scaling = scaling or Scaling(np.zeros(n_features), np.ones(n_features))
        self.class_weight = class_weight

    @property
    def n_params(self) -> int:
        return self.n_features + int(self.fit_intercept)

    @property
    def l1_strength(self) -> np.ndarray | None:
        """Per-parameter weight of |·| in the L1 part (0 for the intercept); None without L1."""
        if self.l1 == 0:
            return None
        strength = np.full(self.n_params, self.l1)
        strength[self.n_features :] = 0.0
        return strength

    # -- parameters ↔ coefficients on the original features ------------------------------

    def to_original(self, params: np.ndarray) -> tuple[np.ndarray, float]:
        """Solver parameters → (θ, b) of the original features."""
        coef = params[: self.n_features] * self.scaling.inverse_scale
        intercept = float(params[self.n_features]) if self.fit_intercept else 0.0
        return coef, intercept - float(coef @ self.scaling.mean)

    def from_original(self, coef: np.ndarray, intercept: float) -> np.ndarray:
        """(θ, b) of the original features → solver parameters (for warm starts)."""
        scale = self.scaling.inverse_scale
        params = np.zeros(self.n_params)
        params[: self.n_features] = np.where(scale > 0, coef / np.where(scale > 0, scale, 1), 0)
        if self.fit_intercept:
            params[-1] = intercept + float(coef @ self.scaling.mean)
        return params

    # J = ∂(θ, b)/∂(θ̃, b̃) = [[diag(s), 0], [−(s·μ)ᵀ, 1]] over the augmented vectors
    # (s = 1/σ): diagonal plus one row, so it is applied in O(d), never built.

    def _gradient_to_params(self, grad_coef: np.ndarray, grad_intercept: float) -> np.ndarray:
        """Jᵀ·∇ over the augmented vector, cut to the parameters."""
        out = np.empty(self.n_params)
        out[: self.n_features] = self.scaling.inverse_scale * (
            grad_coef - self.scaling.mean * grad_intercept
        )
        if self.fit_intercept:
            out[-1] = grad_intercept
        return out

    def _direction_to_original(self, direction: np.ndarray) -> np.ndarray:
        """J·p: a direction over the parameters → over the augmented original [θ, b]."""
        d, s = self.n_features, self.scaling.inverse_scale
        line = np.empty(d + 1)
        line[:d] = s * direction[:d]
        line[d] = (direction[d] if self.fit_intercept else 0.0) - line[:d] @ self.scaling.mean
        return line

    # -- evaluation -------------------------------------------------------------------------

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
        coef, intercept = self.to_original(params)
        steps = np.asarray(steps, dtype=np.float64)
        line = None
        if direction is not None and steps.size:
            line = self._direction_to_original(direction)
        probe = Probe(coef, intercept, hessian, line, steps, class_weight=self.class_weight)
        s = self.sums(probe)
        _check_classes(s.weight, s.weighted_labels)
        theta = params[: self.n_features]
        grad = self._gradient_to_params(s.grad_coef / s.weight, s.grad_intercept / s.weight)
        grad[: self.n_features] += self.l2 * theta
        step_losses = s.step_losses / s.weight
        for k, step in enumerate(steps):
            step_losses[k] += self._penalty(theta + step * direction[: self.n_features])
        return Evaluation(
            loss=s.loss / s.weight + self._penalty(theta),
            grad=grad,
            hessian=None if s.hessian is None else self._hessian(s.hessian / s.weight),
            step_losses=step_losses,
        )

    def loss_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        evaluation = self.evaluate(params)
        return evaluation.loss, evaluation.grad

    def start(self, summary: SummarySums) -> tuple[np.ndarray, Evaluation | None]:
        """The log-odds start and F, ∇F (and ∇²F, with full moments) there, with no pass.

        At θ = 0 every row has the same σ(b), so with W = Σw and Y = Σw·y:
        F = softplus(b) − b·Y/W, ∇_θF = (σ·Σw·x − Σw·y·x)/W, ∂_bF = σ − Y/W (zero at
        b = log(Y / (W − Y))), and ∇²F = σ(1 − σ)·Σw·[x, 1][x, 1]ᵀ/W + alpha on θ.
        With class weights the start is the class-weighted log-odds, but the moments are
        not split by class, so the evaluation there is left to a pass (None).
        """
        W, Y = summary.weight, summary.weighted_labels
        _check_classes(W, Y)
        params = np.zeros(self.n_params)
        if self.class_weight is not None:
            if self.fit_intercept:
                params[-1] = np.log(self.class_weight[1] * Y / (self.class_weight[0] * (W - Y)))
            return params, None
        intercept = float(np.log(Y / (W - Y))) if self.fit_intercept else 0.0
        sigma = Y / W if self.fit_intercept else 0.5
        if self.fit_intercept:
            params[-1] = intercept
        grad = self._gradient_to_params((sigma * summary.first - summary.label_first) / W, 0.0)
        if self.fit_intercept:
            grad[-1] = sigma - Y / W
        curvature = sigma * (1.0 - sigma) / W
        hessian = None
        if summary.moments is not None:
            hessian = self._hessian(curvature * summary.moments)
        loss = float(softplus(np.float64(intercept))) - intercept * Y / W
        diagonal = self._start_diagonal(summary, curvature)
        return params, Evaluation(loss, grad, hessian, hessian_diagonal=diagonal)

    def _start_diagonal(self, summary: SummarySums, curvature: float) -> np.ndarray:
        """diag(Jᵀ·M·J)·curvature + alpha from the spreads: Σw·(x − μ)² for the shift μ."""
        s, mu = self.scaling.inverse_scale, self.scaling.mean
        shifted = summary.spread + summary.weight * (summary.mean - mu) ** 2
        diagonal = np.full(self.n_params, curvature * summary.weight)
        diagonal[: self.n_features] = curvature * s**2 * shifted + self.l2
        return diagonal

    def _penalty(self, theta: np.ndarray) -> float:
        return 0.5 * self.l2 * float(theta @ theta)

    def _hessian(self, data_part: np.ndarray) -> np.ndarray:
        """(d+1)² data curvature over [x, 1] → Jᵀ·H·J over the parameters, penalty added."""
        d, n = self.n_features, self.n_params
        s, shift = self.scaling.inverse_scale, self.scaling.inverse_scale * self.scaling.mean
        right = data_part.copy()  # H·J: columns j < d scaled, minus the intercept column
        right[:, :d] = data_part[:, :d] * s - np.outer(data_part[:, d], shift)
        both = right.copy()  # Jᵀ·(H·J): the same on the rows
        both[:d, :] = right[:d, :] * s[:, None] - np.outer(shift, right[d, :])
        hessian = both[:n, :n]
        diagonal = np.arange(self.n_features)
        hessian[diagonal, diagonal] += self.l2
        return hessian


def _check_classes(weight: float, weighted_labels: float) -> None:
    """Refuse data without weight, or whose weight is all in one class."""
    if not weight > 0:
        raise DataError(f"the total sample weight is {weight}; nothing to train on")
    if not 0 < weighted_labels < weight:
        present = "1" if weighted_labels > 0 else "0"
        raise DataError(
            f"the label column holds a single class ({present}); logistic regression "
            "needs rows of both classes"
        )
