"""The objective of DESIGN.md, assembled on the driver from the raw sums of one pass.

    F(θ, b) = (1/Σw)·Σ w·[softplus(z) − y·z] + alpha·(1 − l1_ratio)/2·‖θ‖²,   z = Xθ + b

The intercept b is never penalised. Solvers see a flat parameter vector ``[θ, b]`` (or
``θ`` alone without an intercept) and call ``loss_and_grad``; they never see Dask.
"""

from collections.abc import Callable

import numpy as np

from dasklr.errors import DataError
from dasklr.kernels import LogisticSums

#: Computes the raw sums over all the data for (coef, intercept): one pass.
SumsFunction = Callable[[np.ndarray, float], LogisticSums]


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

    def loss_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """F and ∇F at ``params``: one pass over the data, one division by Σw."""
        coef, intercept = self.split(params)
        s = self.sums(coef, intercept)
        if not s.weight > 0:
            raise DataError(f"the total sample weight is {s.weight}; nothing to train on")
        penalty = 0.5 * self.alpha * float(coef @ coef)
        loss = s.loss / s.weight + penalty
        grad = np.empty(self.n_params, dtype=np.float64)
        grad[: self.n_features] = s.grad_coef / s.weight + self.alpha * coef
        if self.fit_intercept:
            grad[self.n_features] = s.grad_intercept / s.weight
        return loss, grad
