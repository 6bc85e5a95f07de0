"""Inference for a fitted binary model: standard errors, tests, likelihoods.

The observed information is the Hessian of the log-likelihood at the optimum, Σw·Σ ×
∇²F. Newton's last step already holds ∇²F over the solver's parameters, so the summary
costs no pass: it is mapped to the original coefficients with the same linear map J as
the coefficients (``LogisticObjective``), cov = J·(W·∇²F)⁻¹·Jᵀ. With an L2 penalty the
Hessian includes it, which gives the usual (approximate) covariance of a ridge fit; L1
fits are refused (no standard errors after selection).

Only the standard library is needed: p-values from ``math.erfc``, normal quantiles from
``statistics.NormalDist``, the likelihood-ratio test from the χ² survival function below.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class FitStatistics:
    """What ``summary()`` needs of a converged binary fit without L1, besides the
    coefficients: the log-likelihoods at the optimum and of the intercept-only model, the
    rows, the penalty's curvature per coefficient (for the bread of a covariance pass),
    Newton's covariance of [θ, b] when it came for free, and why there is none when the
    information is singular."""

    llf: float
    llnull: float
    nobs: int
    penalty: np.ndarray
    cov: np.ndarray | None = None
    singular: str | None = None


@dataclass(frozen=True)
class Summary:
    """Coefficient table in the order [intercept, features…] and fit statistics."""

    names: np.ndarray
    params: np.ndarray
    std_errors: np.ndarray
    z: np.ndarray
    p_values: np.ndarray
    conf_int: np.ndarray
    llf: float
    llnull: float
    pseudo_r2: float
    aic: float
    bic: float
    lr_pvalue: float
    nobs: int
    cov_type: str
    level: float

    def __str__(self) -> str:
        low, high = f"[{(1 - self.level) / 2:.3f}", f"{1 - (1 - self.level) / 2:.3f}]"
        lines = [
            f"Logistic regression, {self.nobs} rows, covariance {self.cov_type}",
            f"log-likelihood {self.llf:.6g}  null {self.llnull:.6g}  pseudo R² "
            f"{self.pseudo_r2:.4f}  AIC {self.aic:.6g}  BIC {self.bic:.6g}  "
            f"LR test p {self.lr_pvalue:.3g}",
            f"{'':>16s} {'coef':>11s} {'std err':>11s} {'z':>8s} {'P>|z|':>8s} "
            f"{low:>11s} {high:>11s}",
        ]
        for row in zip(
            self.names,
            self.params,
            self.std_errors,
            self.z,
            self.p_values,
            self.conf_int,
            strict=True,
        ):
            name, coef, se, z, p, (lo, hi) = row
            lines.append(
                f"{str(name)[:16]:>16s} {coef:11.4g} {se:11.4g} {z:8.3f} {p:8.3g} "
                f"{lo:11.4g} {hi:11.4g}"
            )
        return "\n".join(lines)

    def to_frame(self):
        """The coefficient table as a pandas DataFrame (pandas is optional: the one
        method that needs it says so when it is missing)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Summary.to_frame() needs pandas (pip install pandas); str(summary) and "
                "the arrays (params, std_errors, …) do not"
            ) from None

        return pd.DataFrame(
            {
                "coef": self.params,
                "std_err": self.std_errors,
                "z": self.z,
                "p_value": self.p_values,
                "ci_low": self.conf_int[:, 0],
                "ci_high": self.conf_int[:, 1],
            },
            index=[str(name) for name in self.names],
        )


def summarise_fit(
    names,
    params: np.ndarray,
    cov: np.ndarray,
    llf: float,
    llnull: float,
    nobs: int,
    *,
    df_model: int,
    cov_type: str,
    level: float,
) -> Summary:
    """The table and statistics from estimates, their covariance and the log-likelihoods."""
    std_errors = np.sqrt(np.diag(cov))
    z = params / std_errors
    normal = NormalDist()
    # erfc, not 1 − erf: p-values far below 1e-16 keep their digits
    p_values = np.array([math.erfc(abs(value) / math.sqrt(2.0)) for value in z])
    critical = normal.inv_cdf(1.0 - (1.0 - level) / 2.0)
    conf_int = np.column_stack([params - critical * std_errors, params + critical * std_errors])
    k = params.size
    return Summary(
        names=np.asarray(names, dtype=object),
        params=params,
        std_errors=std_errors,
        z=z,
        p_values=p_values,
        conf_int=conf_int,
        llf=llf,
        llnull=llnull,
        pseudo_r2=1.0 - llf / llnull,
        aic=-2.0 * llf + 2.0 * k,
        bic=-2.0 * llf + k * math.log(nobs),
        lr_pvalue=chi2_survival(2.0 * (llf - llnull), df_model) if llnull == llnull else np.nan,
        nobs=nobs,
        cov_type=cov_type,
        level=level,
    )


def chi2_survival(x: float, df: int) -> float:
    """P(χ²_df > x) for an integer df, from the closed forms of Q(df/2, x/2), in log space.

    Even df: e^{-h}·Σ_{i<df/2} hⁱ/i!; odd df: erfc(√h) + e^{-h}·Σ_{i<(df-1)/2} h^{i+½}/Γ(i+3/2),
    with h = x/2.
    """
    if x <= 0:
        return 1.0
    h = x / 2.0
    if df % 2 == 0:
        terms = [i * math.log(h) - math.lgamma(i + 1) for i in range(df // 2)]
        head = 0.0
    else:
        terms = [(i + 0.5) * math.log(h) - math.lgamma(i + 1.5) for i in range((df - 1) // 2)]
        head = math.erfc(math.sqrt(h))
    if not terms:
        return head
    top = max(terms)
    tail = math.exp(top - h) * sum(math.exp(t - top) for t in terms)
    return min(1.0, head + tail)
