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

With K > 2 classes (multinomial) the parameters are K blocks [θ_k, b_k], one per class,
and the loss is the softmax's Σ w·[logsumexp(z) − z_y]. Adding one vector to every
block changes no probability, so the loss alone has a line (a subspace) of minimisers.
The penalty picks its centre for θ (Σ_k θ_k = 0 at the optimum); for what it does not
pin down — the intercepts always, and θ when alpha = 0 — the objective adds the gauge
term ½·‖Σ_k (the unpinned part of block k)‖². It is 0 at the centred optimum (so F*
is unchanged), and it makes the Hessian non-singular, so Newton needs no special case.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dasklr.errors import DataError
from dasklr.kernels.logistic import LogisticSums, Probe
from dasklr.kernels.numerics import logsumexp
from dasklr.kernels.summary import SummarySums
from dasklr.solvers.protocol import Evaluation, Request, Totals
from dasklr.solvers.state import NonSmooth

#: Runs one pass over all the data for a probe and returns the merged raw sums.
SumsFunction = Callable[[Probe], LogisticSums]

#: Weight of the multinomial gauge term (see the module docstring).
GAUGE = 1.0


@dataclass(frozen=True)
class PenaltyShape:
    """How the penalty varies by coefficient, beyond alpha and l1_ratio.

    ``factor`` (d,) multiplies alpha per feature, in the L2 and the L1 part alike (0: an
    unpenalised control variable), as glmnet's ``penalty.factor``. ``prior_coef`` (B, d),
    in the features' original units, adds ½·prior_strength·‖θ − prior_coef‖² on the
    coefficients (never the intercepts), so a refit moves from a previous model only as
    far as the data warrant. ``low`` ≤ θ ≤ ``high`` bounds the coefficients (binary
    models), e.g. a price coefficient ≤ 0.
    """

    factor: np.ndarray | None = None
    prior_coef: np.ndarray | None = None
    prior_strength: float = 0.0
    #: (d,) bounds of the coefficients in the features' original units (±inf: none)
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @property
    def plain(self) -> bool:
        """The plain penalty: every factor 1 and no prior (the formulas of old, bit for bit)."""
        return self.factor is None and (self.prior_coef is None or self.prior_strength == 0)


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
            raise DataError(
                f"the sample weights sum to zero ({summary.weight}); nothing to train on"
            )
        mean = summary.mean
        assert summary.spread is not None  # a summary taken for scaling has the spreads
        std = np.sqrt(summary.spread / summary.weight)
        # a spread within rounding of the mean is no spread: the feature is constant
        constant = std <= 1e-10 * np.abs(mean) + 1e-300
        kept = 0.0 if center else np.where(mean != 0, 1.0, 0.0)
        inverse = np.where(constant, kept, 1.0 / np.where(constant, 1.0, std))
        return cls(mean=mean if center else np.zeros_like(mean), inverse_scale=inverse)


