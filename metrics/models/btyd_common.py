"""What the customer-base models of the purchase family (BG/NBD, MBG/NBD, Pareto/NBD) and the
Gamma-Gamma spend model share: input checks, grouping, the optimiser and the standard errors.

* :func:`group_customers` -- collapse customers with identical (frequency, recency, T) into one row with
  a count, to fit on the grouped rows with ``weights``;
* ``_fit_arrays`` / ``_rfm_arrays`` -- validated inputs for a fit / for the prediction methods;
* ``_check_counts`` -- the plain-words refusal when there are too few customers or repeat buyers;
* ``_optimise`` -- L-BFGS-B from several starting points in log-parameter space, then Newton polish
  (BLAS limited to one thread while it runs);
* ``_warm_start`` / ``_descend`` -- a starting point and the curvature there from a quick fit on a
  random subsample of the customers, then BFGS on the full data from there, so a large data set is
  searched from one good start (a handful of likelihood evaluations) instead of several poor ones;
* ``_search`` / ``_fit_purchase_model`` -- the whole fit of a purchase model: checks, time scale,
  search with a fall-back to every fixed start, results in the caller's units;
* ``_std_errors`` / ``_log_covariance`` -- the asymptotic (delta-method) standard errors and the
  covariance matrix of the log-parameters, from the Hessian left by ``_optimise``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from threadpoolctl import ThreadpoolController

from metrics.models.fitted_model import FittedModel, ModelFitError

__all__ = ["MIN_CUSTOMERS", "MIN_REPEAT_BUYERS", "FloatArray", "group_customers"]

FloatArray = NDArray[np.float64]

#: A fit needs at least this many customers ...
MIN_CUSTOMERS = 2
#: ... and at least this many of them must have made a repeat purchase.
MIN_REPEAT_BUYERS = 10

# Every parameter is optimised on the log scale inside these bounds (about 1e-6 .. 1e6).
_LOG_BOUND = 13.8


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
# optimisation
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



#: A model's objective: the negative mean log-likelihood and its gradient in log-parameter space.
Objective = Callable[[FloatArray], tuple[float, FloatArray]]
ObjectiveT = TypeVar("ObjectiveT", bound=Objective)
ModelT = TypeVar("ModelT", bound=FittedModel[Any])


def _optimise(
    objective: Objective,
    starts: Sequence[FloatArray],
    names: Sequence[str],
    *,
    reuse_hessian: bool = False,
) -> tuple[optimize.OptimizeResult, bool, str]:
    """Run L-BFGS-B from every start, keep the best, then polish with safeguarded Newton steps.

    Returns the optimiser result (``x`` in log-parameter space), whether it converged to an interior
    optimum, and a plain-words message. With ``reuse_hessian`` the polish keeps the Hessian of the
    previous Newton step once the steps are tiny (below 1e-4 on the log scale), which saves one
    numerical Hessian (two gradients per parameter) on a slow objective and moves the standard errors
    by far less than their own uncertainty.
    """
    with _single_threaded_blas():
        return _optimise_inner(objective, starts, names, reuse_hessian)


def _optimise_inner(
    objective: Objective,
    starts: Sequence[FloatArray],
    names: Sequence[str],
    reuse_hessian: bool = False,
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
    return _polish(objective, best, names, reuse_hessian)


def _polish(
    objective: Objective,
    best: optimize.OptimizeResult,
    names: Sequence[str],
    reuse_hessian: bool = False,
) -> tuple[optimize.OptimizeResult, bool, str]:
    """Newton-polish a search's optimum ``best`` (in the search box), leave the Hessian in
    ``best.hess``, and judge convergence (see :func:`_optimise`)."""
    lo = np.full(len(names), -_LOG_BOUND)
    hi = np.full(len(names), _LOG_BOUND)
    theta, fun = np.clip(np.asarray(best.x, dtype=float), lo, hi), float(best.fun)
    fun, grad = objective(theta)
    fun = float(fun)
    hess = np.full((theta.size, theta.size), np.nan)
    last_step = np.inf
    for _ in range(5):  # Newton polish; makes the optimum reproducible to ~1e-10
        if not (reuse_hessian and last_step < 1e-4 and np.all(np.isfinite(hess))):
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
        last_step = float(np.max(np.abs(step)))
        if last_step < 1e-9:
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
        if _positive_definite(hess) is None:  # a flat ridge (e.g. only a ratio of two parameters is pinned)
            message += "; the likelihood is flat in some direction: some parameters are not well determined by the data"
    return best, converged, message



def _flat_note(message: str, se: FloatArray | None) -> str:
    if se is None and message == "converged":
        return (
            "converged, but the likelihood is flat in some direction: some parameters are not well "
            "determined by the data (standard errors unavailable)"
        )
    return message


def _numerical_hessian(objective: Objective, theta: FloatArray, h: float = 1e-5) -> FloatArray:
    """Hessian by central differences of the analytic gradient (symmetrised)."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        hess[i] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


