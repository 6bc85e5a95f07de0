"""The fixed fits whose exact bits ``fits.json`` records (``record.py`` wrote it).

Each case fits on the session cluster and returns plain numbers: coefficients,
intercepts, the objective of every history entry, passes and iterations, as
``float.hex`` strings where they are floats, so that a comparison is bit for bit.
The data is generated here from fixed seeds and split into several chunks, so the tree
reduction's order matters too.
"""

import contextlib
from pathlib import Path

import dask.array as da
import numpy as np
from threadpoolctl import threadpool_info

import dasklr
from dasklr.data.synthetic import make_parquet_dataset
from dasklr.fit.checkpoint import CheckpointPlan, read_checkpoint

ROWS, FEATURES = 3000, 5


def _binary(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, FEATURES)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0, 1, 0, -2, 0]
    z = X @ [1.0, -0.5, 0.8, 0.2, 0.0] + 0.3
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-z))).astype(float)
    w = rng.uniform(0.2, 2.0, size=ROWS)
    return X, y, w


def _multinomial(seed: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, FEATURES))
    Z = X @ rng.normal(size=(FEATURES, 3))
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in P])
    return X, y.astype(float)


def _chunked(*arrays):
    return [None if a is None else da.from_array(a, chunks=700) for a in arrays]


def environment() -> dict:
    """What the rounding of the bits depends on: NumPy, the BLAS it calls (another
    OpenBLAS build may sum a product in another order and differ in the last bit), and
    the SIMD extensions NumPy's loops dispatch to on this CPU (AVX-512 sums in other
    lanes than AVX2: the same wheels give other last bits on another CPU)."""
    blas = [
        f"{lib['internal_api']} {lib['version']} {lib.get('architecture')}"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    ]
    return {"numpy": np.__version__, "blas": sorted(blas), "simd": _simd_found()}


def _simd_found() -> list[str]:
    """The SIMD targets NumPy found on this CPU, as ``numpy.show_runtime()`` lists them."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return sorted(name for name in __cpu_dispatch__ if __cpu_features__.get(name))


def _hex(values) -> list[str]:
    return [float(v).hex() for v in np.ravel(np.asarray(values, dtype=np.float64))]


def bits(model) -> dict:
    return {
        "coef": _hex(model.coef_),
        "intercept": _hex(model.intercept_),
        "objectives": _hex([h["objective"] for h in model.history_]),
        "n_iter": int(model.n_iter_),
        "n_passes": int(model.n_passes_),
        "converged": bool(model.converged_),
    }


def _fit(client, data, **params):
    X, y, *rest = data
    w = rest[0] if rest else None
    X, y, w = _chunked(X, y, w)
    model = dasklr.LogisticRegression(client=client, **params)
    return bits(model.fit(X, y, w))


def binary_newton(client, tmp):
    return _fit(client, _binary()[:2], alpha=1e-3, solver="newton", tol=1e-10)


def binary_lbfgs(client, tmp):
    return _fit(client, _binary()[:2], alpha=1e-3, solver="lbfgs", tol=1e-8)


def binary_gd(client, tmp):
    return _fit(client, _binary()[:2], alpha=1e-2, solver="gd", tol=1e-6, max_iter=300)


def unpenalised_newton(client, tmp):
    return _fit(client, _binary()[:2], solver="newton", tol=1e-10)


def multinomial_newton(client, tmp):
    return _fit(client, _multinomial(), alpha=1e-3, solver="newton", tol=1e-10)


def multinomial_lbfgs(client, tmp):
    return _fit(client, _multinomial(), alpha=1e-3, solver="lbfgs", tol=1e-8)


def l1_newton(client, tmp):
    return _fit(client, _binary()[:2], alpha=2e-2, l1_ratio=1.0, solver="newton", tol=1e-9)


def l1_lbfgs(client, tmp):
    return _fit(client, _binary()[:2], alpha=2e-2, l1_ratio=1.0, solver="lbfgs", tol=1e-8)


def elastic_net(client, tmp):
    return _fit(client, _binary()[:2], alpha=2e-2, l1_ratio=0.5, solver="newton", tol=1e-9)


def weighted_balanced(client, tmp):
    return _fit(client, _binary(), alpha=1e-3, class_weight="balanced", solver="newton", tol=1e-10)


def standardized(client, tmp):
    return _fit(client, _binary()[:2], alpha=1e-2, standardize=True, solver="lbfgs", tol=1e-8)


def early_stopping(client, tmp):
    return _fit(
        client,
        _binary()[:2],
        alpha=1e-4,
        solver="gd",
        tol=1e-9,
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=3,
    )


def grid_cv(client, tmp):
    X, y, w = _binary()
    X, y, w = _chunked(X, y, w)
    model = dasklr.LogisticRegressionCV(
        alphas=[1e-1, 1e-2, 1e-3], cv=3, solver="newton", tol=1e-9, client=client
    ).fit(X, y, w)
    return {
        **bits(model),
        "alpha": float(model.alpha_).hex(),
        "scores": _hex(model.scores_),
        "path_coef": _hex(model.path_.coef),
        "path_passes": model.path_.passes.tolist(),
    }


def parquet_newton(client, tmp):
    """Parquet input of 300k rows: Newton's Hessian from a sample of row blocks."""
    make_parquet_dataset(Path(tmp) / "data", 300_000, 8, n_files=3, row_group_rows=50_000)
    model = dasklr.LogisticRegression(alpha=1e-4, tol=1e-9, client=client)
    return bits(model.fit(dasklr.read_parquet(Path(tmp) / "data", label="y")))


class _Crash(Exception):
    pass


def checkpoint_resume(client, tmp):
    """L-BFGS stopped by an error at iteration 7, resumed from its checkpoint."""
    X, y = _chunked(*_binary()[:2])
    plan = CheckpointPlan(path=Path(tmp) / "ckpt", every=2, identity={})

    def crash(record):
        if record.iteration == 7:
            raise _Crash

    params = {"alpha": 1e-3, "solver": "lbfgs", "tol": 1e-9, "client": client}
    with contextlib.suppress(_Crash):
        dasklr.LogisticRegression(**params).fit(X, y, callbacks=[crash], checkpoint=plan)
    resumed = dasklr.LogisticRegression(**params).fit(
        X, y, resume=read_checkpoint(plan.path), checkpoint=plan
    )
    return bits(resumed)


CASES = {
    f.__name__: f
    for f in (
        binary_newton,
        binary_lbfgs,
        binary_gd,
        unpenalised_newton,
        multinomial_newton,
        multinomial_lbfgs,
        l1_newton,
        l1_lbfgs,
        elastic_net,
        weighted_balanced,
        standardized,
        early_stopping,
        grid_cv,
        parquet_newton,
        checkpoint_resume,
    )
}
