"""BG/NBD: how many more purchases will each customer make, and is the customer still "alive"?

The beta-geometric / negative-binomial distribution (BG/NBD) model describes a non-contractual
business (no cancellations are observed, customers just silently stop buying):

* while a customer is active, they buy at their own steady rate ``λ`` (purchases per time unit);
  rates differ across customers following a gamma distribution with shape ``r`` and rate ``α``;
* after every repeat purchase the customer may drop out for good, with their own probability ``p``;
  dropout probabilities differ across customers following a beta distribution ``Beta(a, b)``.

From three numbers per customer -- *frequency* ``x`` (number of repeat purchases, i.e. all purchases
but the first), *recency* ``t_x`` (time of the last purchase, counted from the first purchase) and
*age* ``T`` (time from the first purchase to the end of the observation window) -- the model yields

* :meth:`BGNBDModel.p_alive` -- the probability the customer has not silently churned;
* :meth:`BGNBDModel.expected_purchases` -- the expected number of purchases in the next ``t`` units;
* :meth:`BGNBDModel.expected_purchases_population` -- the expected repeat purchases of a brand-new
  customer over their first ``t`` units (for fitted-vs-actual charts, see
  :func:`expected_population_curve`).

All times must use one unit chosen by the caller (days or weeks); the fitted ``α`` is in that unit.

Reference: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284 (likelihood,
E[X(t)] and the conditional expectation); Fader, Hardie & Lee (2008), "Computing P(alive) Using the
BG/NBD Model" (note).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special
from threadpoolctl import ThreadpoolController

from metrics.models.fitted_model import FitResult, FittedModel, ModelFitError

__all__ = [
    "BGNBDModel",
    "BGNBDParams",
    "FitResult",
    "ModelFitError",
    "expected_population_curve",
    "group_customers",
    "simulate_bgnbd",
]

FloatArray = NDArray[np.float64]

#: A fit needs at least this many customers ...
MIN_CUSTOMERS = 2
#: ... and at least this many of them must have made a repeat purchase.
MIN_REPEAT_BUYERS = 10

# Every parameter is optimised on the log scale inside these bounds (about 1e-6 .. 1e6).
_LOG_BOUND = 13.8
# Starting points (r, α / time scale, a, b); α is relative to the mean customer age, see ``fit``.
_BGNBD_STARTS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (0.5, 0.2, 0.8, 3.0),
    (0.25, 0.05, 0.5, 1.5),
    (2.0, 2.0, 2.0, 8.0),
)


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD population parameters.

    ``r`` and ``alpha`` describe how often customers buy while active: the average purchase rate is
    ``r / alpha`` purchases per time unit. ``a`` and ``b`` describe how quickly they churn: the average
    probability of dropping out after any purchase is ``a / (a + b)``.
    """

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=float)


# --------------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------------