def _log_covariance(res: optimize.OptimizeResult, n: float) -> FloatArray | None:
    """Covariance matrix of the log-parameters, the inverse of the observed information (the Hessian
    of the mean negative log-likelihood, ``res.hess``, left by :func:`_optimise`, times ``n``
    customers); ``None`` when the Hessian is not finite or cannot be inverted."""
    hess = np.asarray(res.hess) * n
    if not np.all(np.isfinite(hess)):
        return None
    try:
        with _single_threaded_blas():
            return np.asarray(np.linalg.inv(hess), dtype=float)
    except np.linalg.LinAlgError:
        return None


def _positive_definite(cov: FloatArray | None) -> FloatArray | None:
    """``cov`` if it is a usable covariance matrix (finite, symmetric positive definite), else None."""
    if cov is None or not np.all(np.isfinite(cov)):
        return None
    sym = 0.5 * (cov + cov.T)
    try:
        with _single_threaded_blas():
            np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return None
    return sym


def _std_errors(res: optimize.OptimizeResult, n: float) -> FloatArray | None:
    """Delta-method standard errors of exp(x) from the Hessian of the mean negative log-likelihood
    (``res.hess``, left by :func:`_optimise`) for ``n`` customers."""
    cov_log = _log_covariance(res, n)
    if cov_log is None:
        return None
    var = np.diag(cov_log)
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        return None
    return np.exp(res.x) * np.sqrt(var)


# --------------------------------------------------------------------------------------------------
# the search: checks, warm start, fall-back
# --------------------------------------------------------------------------------------------------

#: Data with more rows than this are first fitted on a random subsample (see :func:`_warm_start`).
_WARM_START_ROWS = 20_000
#: The subsample holds about this many customers, and at least about this many repeat buyers.
_WARM_START_CUSTOMERS = 10_000
_WARM_START_REPEAT_BUYERS = 2_000
#: Fixed, so the same data always give the same starting point (and the same fit).
_WARM_START_SEED = 20_240_501


class ScaledObjective(Protocol):
    """A purchase model's objective on rescaled times: the negative mean log-likelihood with its
    gradient in log-parameter space, and the log-likelihood in the caller's time unit."""

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]: ...

    def original_units_ll(self, scaled_ll: float) -> float: ...


def _check_counts(model_name: str, n_customers: float, n_repeat: float) -> None:
    """Refuse, in plain words, data with too few customers or too few repeat buyers to fit."""
    if n_customers < MIN_CUSTOMERS:
        raise ModelFitError(f"{model_name} needs at least {MIN_CUSTOMERS} customers to fit; got {n_customers:g}")
    if n_repeat < MIN_REPEAT_BUYERS:
        raise ModelFitError(
            f"{model_name} needs at least {MIN_REPEAT_BUYERS} customers with a repeat purchase to "
            f"estimate purchase and churn rates; got {n_repeat:g} of {n_customers:g} customers"
        )


@dataclass(frozen=True)
class _WarmStart:
    """Where a subsample's search ended: the log-parameters and the inverse Hessian of the mean
    negative log-likelihood there (None when it is not positive definite)."""

    theta: FloatArray
    inv_hess: FloatArray | None