class LogisticObjective:
    """Mean weighted log-loss plus an L2 penalty, as a function of ``[θ, b]`` (per class).

    ``n_classes`` = 2 is binary logistic regression with one block [θ, b]; K > 2 is the
    multinomial model with K blocks. Labels are class indices 0..K−1.
    """

    def __init__(
        self,
        sums: SumsFunction | None,
        n_features: int,
        *,
        alpha: float,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        scaling: Scaling | None = None,
        class_weight: tuple[float, ...] | None = None,
        n_classes: int = 2,
        hessian_stride: int = 1,
        shape: PenaltyShape | None = None,
    ) -> None:
        self.sums = sums
        #: the Hessian is summed over every hessian_stride-th block of rows (kernels.gram)
        self.hessian_stride = hessian_stride
        self.n_features = n_features
        self.l2 = alpha * (1.0 - l1_ratio)
        self.l1 = alpha * l1_ratio
        self.fit_intercept = fit_intercept
        self.scaling = scaling or Scaling(np.zeros(n_features), np.ones(n_features))
        self.class_weight = class_weight
        self.n_classes = n_classes
        #: parameter blocks: one [θ, b] for binary, one per class for multinomial
        self.n_blocks = 1 if n_classes == 2 else n_classes
        self.block_size = n_features + int(fit_intercept)
        self.shape = shape or PenaltyShape()
        self._set_penalty_shape(self.shape)
        gauge = np.zeros(self.block_size, dtype=bool)
        if self.n_blocks > 1:
            gauge[n_features:] = True  # the intercept
            gauge[:n_features] = alpha == 0 if self.shape.plain else ~self.pinned
        self.gauge = gauge

    def _set_penalty_shape(self, shape: PenaltyShape) -> None:
        """The penalty over the solver's parameters p = θ/s (s: ``Scaling``'s 1/σ):
        ½·Σ ridge_j·p_j² + ½·Σ prior_weight_j·(p_j − prior_center_j)² + Σ l1_j·|p_j|, where
        ridge = l2·factor, l1 = l1·factor and, from ½·λ·(s·p − θ_prev)², prior_weight =
        λ·s² and prior_center = θ_prev/s (0 for a constant feature, s = 0, fixed at 0)."""
        d, s = self.n_features, self.scaling.inverse_scale
        factor = np.ones(d) if shape.factor is None else np.asarray(shape.factor, np.float64)
        if factor.shape != (d,):
            raise ValueError(f"penalty factors: {factor.shape[0]} for {d} features")
        self.ridge = self.l2 * factor
        self.l1_factor = factor
        self.prior_weight = np.zeros(d)
        self.prior_center = np.zeros((self.n_blocks, d))
        if shape.prior_coef is not None and shape.prior_strength > 0:
            prior = np.reshape(np.asarray(shape.prior_coef, np.float64), (self.n_blocks, d))
            self.prior_weight = shape.prior_strength * s**2
            self.prior_center = np.where(s > 0, prior / np.where(s > 0, s, 1.0), 0.0)
        #: the curvature the penalty adds to each coefficient's parameter
        self.quadratic = self.ridge + self.prior_weight
        #: coefficients the penalty pins down (the others need the multinomial gauge)
        self.pinned = (self.quadratic > 0) | (self.l1 * factor > 0)
        self.bounds: tuple[np.ndarray, np.ndarray] | None = None
        #: coefficients held at one value (low = high: an offset's, at 1)
        self.fixed = np.zeros(d, dtype=bool)
        if shape.low is not None and shape.high is not None:
            self.fixed = np.asarray(shape.low) == np.asarray(shape.high)
            # p = θ/s: a bound on θ is one on p for s > 0; a constant feature (s = 0) has
            # θ = 0 whatever p is; intercepts are free
            low = np.full((self.n_blocks, self.block_size), -np.inf)
            high = np.full((self.n_blocks, self.block_size), np.inf)
            safe = np.where(s > 0, s, 1.0)
            low[:, :d] = np.where(s > 0, np.asarray(shape.low, np.float64) / safe, -np.inf)
            high[:, :d] = np.where(s > 0, np.asarray(shape.high, np.float64) / safe, np.inf)
            self.bounds = (low.ravel(), high.ravel())

    @property
    def n_params(self) -> int:
        return self.n_blocks * self.block_size

    @property
    def l1_strength(self) -> np.ndarray | None:
        """Per-parameter weight of |·| in the L1 part (0 for intercepts); None without L1."""
        if self.l1 == 0:
            return None
        strength = np.full((self.n_blocks, self.block_size), self.l1)
        if self.shape.factor is not None:
            strength[:, : self.n_features] *= self.l1_factor
        strength[:, self.n_features :] = 0.0
        return strength.ravel()

    def non_smooth(self) -> NonSmooth | None:
        """The L1 part and the coefficient bounds, as the solvers take them (None: neither)."""
        strength = self.l1_strength
        if self.bounds is None:
            return None if strength is None else NonSmooth(strength)
        low, high = self.bounds
        return NonSmooth(np.zeros(self.n_params) if strength is None else strength, low, high)

    # -- parameters ↔ coefficients on the original features ------------------------------

    def to_original(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solver parameters → (θ, b) of the original features: shapes (B, d) and (B,)
        with B = 1 block for binary, K for multinomial."""
        blocks = params.reshape(self.n_blocks, self.block_size)
        coef = blocks[:, : self.n_features] * self.scaling.inverse_scale
        intercept = blocks[:, self.n_features] if self.fit_intercept else np.zeros(self.n_blocks)
        return coef, intercept - coef @ self.scaling.mean

    def from_original(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """(θ, b) of the original features, shapes (B, d) and (B,) → solver parameters."""
        coef = np.reshape(coef, (self.n_blocks, self.n_features))
        intercept = np.reshape(intercept, (self.n_blocks,))
        scale = self.scaling.inverse_scale
        blocks = np.zeros((self.n_blocks, self.block_size))
        blocks[:, : self.n_features] = np.where(scale > 0, coef / np.where(scale > 0, scale, 1), 0)
        if self.fit_intercept:
            blocks[:, -1] = intercept + coef @ self.scaling.mean
        return blocks.ravel()

    # J = ∂(θ, b)/∂(θ̃, b̃) = [[diag(s), 0], [−(s·μ)ᵀ, 1]] over the augmented vectors of one
    # block (s = 1/σ): diagonal plus one row, so it is applied in O(d), never built.

    def _gradient_to_params(self, grad_coef: np.ndarray, grad_intercept: float) -> np.ndarray:
        """Jᵀ·∇ over one block's augmented vector, cut to its parameters."""
        out = np.empty(self.block_size)
        out[: self.n_features] = self.scaling.inverse_scale * (
            grad_coef - self.scaling.mean * grad_intercept
        )
        if self.fit_intercept:
            out[-1] = grad_intercept
        return out

    def _direction_to_original(self, direction: np.ndarray) -> np.ndarray:
        """J·p: one block's direction over the parameters → over the augmented [θ, b]."""
        d, s = self.n_features, self.scaling.inverse_scale
        line = np.empty(d + 1)
        line[:d] = s * direction[:d]
        line[d] = (direction[d] if self.fit_intercept else 0.0) - line[:d] @ self.scaling.mean
        return line

    def _curvature_to_params(self, data_part: np.ndarray) -> np.ndarray:
        """Jᵀ·H·J for one (d+1)² block of data curvature, cut to the parameters."""
        d, m = self.n_features, self.block_size
        s, shift = self.scaling.inverse_scale, self.scaling.inverse_scale * self.scaling.mean
        right = data_part.copy()  # H·J: columns j < d scaled, minus the intercept column
        right[:, :d] = data_part[:, :d] * s - np.outer(data_part[:, d], shift)
        both = right.copy()  # Jᵀ·(H·J): the same on the rows
        both[:d, :] = right[:d, :] * s[:, None] - np.outer(shift, right[d, :])
        return both[:m, :m]

    # -- evaluation -------------------------------------------------------------------------

    def probe(self, request: Request) -> Probe:
        """What a pass's kernel needs to answer ``request``, over the original features."""
        params, direction = request.params, request.direction
        steps = np.asarray(request.steps, dtype=np.float64)
        intercept: float | np.ndarray
        coef, intercept = self.to_original(params)
        line = None
        if direction is not None and steps.size:
            moves = direction.reshape(self.n_blocks, self.block_size)
            line = np.stack([self._direction_to_original(p) for p in moves])
        if self.n_blocks == 1:  # binary: one coefficient vector
            coef, intercept = coef[0], float(intercept[0])
            line = None if line is None else line[0]
        return Probe(
            coef,
            intercept,
            request.hessian,
            line,
            steps,
            class_weight=self.class_weight,
            diagonal=request.diagonal,
            hessian_stride=self.hessian_stride,
        )

    def evaluate(
        self,
        params: np.ndarray,
        *,
        hessian: bool = False,
        direction: np.ndarray | None = None,
        steps: np.ndarray | tuple = (),
        diagonal: bool = False,
    ) -> Evaluation:
        """F, ∇F (and ∇²F) at ``params``, and F at ``params + s·direction`` for s in ``steps``;
        with ``diagonal``, diag(∇²F) too (O(n·d), not the full matrix).

        Answered by the ``sums`` function given to the constructor (data in memory);
        the driver answers solvers' requests with passes itself (``evaluation``).
        """
        request = Request(params, hessian, direction, steps, diagonal)
        assert self.sums is not None, "this objective was built without a sums function"
        return self.evaluation(request, self.sums(self.probe(request)))

    def evaluation(
        self, request: Request, s: LogisticSums, held_out_loss: float | None = None
    ) -> Evaluation:
        """The answer to ``request`` from the raw sums of its pass: one division by Σw."""
        params, direction = request.params, request.direction
        steps = np.asarray(request.steps, dtype=np.float64)
        check_classes(s.weight, s.weighted_labels)
        W, B = s.weight, self.n_blocks
        grad_coef = np.reshape(s.grad_coef, (B, self.n_features)) / W
        grad_intercept = np.reshape(s.grad_intercept, (B,)) / W
        pairs = zip(grad_coef, grad_intercept, strict=True)
        grad = np.concatenate([self._gradient_to_params(gc, gb) for gc, gb in pairs])
        grad += self._penalty_gradient(params)
        step_losses = s.step_losses / W
        for k, step in enumerate(steps):
            step_losses[k] += self._penalty(params + step * direction)
        return Evaluation(
            loss=s.loss / W + self._penalty(params),
            grad=grad,
            # a sampled Hessian's mean over its rows estimates the mean over all of them
            hessian=None if s.hessian is None else self._hessian(s.hessian / s.hessian_weight),
            step_losses=step_losses,
            hessian_diagonal=None if s.diagonal is None else self._diagonal(s.diagonal, W),
            totals=Totals(s.rows, s.weight, s.weighted_labels),
            held_out_loss=held_out_loss,
        )

    def _diagonal(self, parts: tuple, W: float) -> np.ndarray:
        """diag(Jᵀ·H·J) per block from Σs·x², Σs·x, Σs, plus the penalty and the gauge.

        With the shift μ and scale s of ``Scaling``: s_j²·(Σs·x_j² − 2μ_j·Σs·x_j + μ_j²·Σs).
        """
        B, d = self.n_blocks, self.n_features
        squares, cross, total = (np.reshape(p, (B, -1)) / W for p in parts)
        scale, mu = self.scaling.inverse_scale, self.scaling.mean
        out = np.empty((B, self.block_size))
        out[:, :d] = scale**2 * (squares - 2 * mu * cross + mu**2 * total) + self._curvature()
        if self.fit_intercept:
            out[:, d] = total[:, 0]
        if B > 1:
            out[:, self.gauge] += GAUGE
        return out.ravel()

    def loss_and_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        evaluation = self.evaluate(params)
        return evaluation.loss, evaluation.grad

    # -- the start --------------------------------------------------------------------------

    def start(self, summary: SummarySums) -> tuple[np.ndarray, Evaluation | None]:
        """The log-odds start and F, ∇F (and ∇²F, with full moments) there, with no pass.

        At θ = 0 every row has the same probabilities p, so with W = Σw and W_k the
        weight of class k: F = logsumexp(b) − Σ_k b_k·W_k/W, ∇_θk F = (p_k·Σw·x −
        Σ_{y=k} w·x)/W, ∇_b F = p − W_k/W (zero at b_k = log W_k, centred), and ∇²F =
        (diag(p) − p·pᵀ) ⊗ Σw·[x, 1][x, 1]ᵀ/W plus the penalty. Binary is the case of
        one block, where p = σ(b) and b = log(Y / (W − Y)). With class weights the
        start is the class-weighted log-odds, but the moments are not split by class,
        so the evaluation there is left to a pass (None).
        """
        W = summary.weight
        check_classes(W, summary.weighted_labels)
        class_weights = self._class_totals(summary)
        intercepts = np.zeros(self.n_blocks)
        if self.fit_intercept:
            scaled = class_weights * np.asarray(self.class_weight or 1.0)
            log_weights = np.log(scaled)
            intercepts = log_weights[1:] - log_weights[:1] if self.n_blocks == 1 else log_weights
            intercepts = intercepts - (intercepts.mean() if self.n_blocks > 1 else 0.0)
        params = self.from_original(np.zeros((self.n_blocks, self.n_features)), intercepts)
        if self.class_weight is not None:
            return params, None
        share = class_weights / W  # W_k / W
        margins = intercepts if self.n_blocks > 1 else np.array([0.0, intercepts[0]])
        # the probabilities at the start, alike for all rows: the class shares with an
        # intercept (exactly, not through exp), uniform without
        probability = share if self.fit_intercept else np.full(share.size, 1.0 / share.size)
        blocks = probability[-self.n_blocks :]  # binary: the block is class 1
        labels_first = np.reshape(summary.label_first, (self.n_blocks, self.n_features))
        grad = np.concatenate(
            [
                self._gradient_to_params((p * summary.first - first) / W, p - y)
                for p, first, y in zip(blocks, labels_first, share[-self.n_blocks :], strict=True)
            ]
        )
        loss = float(logsumexp(margins[None, :])[0] - margins @ share)
        if not self.shape.plain:  # a prior's penalty is not 0 at θ = 0
            loss += self._penalty(params)
            grad = grad + self._penalty_gradient(params)
        hessian = None
        if summary.moments is not None:
            coupling = np.diag(blocks) - np.outer(blocks, blocks)
            if self.n_blocks == 1:
                coupling = blocks * (1.0 - blocks)[None, :]
            moments = summary.moments / summary.moments_weight  # mean of [x, 1][x, 1]ᵀ
            hessian = self._hessian(np.kron(coupling, moments))
        diagonal = None
        if summary.spread is not None:  # L-BFGS's first scaling; Newton has the Hessian
            diagonal = np.concatenate(
                [self._start_diagonal(summary, p * (1.0 - p) / W) for p in blocks]
            )
            diagonal += np.tile(GAUGE * self.gauge, self.n_blocks)
        totals = Totals(summary.rows, summary.weight, summary.weighted_labels)
        return params, Evaluation(loss, grad, hessian, hessian_diagonal=diagonal, totals=totals)

    def _class_totals(self, summary: SummarySums) -> np.ndarray:
        """Σw per class: (W − Σw·y, Σw·y) for binary."""
        totals = np.asarray(summary.weighted_labels, dtype=np.float64)
        if self.n_blocks == 1:
            return np.array([summary.weight - float(totals), float(totals)])
        return totals

    def _start_diagonal(self, summary: SummarySums, curvature: float) -> np.ndarray:
        """diag(Jᵀ·M·J)·curvature + alpha from the spreads: Σw·(x − μ)² for the shift μ."""
        s, mu = self.scaling.inverse_scale, self.scaling.mean
        shifted = summary.spread + summary.weight * (summary.mean - mu) ** 2
        diagonal = np.full(self.block_size, curvature * summary.weight)
        diagonal[: self.n_features] = curvature * s**2 * shifted + self._curvature()
        return diagonal

    # -- penalty and curvature --------------------------------------------------------------

    def _curvature(self) -> float | np.ndarray:
        """The penalty's curvature per coefficient: l2, or per feature when shaped."""
        return self.l2 if self.shape.plain else self.quadratic

    def penalty(self, params: np.ndarray) -> float:
        """The smooth penalty at ``params`` (without the gauge): what the objective adds
        to the mean loss, so that the log-likelihood can be taken back out of it."""
        blocks = params.reshape(self.n_blocks, self.block_size)
        theta = blocks[:, : self.n_features]
        if self.shape.plain:
            flat = theta.ravel()
            return 0.5 * self.l2 * float(flat @ flat)
        shifted = theta - self.prior_center
        return 0.5 * float(np.sum(self.ridge * theta**2) + np.sum(self.prior_weight * shifted**2))

    def original_curvature(self) -> np.ndarray:
        """The penalty's curvature per coefficient in the features' original units: θ =
        s·p, so ½·ridge·p² curves by ridge/s², the prior by λ (a constant feature, s = 0,
        is fixed at 0 and gets 0; a coefficient held fixed by its bounds gets inf)."""
        s = self.scaling.inverse_scale
        if self.shape.plain:
            return np.where(s > 0, self.l2 / np.where(s > 0, s, 1.0) ** 2, 0.0)
        ridge = np.where(s > 0, self.ridge / np.where(s > 0, s, 1.0) ** 2, 0.0)
        prior = self.shape.prior_strength if self.shape.prior_coef is not None else 0.0
        # a coefficient held fixed is not estimated: infinite curvature says so
        return np.where(self.fixed, np.inf, np.where(s > 0, ridge + prior, 0.0))

    def _penalty(self, params: np.ndarray) -> float:
        """The smooth penalty plus, for K classes, the gauge term (module docstring)."""
        value = self.penalty(params)
        blocks = params.reshape(self.n_blocks, self.block_size)
        if self.n_blocks > 1:
            total = blocks[:, self.gauge].sum(axis=0)
            value += 0.5 * GAUGE * float(total @ total)
        return value

    def _penalty_gradient(self, params: np.ndarray) -> np.ndarray:
        blocks = params.reshape(self.n_blocks, self.block_size)
        grad = np.zeros_like(blocks)
        theta = blocks[:, : self.n_features]
        if self.shape.plain:
            grad[:, : self.n_features] = self.l2 * theta
        else:
            grad[:, : self.n_features] = self.ridge * theta + self.prior_weight * (
                theta - self.prior_center
            )
        if self.n_blocks > 1:
            grad[:, self.gauge] += GAUGE * blocks[:, self.gauge].sum(axis=0)
        return grad.ravel()

    def _hessian(self, data_part: np.ndarray) -> np.ndarray:
        """Blocks of (d+1)² data curvature over [x, 1] → Jᵀ·H·J per block over the
        parameters, with the penalty (and the gauge) added."""
        B, m, a = self.n_blocks, self.block_size, self.n_features + 1
        hessian = np.empty((B * m, B * m))
        for k in range(B):
            for j in range(B):
                part = data_part[k * a : (k + 1) * a, j * a : (j + 1) * a]
                hessian[k * m : (k + 1) * m, j * m : (j + 1) * m] = self._curvature_to_params(part)
        theta = (np.arange(B)[:, None] * m + np.arange(self.n_features)[None, :]).ravel()
        hessian[theta, theta] += self.l2 if self.shape.plain else np.tile(self.quadratic, B)
        if B > 1:
            gauged = np.arange(B)[:, None] * m + np.flatnonzero(self.gauge)[None, :]
            for j in range(gauged.shape[1]):
                hessian[np.ix_(gauged[:, j], gauged[:, j])] += GAUGE
        return hessian


def check_classes(weight: float, weighted_labels) -> None:
    """Refuse data without weight, or whose weight is all in one class.

    ``weighted_labels`` is Σw·y (binary) or Σw per class (K classes).
    """
    if not weight > 0:
        raise DataError(f"the sample weights sum to zero ({weight}); nothing to train on")
    per_class = np.asarray(weighted_labels, dtype=np.float64)
    if per_class.ndim == 0:
        per_class = np.array([weight - float(per_class), float(per_class)])
        per_class[0] = max(per_class[0], 0.0)
    present = np.flatnonzero(per_class > 0)
    if present.size < 2:
        only = f"class {present[0]}" if present.size else "no class"
        raise DataError(
            f"only one class has positive total sample weight ({only}, 0-based in sorted "
            "order): the others have no rows, or all their rows have weight 0. A single "
            "class cannot be fitted; logistic regression needs weight in at least two classes"
        )
    if present.size < per_class.size:
        missing = [int(k) for k in np.flatnonzero(per_class <= 0)]
        raise DataError(
            f"classes {missing} (0-based, in sorted order) have no rows or zero total "
            "weight; drop them from the classes or give their rows weight"
        )