def _as_float(name: str, values: ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ModelFitError(f"{name} contains missing or infinite values")
    return arr


def _check_rfm(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> None:
    if np.any(frequency < 0) or np.any(frequency != np.round(frequency)):
        raise ModelFitError("frequency must be a whole number of repeat purchases (0, 1, 2, ...)")
    if np.any(recency < 0) or np.any(T < 0):
        raise ModelFitError("recency and T must not be negative")
    # A tiny tolerance for recency/T that went through floating-point unit conversions.
    if np.any(recency > T * (1 + 1e-9) + 1e-12):
        raise ModelFitError("recency (time of last purchase) cannot exceed T (customer age)")


def _rfm_arrays(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated, broadcast float arrays (any matching shape) for the prediction methods."""
    x, t_x, age = (
        _as_float("frequency", frequency),
        _as_float("recency", recency),
        _as_float("T", T),
    )
    try:
        x, t_x, age = np.broadcast_arrays(x, t_x, age)
    except ValueError as exc:
        raise ModelFitError("frequency, recency and T must have the same length") from exc
    _check_rfm(x, t_x, age)
    return x, np.minimum(t_x, age), age


def _fit_arrays(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    x = _as_float("frequency", frequency).ravel()
    t_x = _as_float("recency", recency).ravel()
    age = _as_float("T", T).ravel()
    w = np.ones_like(x) if weights is None else _as_float("weights", weights).ravel()
    if not (x.size == t_x.size == age.size == w.size):
        raise ModelFitError(
            "frequency, recency, T (and weights) must have the same length; got "
            f"{x.size}, {t_x.size}, {age.size} and {w.size}"
        )
    if np.any(w < 0):
        raise ModelFitError("weights (customer counts) must not be negative")
    _check_rfm(x, t_x, age)
    keep = w > 0
    if not np.all(keep):
        x, t_x, age, w = x[keep], t_x[keep], age[keep], w[keep]
    return x, np.minimum(t_x, age), age, w


def group_customers(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.int64]]:
    """Collapse customers with identical (frequency, recency, T) into one row with a count.

    With dates rounded to whole days most customers share their row with many others (everyone with
    no repeat purchase and the same first-purchase date, for a start), so fitting the grouped rows with
    ``weights=counts`` gives the same answer much faster.

    Returns ``(x, t_x, T, counts)`` sorted by ``x``, then ``t_x``, then ``T``.
    """
    x = np.asarray(frequency, dtype=float).ravel()
    t_x = np.asarray(recency, dtype=float).ravel()
    age = np.asarray(T, dtype=float).ravel()
    if not (x.size == t_x.size == age.size):
        raise ValueError("frequency, recency and T must have the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(age))):
        raise ValueError("frequency, recency and T must not contain missing or infinite values")
    if x.size == 0:
        empty = np.empty(0)
        return empty, empty.copy(), empty.copy(), np.empty(0, dtype=np.int64)
    # Same result as np.unique(rows, axis=0, return_counts=True), about 4x faster on 1M rows.
    order = np.lexsort((age, t_x, x))
    xs, ts, ages = x[order], t_x[order], age[order]
    first = np.empty(x.size, dtype=bool)
    first[0] = True
    first[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (ages[1:] != ages[:-1])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, x.size)).astype(np.int64)
    return xs[starts], ts[starts], ages[starts], counts


# --------------------------------------------------------------------------------------------------
# likelihood
# --------------------------------------------------------------------------------------------------


@functools.cache
def _blas_controller() -> ThreadpoolController | None:
    """threadpoolctl's view of the BLAS libraries loaded in this process (created on first use).

    SciPy >= 1.15's L-BFGS-B calls BLAS/LAPACK on tiny matrices; a multi-threaded OpenBLAS makes each
    iteration 100-1000x slower on a busy machine (scipy/scipy#22438, OpenMathLib/OpenBLAS#5383), so
    the fits run with BLAS limited to one thread.
    """
    try:
        return ThreadpoolController()
    except Exception:  # pragma: no cover - introspection failed: run with the default threads
        return None


_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter: Any = None


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (``threadpoolctl``); restores the previous setting
    after. Nested and concurrent uses share one limit, lifted when the last of them ends."""
    global _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_depth == 0:
            controller = _blas_controller()
            _blas_limiter = None
            if controller is not None:
                with contextlib.suppress(Exception):
                    _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_limiter is not None:
                with contextlib.suppress(Exception):
                    _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _wsum(w: NDArray[np.number[Any]], v: NDArray[np.number[Any]]) -> float:
    """Σ w·v (weights may be integer counts) without BLAS (np.dot may spin up threads, which is slow on
    busy machines)."""
    return float(np.einsum("i,i->", w, v))


class _BGNBDLikelihood:
    """Weighted BG/NBD log-likelihood and its analytic gradient, in log-parameter space.

    Per customer (FHL 2005, the BG/NBD likelihood):

        L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
          + [x > 0] B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

    evaluated in log space: terms that depend on x only are computed once per distinct x, and the two
    summands are combined with a stable log-sum-exp (softplus form of ``logaddexp``). Customers with
    x = 0 only have the first summand.
    Times are divided by ``scale`` so α is of order one; this shifts the log-likelihood by the
    constant ``-Σ w·x·log(scale)``, which is added back in :meth:`original_units_ll`.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, scale: float):
        self.scale = scale
        self.total_weight = float(w.sum())
        zero = x == 0
        self.T0 = T[zero] / scale
        self.w0 = w[zero]
        self.W0 = float(self.w0.sum())
        pos = ~zero
        self.xu, inv = np.unique(x[pos], return_inverse=True)
        self.inv = inv.astype(np.intp)
        self.x1 = x[pos]
        self.tx1 = t_x[pos] / scale
        self.T1 = T[pos] / scale
        self.w1 = w[pos]
        self.Wu = np.bincount(self.inv, weights=self.w1, minlength=self.xu.size)
        self.sum_wx = float(_wsum(self.w1, self.x1))

    def original_units_ll(self, scaled_ll: float) -> float:
        return scaled_ll - self.sum_wx * np.log(self.scale)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative mean log-likelihood and its gradient with respect to log(r, α, a, b)."""
        r, al, a, b = np.exp(theta)
        xu, Wu, inv = self.xu, self.Wu, self.inv
        betaln_ab = special.betaln(a, b)
        log_al = np.log(al)
        psi_ab = special.digamma(a + b)

        # ---- customers with no repeat purchase: log L = log B(a,b)/B(a,b) - r log(α+T) + r log α
        # B(a, b+0)/B(a, b) = 1, Γ(r)/Γ(r) = 1.
        if self.T0.size:
            log_alT0 = np.log(al + self.T0)
            ll0 = self.W0 * r * log_al - r * _wsum(self.w0, log_alT0)
            g0_r = self.W0 * log_al - _wsum(self.w0, log_alT0)
            g0_al = self.W0 * r / al - r * _wsum(self.w0, 1.0 / (al + self.T0))
        else:
            ll0 = g0_r = g0_al = 0.0

        # ---- repeat buyers
        if xu.size:
            A1u = special.gammaln(r + xu) - special.gammaln(r) + r * log_al
            Bu = special.betaln(a, b + xu) - betaln_ab
            Cu = Bu + np.log(a) - np.log(b + xu - 1.0)  # B(a+1,b+x-1) = B(a,b+x)·a/(b+x-1)
            rx = r + self.x1
            log_alT = np.log(al + self.T1)
            log_altx = np.log(al + self.tx1)
            A2 = Bu[inv] - rx * log_alT
            A3 = Cu[inv] - rx * log_altx
            # lse = logaddexp(A2, A3) and w3 = exp(A3 - lse), via d = A3 - A2 (faster than logaddexp)
            d = A3 - A2
            e = np.exp(-np.abs(d))
            lse = A2 + np.maximum(d, 0.0) + np.log1p(e)
            inv1pe = 1.0 / (1.0 + e)
            w3 = np.where(d >= 0, inv1pe, e * inv1pe)  # weight of "dropped out after last purchase"
            w2 = 1.0 - w3
            w1 = self.w1
            ll1 = float(_wsum(Wu, A1u) + _wsum(w1, lse))

            D1u = special.digamma(r + xu) - special.digamma(r) + log_al
            g1_r = float(_wsum(Wu, D1u) - _wsum(w1, w2 * log_alT + w3 * log_altx))
            g1_al = float(self.Wu.sum() * r / al - _wsum(w1, rx * (w2 / (al + self.T1) + w3 / (al + self.tx1))))
            psi_abx = special.digamma(a + b + xu)
            Dau = psi_ab - psi_abx  # d/da [log B(a,b+x) - log B(a,b)]
            Dbu = special.digamma(b + xu) - psi_abx - special.digamma(b) + psi_ab
            ww3 = w1 * w3
            g1_a = float(_wsum(Wu, Dau) + ww3.sum() / a)
            g1_b = float(_wsum(Wu, Dbu) - _wsum(ww3, 1.0 / (b + self.x1 - 1.0)))
        else:
            ll1 = g1_r = g1_al = g1_a = g1_b = 0.0

        ll = ll0 + ll1
        grad = np.array([(g0_r + g1_r) * r, (g0_al + g1_al) * al, g1_a * a, g1_b * b])
        n = self.total_weight
        return -ll / n, -grad / n


def _optimise(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    starts: Sequence[FloatArray],
    names: Sequence[str],
) -> tuple[optimize.OptimizeResult, bool, str]:
    """Run L-BFGS-B from every start, keep the best, then polish with safeguarded Newton steps.

    Returns the optimiser result (``x`` in log-parameter space), whether it converged to an interior
    optimum, and a plain-words message.
    """
    with _single_threaded_blas():
        return _optimise_inner(objective, starts, names)


def _optimise_inner(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    starts: Sequence[FloatArray],
    names: Sequence[str],
) -> tuple[optimize.OptimizeResult, bool, str]:
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    best: optimize.OptimizeResult | None = None
    for start in starts:
        res = optimize.minimize(
            objective,
            np.asarray(start, dtype=float),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 10},
        )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise ModelFitError("the likelihood could not be evaluated at any starting point")

    theta, fun = best.x.copy(), float(best.fun)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    grad = objective(theta)[1]
    hess = np.full((theta.size, theta.size), np.nan)
    for _ in range(5):  # Newton polish; makes the optimum reproducible to ~1e-10
        hess = _numerical_hessian(objective, theta)
        try:
            np.linalg.cholesky(hess)
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        cand = np.clip(theta - step, lo, hi)
        f_c, g_c = objective(cand)
        # Near the optimum f is flat to within rounding, so also accept a step that keeps f equal
        # up to rounding and shrinks the gradient (which still resolves the optimum there).
        flat = f_c <= fun + 8 * np.finfo(float).eps * abs(fun)
        if not (np.isfinite(f_c) and (f_c < fun or (flat and np.abs(g_c).max() < np.abs(grad).max()))):
            break
        theta, fun, grad = cand, float(f_c), g_c
        if np.max(np.abs(step)) < 1e-9:
            break
    best.x, best.fun, best.hess = theta, fun, hess
    at_bound = (theta <= lo + 1e-6) | (theta >= hi - 1e-6)
    small_grad = bool(np.max(np.abs(grad)) < 1e-6)
    converged = (bool(best.success) or small_grad) and not bool(np.any(at_bound))
    if np.any(at_bound):
        hit = ", ".join(n for n, flag in zip(names, at_bound, strict=True) if flag)
        message = (
            f"parameter(s) {hit} ran to the edge of the search range; the data do not pin them down "
            "(treat the fit with caution)"
        )
    elif converged:
        message = "converged"
    else:
        message = f"optimiser did not converge: {best.message}"
    return best, converged, message


def _flat_note(message: str, se: FloatArray | None) -> str:
    if se is None and message == "converged":
        return (
            "converged, but the likelihood is flat in some direction: some parameters are not well "
            "determined by the data (standard errors unavailable)"
        )
    return message


def _numerical_hessian(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], theta: FloatArray, h: float = 1e-5
) -> FloatArray:
    """Hessian by central differences of the analytic gradient (symmetrised)."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        hess[i] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


def _std_errors(res: optimize.OptimizeResult, n: float) -> FloatArray | None:
    """Delta-method standard errors of exp(x) from the Hessian of the mean negative log-likelihood
    (``res.hess``, left by :func:`_optimise`) for ``n`` customers."""
    hess = np.asarray(res.hess) * n
    if not np.all(np.isfinite(hess)):
        return None
    try:
        with _single_threaded_blas():
            cov_log = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    var = np.diag(cov_log)
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        return None
    return np.exp(res.x) * np.sqrt(var)


# --------------------------------------------------------------------------------------------------
# conditional expectations
# --------------------------------------------------------------------------------------------------


def _alive_expectation(params: BGNBDParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """E[purchases in (T, T+t] | customer alive at T, x repeat purchases by T].

    Closed form (FHL 2005 conditional expectation without the P(alive) factor):

        (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z)],  z = t/(α+T+t)

    rewritten with Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) as

        (a+b+x-1)/(a-1) · [1 - (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z)]

    which never overflows for large x (the hypergeometric factor tends to 1). Entries where the
    closed form is not finite or breaks the bound 0 <= E <= t·(r+x)/(α+T) are recomputed by
    quadrature of the equivalent integral over the posterior of the dropout probability.
    """
    r, al, a, b = params.r, params.alpha, params.a, params.b
    t, x, T = np.broadcast_arrays(np.asarray(t, float), np.asarray(x, float), np.asarray(T, float))
    out = np.zeros(t.shape)
    pos = t > 0
    if not np.any(pos):
        return out
    tp, xp, Tp = t[pos], x[pos], T[pos]
    z = tp / (al + Tp + tp)

    def closed_form(a_: float) -> FloatArray:
        c = a_ + b + xp - 1.0
        hyp = special.hyp2f1(a_ + b - 1.0 - r, a_ - 1.0, c, z)
        with np.errstate(all="ignore"):
            log1mz = np.log1p(-z)
            # 1 - (1-z)^(a-1)·F  split as  -expm1((a-1)log(1-z)) - (1-z)^(a-1)(F-1)  for accuracy
            bracket = -np.expm1((a_ - 1.0) * log1mz) - np.exp((a_ - 1.0) * log1mz) * (hyp - 1.0)
            return c / (a_ - 1.0) * bracket

    h = 1e-5
    with np.errstate(all="ignore"):
        if abs(a - 1.0) < h:  # removable singularity at a = 1: interpolate (error O(h²))
            lo, hi = closed_form(1.0 - h), closed_form(1.0 + h)
            val = lo + (hi - lo) * (a - (1.0 - h)) / (2 * h)
        else:
            val = closed_form(a)
    upper = tp * (r + xp) / (al + Tp)  # expected purchases if nobody ever dropped out
    bad = ~np.isfinite(val) | (val < -1e-12 * upper) | (val > upper * (1 + 1e-8))
    if np.any(bad):
        val[bad] = _alive_expectation_quad(params, tp[bad], xp[bad], Tp[bad])
    out[pos] = np.clip(val, 0.0, upper)
    return out


def _alive_expectation_quad(params: BGNBDParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """The same expectation by numerical integration (robust fallback).

    Given alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x) independently, and the expected
    number of purchases in the next t units is (1 - e^{-λpt})/p. Averaging over λ gives
    g(p) = (1 - (1 + p t/(α+T))^-(r+x)) / p, which is then averaged over p by integrating over the
    beta quantile u ∈ (0, 1) (so the integrand is bounded and the weight is uniform).
    """
    r, al, a, b = params.r, params.alpha, params.a, params.b
    out = np.empty(t.shape)
    keys = np.column_stack([t, x, T])
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    vals = np.empty(len(uniq))
    for k, (tk, xk, Tk) in enumerate(uniq):
        rate = tk / (al + Tk)
        shape = r + xk

        def g(u: float, rate=rate, shape=shape, bb=b + xk) -> float:
            p = special.betaincinv(a, bb, u)
            if p * rate < 1e-12:
                return shape * rate
            return -np.expm1(-shape * np.log1p(p * rate)) / p

        # g changes shape where p·rate ≈ 1: split the u-range there so the adaptive rule sees it.
        knots = sorted({float(special.betainc(a, b + xk, min(c / rate, 0.5))) for c in (0.1, 1.0, 10.0)})
        knots = [u for u in knots if 1e-12 < u < 1.0 - 1e-12]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            vals[k] = integrate.quad(g, 0.0, 1.0, points=knots or None, limit=500, epsabs=0.0, epsrel=1e-10)[0]
    out[:] = vals[inv.ravel()]
    return out


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------


class BGNBDModel(FittedModel[BGNBDParams]):
    """BG/NBD model: fit on customer (frequency, recency, T), then score customers.

    Typical use::

        model = BGNBDModel().fit(frequency, recency, T)
        model.p_alive(frequency, recency, T)
        model.expected_purchases(26, frequency, recency, T)   # next 26 time units
    """

    model_name = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")

    # ---------------------------------------------------------------------------------------- fit
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> BGNBDModel:
        """Estimate (r, α, a, b) by maximum likelihood.

        ``weights`` are counts of customers sharing the row (see :func:`group_customers`); the fit on
        grouped rows equals the fit on the individual customers. Times are rescaled internally by the
        mean customer age, the search runs over log-parameters with L-BFGS-B from several fixed
        starting points, and the best optimum is polished with Newton steps.

        Raises :class:`ModelFitError` when there are fewer than 2 customers or fewer than 10 repeat
        buyers (the churn parameters are not identifiable without repeat purchases), or on bad input.
        """
        x, t_x, age, w = _fit_arrays(frequency, recency, T, weights)
        n_customers = float(w.sum())
        n_repeat = float(w[x > 0].sum())
        if n_customers < MIN_CUSTOMERS:
            raise ModelFitError(f"BG/NBD needs at least {MIN_CUSTOMERS} customers to fit; got {n_customers:g}")
        if n_repeat < MIN_REPEAT_BUYERS:
            raise ModelFitError(
                f"BG/NBD needs at least {MIN_REPEAT_BUYERS} customers with a repeat purchase to "
                f"estimate purchase and churn rates; got {n_repeat:g} of {n_customers:g} customers"
            )
        scale = _wsum(w, age) / n_customers
        if not scale > 0:
            raise ModelFitError("all customers have age T = 0; nothing to learn from")
        lik = _BGNBDLikelihood(x, t_x, age, w, scale)
        starts = [np.log(s) for s in _BGNBD_STARTS]
        res, converged, message = _optimise(lik, starts, ("r", "alpha", "a", "b"))
        theta = res.x
        r, al, a, b = np.exp(theta)
        params = BGNBDParams(r=float(r), alpha=float(al * scale), a=float(a), b=float(b))
        se = _std_errors(res, n_customers)
        std_errors = None
        if se is not None:
            std_errors = BGNBDParams(r=float(se[0]), alpha=float(se[1] * scale), a=float(se[2]), b=float(se[3]))
        return self._record_fit(params, std_errors, log_likelihood=float(lik.original_units_ll(-res.fun * n_customers)),
                                converged=converged, n_customers=n_customers, n_repeat_buyers=n_repeat,
                                message=_flat_note(message, se), iterations=int(res.nit))

    # --------------------------------------------------------------------------------- predictions
    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood under the current parameters (FHL 2005)."""
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        r, al, a, b = self.params.as_array()
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(al)
        a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(al + age)
        with np.errstate(divide="ignore", invalid="ignore"):
            a3 = np.where(
                x > 0,
                special.betaln(a, b + x)
                - special.betaln(a, b)
                + np.log(a)
                - np.log(np.maximum(b + x - 1.0, 1e-300))
                - (r + x) * np.log(al + t_x),
                -np.inf,
            )
        return a1 + np.logaddexp(a2, a3)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability the customer is still active (has not silently churned) at the end of the window.

        A customer who bought often and recently is almost surely alive; one who used to buy often but
        has been quiet for a long time probably is not. Customers without a repeat purchase are alive
        by the model's assumption (dropout can only happen right after a repeat purchase), so they get
        1.

            P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))

        (Fader, Hardie & Lee 2008, "Computing P(alive)"). Evaluated as a logistic of a log-odds, so it
        stays in [0, 1] for any x and T.
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        r, al, a, b = self.params.as_array()
        out = np.ones(x.shape)
        pos = x > 0
        if np.any(pos):
            xp = x[pos]
            log_odds = np.log(a) - np.log(b + xp - 1.0) + (r + xp) * np.log1p((age[pos] - t_x[pos]) / (al + t_x[pos]))
            out[pos] = special.expit(-log_odds)
        return np.clip(out, 0.0, 1.0)

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Expected number of purchases each customer makes in the next ``t`` time units.

        This is the "predicted transactions" figure used for forecasting and ranking customers; it
        combines how often the customer buys with how likely they are to still be active.

            E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1)
                · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
                / (1 + [x>0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))

        (FHL 2005, conditional expectation). ``t`` broadcasts against the customer arrays (e.g. shape ``(k, 1)`` for k
        horizons). Always finite and >= 0.
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the forecast horizon t must not be negative")
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        t_b, x_b, tx_b, age_b = np.broadcast_arrays(t_arr, x, t_x, age)
        alive = self.p_alive(x_b, tx_b, age_b)
        return alive * _alive_expectation(self.params, t_b, x_b, age_b)

    def expected_purchases_population(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases of a newly acquired customer during their first ``t`` time units.

        Averaged over the whole customer base (nothing is known about the customer beyond their first
        purchase); summed over a cohort this gives the fitted cumulative-purchases curve.

            E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b; a+b-1; t/(α+t))]

        (FHL 2005). Vectorised over ``t``.
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the time t must not be negative")
        zeros = np.zeros(t_arr.shape)
        return _alive_expectation(self.params, t_arr, zeros, zeros)


