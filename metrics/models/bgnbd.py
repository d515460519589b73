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

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, special

from metrics.models.btyd_common import (
    MIN_CUSTOMERS,
    MIN_REPEAT_BUYERS,
    FloatArray,
    _as_float,
    _fit_arrays,
    _fit_purchase_model,
    _rfm_arrays,
    _wsum,
    group_customers,
)
from metrics.models.fitted_model import FitResult, FittedModel, ModelFitError

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_REPEAT_BUYERS",
    "BGNBDModel",
    "BGNBDParams",
    "FitResult",
    "ModelFitError",
    "expected_population_curve",
    "group_customers",
    "simulate_bgnbd",
]

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
# likelihood
# --------------------------------------------------------------------------------------------------


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

    With ``dropout_at_first`` this is the MBG/NBD likelihood (Batislam, Denizel & Filiztekin 2007):
    the first purchase is one more chance to drop out, so b becomes b+1 in both beta functions and
    every customer, x = 0 included, has the second summand:

        L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
          + B(a+1, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, scale: float,
                 dropout_at_first: bool = False):
        self.scale = scale
        self.total_weight = float(w.sum())
        # Dropout chances before the x-th repeat purchase's: x (BG/NBD) or x + 1 (MBG/NBD).
        self.shift = 1.0 if dropout_at_first else 0.0
        zero = (x == 0) if not dropout_at_first else np.zeros(x.shape, dtype=bool)
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
        bk = b + self.shift  # b (BG/NBD) or b + 1 (MBG/NBD) in the beta functions
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
            Bu = special.betaln(a, bk + xu) - betaln_ab
            Cu = Bu + np.log(a) - np.log(bk + xu - 1.0)  # B(a+1,b+x-1) = B(a,b+x)·a/(b+x-1)
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
            psi_abx = special.digamma(a + bk + xu)
            Dau = psi_ab - psi_abx  # d/da [log B(a,b+x) - log B(a,b)]
            Dbu = special.digamma(bk + xu) - psi_abx - special.digamma(b) + psi_ab
            ww3 = w1 * w3
            g1_a = float(_wsum(Wu, Dau) + ww3.sum() / a)
            g1_b = float(_wsum(Wu, Dbu) - _wsum(ww3, 1.0 / (bk + self.x1 - 1.0)))
        else:
            ll1 = g1_r = g1_al = g1_a = g1_b = 0.0

        ll = ll0 + ll1
        grad = np.array([(g0_r + g1_r) * r, (g0_al + g1_al) * al, g1_a * a, g1_b * b])
        n = self.total_weight
        return -ll / n, -grad / n



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
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    params_type = BGNBDParams

    # ---------------------------------------------------------------------------------------- fit
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        initial: BGNBDParams | None = None,
        warm_start: bool = True,
    ) -> BGNBDModel:
        """Estimate (r, α, a, b) by maximum likelihood.

        ``weights`` are counts of customers sharing the row (see :func:`group_customers`); the fit on
        grouped rows equals the fit on the individual customers. Times are rescaled internally by the
        mean customer age, the search runs over log-parameters with L-BFGS-B from several fixed
        starting points, and the best optimum is polished with Newton steps. On more than 20,000 rows the
        search starts instead from a quick fit on a random subsample of about 10,000 customers (as MBG/NBD
        and Pareto/NBD do; ``warm_start=False`` searches the full data from the fixed points, as this
        fitter did before the model family existed). ``initial`` (e.g. the previous fit's parameters)
        replaces the starting points by one; a search from it that does not converge is repeated from the
        fixed points.

        Raises :class:`ModelFitError` when there are fewer than 2 customers or fewer than 10 repeat
        buyers (the churn parameters are not identifiable without repeat purchases), or on bad input.
        """
        fitted = _fit_purchase_model(
            self.model_name, _BGNBDLikelihood, _fit_arrays(frequency, recency, T, weights), _BGNBD_STARTS,
            self.param_names, (False, True, False, False),
            initial=None if initial is None else initial.as_array(), warm_start=warm_start, reuse_hessian=False,
        )
        return fitted.record_on(self)

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