def _warm_start(
    make_objective: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], Objective],
    data: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    starts: Sequence[FloatArray],
) -> _WarmStart | None:
    """A starting point (log-parameters, with the curvature there) from a quick fit on a random
    subsample of the customers.

    On large data every evaluation of the likelihood is expensive, and most of a multi-start search is
    spent far from the optimum. Searching from every start on about 10,000 customers (each row's count
    thinned at random, with a fixed seed), with loose tolerances, lands within the subsample's sampling
    error of the full optimum (a few per cent). The Hessian of the subsample's mean log-likelihood
    estimates the full data's, so a quasi-Newton search on the full data that starts with it
    converges in a few iterations (:func:`_descend`). Returns ``None`` when the data are small enough
    to search in full.
    """
    x, t_x, age, w = data
    n_customers = float(w.sum())
    n_repeat = float(w[x > 0].sum())
    if x.size <= _WARM_START_ROWS or n_repeat <= 0:
        return None
    fraction = max(_WARM_START_CUSTOMERS / n_customers, _WARM_START_REPEAT_BUYERS / n_repeat)
    if fraction >= 0.5:
        return None
    rng = np.random.default_rng(_WARM_START_SEED)
    thinned = rng.poisson(w * fraction).astype(float)
    keep = thinned > 0
    if float(thinned[keep & (x > 0)].sum()) < MIN_REPEAT_BUYERS:
        return None
    objective = make_objective(x[keep], t_x[keep], age[keep], thinned[keep])
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    best: optimize.OptimizeResult | None = None
    with _single_threaded_blas():
        for start in starts:
            res = optimize.minimize(objective, np.asarray(start, dtype=float), jac=True, method="L-BFGS-B",
                                    bounds=bounds, options={"maxiter": 500, "ftol": 1e-10, "gtol": 1e-6})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
        if best is None:
            return None
        theta = np.asarray(best.x, dtype=float)
        inv_hess: FloatArray | None = None
        hess = _numerical_hessian(objective, theta)
        if np.all(np.isfinite(hess)):
            try:
                np.linalg.cholesky(hess)
                inverse = np.linalg.inv(hess)
                inv_hess = np.asarray(0.5 * (inverse + inverse.T), dtype=float)  # exactly symmetric
                np.linalg.cholesky(inv_hess)
            except np.linalg.LinAlgError:
                inv_hess = None
    return _WarmStart(theta, inv_hess)


def _descend(objective: Objective, warm: _WarmStart, names: Sequence[str], reuse_hessian: bool = True
             ) -> tuple[optimize.OptimizeResult, bool, str]:
    """Search the full data from a warm start: BFGS that starts with the subsample's inverse Hessian
    (so its first steps are already close to Newton steps), then the Newton polish of
    :func:`_optimise`. Same result and convergence judgement as :func:`_optimise`."""
    with _single_threaded_blas():
        res = optimize.minimize(objective, warm.theta, jac=True, method="BFGS",
                                options={"gtol": 1e-8, "maxiter": 200, "hess_inv0": warm.inv_hess})
        if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
            raise ModelFitError("the likelihood could not be evaluated near the starting point")
        return _polish(objective, res, names, reuse_hessian)


def _search(
    make_objective: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], ObjectiveT],
    data: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    starts: Sequence[FloatArray],
    names: Sequence[str],
    *,
    initial: FloatArray | None = None,
    warm_start: bool = True,
    reuse_hessian: bool = True,
) -> tuple[ObjectiveT, optimize.OptimizeResult, bool, str]:
    """Maximise the likelihood: from ``initial`` (log-parameters) when given, else from a warm start
    on a subsample when the data are large (``warm_start``), else from every fixed start. A single-start
    search that does not converge to an interior optimum (or fails) is repeated from every start, so a
    poor starting point costs time, never correctness. Returns the full-data objective (for the
    log-likelihood in original units) with :func:`_optimise`'s result, convergence flag and message.
    """
    objective = make_objective(*data)
    first: FloatArray | None = initial
    if initial is not None:
        res, converged, message = _optimise(objective, [initial], names, reuse_hessian=reuse_hessian)
        if converged:
            return objective, res, converged, message
    elif warm_start and (warm := _warm_start(make_objective, data, starts)) is not None:
        first = warm.theta
        try:
            res, converged, message = _descend(objective, warm, names, reuse_hessian)
        except ModelFitError:
            converged = False
        if converged:
            return objective, res, converged, message
    if first is not None:
        starts = [first, *starts]
    res, converged, message = _optimise(objective, starts, names, reuse_hessian=reuse_hessian)
    return objective, res, converged, message