def expected_population_curve(model: BGNBDModel, first_purchase_times: ArrayLike, horizon: int) -> FloatArray:
    """Expected cumulative repeat purchases of a cohort, period by period (the "fitted" line).

    ``first_purchase_times`` are the customers' first-purchase times measured from the start of the
    chart (period 0), in the model's time unit. Element ``k`` of the result (k = 0..horizon) is the
    number of repeat purchases the cohort is expected to have made during (0, k]:

        Σ_i E[X(k - t0_i)]   (terms with k <= t0_i are zero)

    Compare it with the actual cumulative repeat purchases to judge the fit (FHL 2005, Figure 2).
    Customers acquired before period 0 (negative t0) only count purchases made after period 0.
    """
    h = int(horizon)
    if h < 0:
        raise ValueError("horizon must be >= 0")
    t0 = _as_float("first_purchase_times", first_purchase_times).ravel()
    grid = np.arange(h + 1, dtype=float)
    if t0.size == 0:
        return np.zeros(h + 1)
    uniq, counts = np.unique(t0, return_counts=True)
    counts = counts.astype(float)
    if np.all(uniq == np.round(uniq)) and uniq.min() >= 0:
        # integer acquisition periods: one population curve convolved with the acquisition counts
        inside = uniq <= h
        hist = np.zeros(h + 1)
        np.add.at(hist, uniq[inside].astype(np.intp), counts[inside])
        pop = model.expected_purchases_population(grid)
        return np.convolve(hist, pop)[: h + 1]
    curve = np.zeros(h + 1)
    chunk = max(1, 2_000_000 // (h + 1))
    for start in range(0, uniq.size, chunk):
        u = uniq[start : start + chunk, None]
        c = counts[start : start + chunk]
        elapsed = model.expected_purchases_population(np.maximum(grid[None, :] - u, 0.0))
        before = model.expected_purchases_population(np.maximum(-u, 0.0))
        curve += c @ (elapsed - before)
    return curve


def simulate_bgnbd(
    params: BGNBDParams, T: ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Simulate (frequency, recency, T) for customers observed for ``T`` time units each.

    Each customer draws λ ~ Gamma(r, rate α) and p ~ Beta(a, b), buys at Poisson rate λ starting at
    their first purchase (time 0) and drops out with probability p right after each repeat purchase.
    Useful for tests, demos and synthetic data.
    """
    age = np.asarray(T, dtype=float).ravel()
    n = age.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.arange(n)
    now = np.zeros(n)
    while active.size:
        with np.errstate(divide="ignore"):
            now_a = now[active] + rng.exponential(1.0, size=active.size) / lam[active]
        bought = now_a <= age[active]
        active, now_a = active[bought], now_a[bought]
        x[active] += 1
        t_x[active] = now_a
        now[active] = now_a
        survives = rng.random(active.size) >= p[active]
        active = active[survives]
    return x, t_x, age