@dataclass(frozen=True)
class _Fitted:
    """A purchase model's fit in the caller's time unit, ready for ``FittedModel._record_fit``."""

    values: FloatArray
    std_errors: FloatArray | None
    log_param_covariance: FloatArray | None
    log_likelihood: float
    converged: bool
    message: str
    iterations: int
    n_customers: float
    n_repeat_buyers: float

    def record_on(self, model: ModelT) -> ModelT:
        """Keep this fit on ``model`` (parameters built with its ``params_type``); returns the model."""
        def build(values: FloatArray) -> Any:
            return model.params_type(*(float(v) for v in values))

        return model._record_fit(build(self.values), None if self.std_errors is None else build(self.std_errors),
                                 log_likelihood=self.log_likelihood, converged=self.converged,
                                 n_customers=self.n_customers, n_repeat_buyers=self.n_repeat_buyers,
                                 message=self.message, iterations=self.iterations,
                                 log_param_covariance=self.log_param_covariance)


def _fit_purchase_model(
    model_name: str,
    make_objective: Callable[[FloatArray, FloatArray, FloatArray, FloatArray, float], ScaledObjective],
    data: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    starts: Sequence[Sequence[float]],
    names: Sequence[str],
    time_scaled: Sequence[bool],
    *,
    initial: FloatArray | None = None,
    warm_start: bool = True,
    reuse_hessian: bool = True,
) -> _Fitted:
    """The fit every purchase model shares: check the counts, rescale times by the mean customer age
    (the parameters flagged in ``time_scaled`` are rates' scales in time units and are rescaled too),
    search (:func:`_search`), and map the optimum, its standard errors and covariance back.

    ``starts`` are in rescaled units; ``initial`` (optional) is a parameter vector in the caller's
    units, e.g. a previous fit's.
    """
    x, _, age, w = data
    n_customers = float(w.sum())
    n_repeat = float(w[x > 0].sum())
    _check_counts(model_name, n_customers, n_repeat)
    scale = _wsum(w, age) / n_customers
    if not scale > 0:
        raise ModelFitError("all customers have age T = 0; nothing to learn from")
    factor = np.where(np.asarray(time_scaled, dtype=bool), scale, 1.0)
    theta0 = None
    if initial is not None:
        init = np.asarray(initial, dtype=float).ravel()
        if init.size != len(names) or not np.all(np.isfinite(init)) or np.any(init <= 0):
            raise ValueError(f"initial {model_name} parameters must be {len(names)} positive numbers")
        theta0 = np.clip(np.log(init / factor), -_LOG_BOUND, _LOG_BOUND)

    def make(xs: FloatArray, ts: FloatArray, ages: FloatArray, ws: FloatArray) -> ScaledObjective:
        return make_objective(xs, ts, ages, ws, scale)

    lik, res, converged, message = _search(make, data, [np.log(s) for s in starts], names, initial=theta0,
                                           warm_start=warm_start, reuse_hessian=reuse_hessian)
    se = _std_errors(res, n_customers)
    return _Fitted(
        values=np.exp(res.x) * factor,
        std_errors=None if se is None else se * factor,
        log_param_covariance=_positive_definite(_log_covariance(res, n_customers)),
        log_likelihood=float(lik.original_units_ll(-res.fun * n_customers)),
        converged=converged,
        message=_flat_note(message, se),
        iterations=int(res.nit),
        n_customers=n_customers,
        n_repeat_buyers=n_repeat,
    )
