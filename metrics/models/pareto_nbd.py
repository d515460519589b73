"""Pareto/NBD: customers buy at their own rate and stop at a random moment, whether or not they buy.

The Pareto/NBD model describes a non-contractual business (customers silently stop buying):

* while a customer is active, they buy at their own steady rate ``λ`` (purchases per time unit);
  rates differ across customers following a gamma distribution with shape ``r`` and rate ``α``;
* each customer stays active for an exponentially distributed lifetime with their own dropout rate
  ``μ`` (dropouts per time unit); dropout rates differ across customers following a gamma
  distribution with shape ``s`` and rate ``β`` (average lifetime ``β/(s-1)`` for ``s > 1``).

Unlike BG/NBD and MBG/NBD, where a customer can only drop out right after a purchase, here dropout
happens in continuous time: a rarely buying customer can drop out just as well as a frequent one.

From frequency ``x`` (repeat purchases), recency ``t_x`` (time of the last purchase, counted from the
first) and age ``T`` (time from the first purchase to the end of the window) the model yields
:meth:`ParetoNBDModel.p_alive`, :meth:`ParetoNBDModel.expected_purchases` (next ``t`` time units) and
:meth:`ParetoNBDModel.expected_purchases_population` (a new customer's first ``t`` time units).

All times must use one unit chosen by the caller (days or weeks); ``α`` and ``β`` are in that unit.

The likelihood needs, per customer, the probability of having dropped out between the last purchase
and the end of the window; in closed form a difference of two Gauss hypergeometric functions. Here it
is the integral it comes from,

    s ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ,

evaluated by Gauss-Legendre quadrature on fixed nodes after a change of variables that absorbs the
steep power law exactly (:func:`_log_gap_integral`); in a fit, once per distinct (x, time) pair rather
than per customer. It is accurate to about 1e-11 (relative) for realistic parameters and better than
1e-8 over α, β in [0.003, 30], r, s in [0.05, 3], x up to 300 (checked against the closed form in
arbitrary precision), in log space for any x and T, for α < β and α >= β alike.

References: D. C. Schmittlein, D. G. Morrison and R. Colombo (1987), "Counting Your Customers: Who
Are They and What Will They Do Next?", *Management Science* 33(1), 1-24; P. S. Fader and B. G. S.
Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions" (brucehardie.com/
notes/009: likelihood, P(alive), E[X(t)] and the conditional expectation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from metrics.models.btyd_common import (
    FloatArray,
    _as_float,
    _fit_arrays,
    _fit_purchase_model,
    _rfm_arrays,
    _wsum,
)
from metrics.models.fitted_model import FitResult, FittedModel, ModelFitError

__all__ = ["FitResult", "ModelFitError", "ParetoNBDModel", "ParetoNBDParams", "simulate_pareto_nbd"]

# Starting points (r, α / time scale, s, β / time scale); α and β are relative to the mean customer
# age, see ``fit``.
_PARETO_STARTS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (0.5, 0.3, 0.5, 0.3),
    (0.3, 0.03, 0.5, 0.1),
    (2.0, 2.0, 2.0, 2.0),
)

#: Gauss-Legendre nodes and weights on [0, 1] for :func:`_log_gap_integral`.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_NODES, _WEIGHTS = 0.5 * (_NODES + 1.0), 0.5 * _WEIGHTS
#: The integrand is cut where it has fallen by e^-36 (2e-16) from its value at the lower limit.
_CUT = 36.0


@dataclass(frozen=True)
class ParetoNBDParams:
    """Fitted Pareto/NBD population parameters.

    ``r`` and ``alpha`` describe how often customers buy while active: the average purchase rate is
    ``r / alpha`` purchases per time unit. ``s`` and ``beta`` describe how quickly they drop out: the
    average dropout rate is ``s / beta`` per time unit.
    """

    r: float
    alpha: float
    s: float
    beta: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.s, self.beta], dtype=float)


# --------------------------------------------------------------------------------------------------
# the dropout integral
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GapIntegral:
    """log J and its derivatives (see :func:`_log_gap_integral`), one entry per input row."""

    log_value: FloatArray
    d_p: FloatArray
    d_q: FloatArray
    d_alpha: FloatArray
    d_beta: FloatArray


def _log_gap_integral(p: ArrayLike, q: float, alpha: float, beta: float, lo: ArrayLike, hi: ArrayLike,
                      derivatives: bool = True) -> _GapIntegral:
    """log J with J = ∫_lo^hi (α+τ)^-p (β+τ)^-q dτ (p, lo, hi broadcast together; p > 0, q > 1,
    0 <= lo <= hi),
    and, with ``derivatives``, ∂log J/∂p, ∂/∂q, ∂/∂α, ∂/∂β (else those are left empty).

    Let B0 be the base of the factor with the larger exponent e0 = max(p, q), B1 the other base with
    exponent e1, S = B0 + lo. Substituting B0 + τ = S·e^λ absorbs that factor and the dτ exactly:

        J = S^-a ∫_0^L e^(-aλ) (1 + ρ e^-λ)^-e1 dλ,   a = p + q - 1,  ρ = (B1 - B0)/S,
        L = log((B0 + hi)/S).

    The remaining factor has at most e1·|log(B1/B0)| e-folds over the whole range, whatever x is. The
    integrand decays at least at rate a - e1·max(ρ, 0)/(1 + max(ρ, 0)) > 0, so the range is cut at
    ``_CUT`` e-folds. When the second base is much the smaller (ρ near -1: (B1 + lo)/S = δ small) the
    remaining factor is steep near λ = 0, like (δ + λ)^-e1. The integrand is largest at λ = 0 and is
    divided by its value there (no overflow or underflow for any x, T). The final substitution
    λ = δ'(e^(M u) - 1), δ' = min(δ, ℓ), M = log(1 + ℓ/δ') puts the nodes on the scale of that
    steepness (and mildly grades them towards λ = 0 otherwise). 16 Gauss-Legendre nodes in u ∈ [0, 1].
    Entries with lo = hi give log J = -inf and zero derivatives.
    """
    shape = np.broadcast_shapes(np.shape(p), np.shape(lo), np.shape(hi))
    p, lo, hi_arr = (np.broadcast_to(np.asarray(v, dtype=float), shape).ravel() for v in (p, lo, hi))
    big = p >= q  # the α-factor has the larger exponent
    e0 = np.where(big, p, q)
    e1 = np.where(big, q, p)
    b0 = np.where(big, alpha, beta)
    b1 = np.where(big, beta, alpha)
    S = b0 + lo
    a = p + q - 1.0
    rho = (b1 - b0) / S
    rho_pos = np.maximum(rho, 0.0)
    with np.errstate(divide="ignore"):
        span = np.minimum(np.log1p((hi_arr - lo) / S), _CUT / (a - e1 * rho_pos / (1.0 + rho_pos)))
    empty = ~(span > 0)
    span = np.where(empty, 0.0, span)
    delta = (b1 + lo) / S
    knee = np.where(empty, 1.0, np.minimum(delta, span))
    M = np.log1p(span / knee)
    scale = knee * M  # dλ = knee·M·e^(M u) du
    l1_start = np.log1p(rho)  # the integrand is divided by its value at λ = 0, its largest

    m = p.size
    s0 = np.zeros(m)
    s_lam = np.zeros(m) if derivatives else s0
    s_l1 = np.zeros(m) if derivatives else s0
    s_em = np.zeros(m) if derivatives else s0
    s_em1 = np.zeros(m) if derivatives else s0
    grow = np.empty(m)
    lam = np.empty(m)
    em = np.empty(m)
    one_rho = np.empty(m)
    l1 = np.empty(m)
    f = np.empty(m)
    tmp = np.empty(m)
    for u, weight in zip(_NODES, _WEIGHTS, strict=True):
        np.multiply(M, u, out=grow)
        np.expm1(grow, out=grow)  # e^(M u) - 1
        np.multiply(knee, grow, out=lam)  # λ
        np.negative(lam, out=em)
        np.exp(em, out=em)  # e^-λ
        np.multiply(rho, em, out=one_rho)
        np.log1p(one_rho, out=l1)  # log(1 + ρ e^-λ)
        one_rho += 1.0
        np.multiply(a, lam, out=f)
        np.subtract(l1, l1_start, out=tmp)
        tmp *= e1
        f += tmp
        np.negative(f, out=f)
        np.exp(f, out=f)
        grow += 1.0
        grow *= scale
        grow *= weight
        f *= grow  # weighted integrand at this node
        s0 += f
        if derivatives:
            np.multiply(f, lam, out=tmp)
            s_lam += tmp
            np.multiply(f, l1, out=tmp)
            s_l1 += tmp
            np.multiply(f, em, out=tmp)
            s_em += tmp
            tmp /= one_rho
            s_em1 += tmp
    log_s = np.log(S)
    with np.errstate(divide="ignore"):
        log_value = -a * log_s - e1 * l1_start + np.log(s0)
    if not derivatives:
        nothing = np.empty(0)
        return _GapIntegral(log_value.reshape(shape), nothing, nothing, nothing, nothing)
    total = np.where(s0 > 0, s0, 1.0)
    mean_lam = s_lam / total
    d_e0 = -log_s - mean_lam
    d_e1 = -log_s - mean_lam - s_l1 / total
    d_b0 = -e0 * s_em / (S * total)
    d_b1 = -e1 * s_em1 / (S * total)
    some = s0 > 0
    return _GapIntegral(
        log_value.reshape(shape),
        np.where(some, np.where(big, d_e0, d_e1), 0.0).reshape(shape),
        np.where(some, np.where(big, d_e1, d_e0), 0.0).reshape(shape),
        np.where(some, np.where(big, d_b0, d_b1), 0.0).reshape(shape),
        np.where(some, np.where(big, d_b1, d_b0), 0.0).reshape(shape),
    )


def _log_terms(params: ParetoNBDParams, x: FloatArray, t_x: FloatArray, T: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per customer, the log of the likelihood's common factor and of its two summands:

        L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s  +  s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ ]
              (common)               (alive at T)              (dropped out between t_x and T)
    """
    r, al, s, be = params.as_array()
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(al) + s * np.log(be)
    alive = -(r + x) * np.log(al + T) - s * np.log(be + T)
    gone = np.log(s) + _log_gap_integral(r + x, s + 1.0, al, be, t_x, T, derivatives=False).log_value
    return common, alive, gone


# --------------------------------------------------------------------------------------------------
# likelihood
# --------------------------------------------------------------------------------------------------


#: Pair mode when the distinct (x, t) pairs are fewer than this share of the rows with a dropout term.
_PAIR_SHARE = 0.9


class _ParetoNBDLikelihood:
    """Weighted Pareto/NBD log-likelihood and its analytic gradient, in log-parameter space.

    Per customer (Fader & Hardie 2005, eq. 4 before the hypergeometric step), in log space:

        log L = log Γ(r+x) - log Γ(r) + r log α + s log β
                + logaddexp( -(r+x) log(α+T) - s log(β+T),  log s + log ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ )

    The integral is the costly part. With whole days most customers share their (x, t_x) and their
    (x, T) with others, so it is written as J(t_x) - J(T) with J(t) = ∫_t^{T_end} (same integrand)
    and T_end the largest T: J is then evaluated once per distinct (x, t) pair among the (x, t_x) and
    (x, T) of the data, and so is the first summand; J(t_x) - J(T) is formed in log space
    (log J(t_x) + log(1 - e^(log J(T) - log J(t_x)))) and the gradient flows back to the pairs through
    per-pair sums of the customers' weights. When the pairs are not clearly fewer than the customers'
    rows (continuous times, or very frequent buyers) the integral is evaluated per row instead.
    Customers with t_x = T only have the first summand.
    Times are divided by ``scale`` so α and β are of order one; this shifts the log-likelihood by the
    constant ``-Σ w·x·log(scale)``, added back in :meth:`original_units_ll`.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, scale: float):
        self.scale = scale
        self.total_weight = float(w.sum())
        self.sum_wx = _wsum(w, x)
        tx_s, T_s = t_x / scale, T / scale
        self.xu, x_inv = np.unique(x, return_inverse=True)
        x_inv = x_inv.astype(np.int64).ravel()
        self.Wu = np.bincount(x_inv, weights=w, minlength=self.xu.size)
        gap = tx_s < T_s
        self.w = w[gap]
        # distinct (x, t) pairs over (x, t_x) and (x, T)
        times, t_inv = np.unique(np.concatenate([tx_s, T_s]), return_inverse=True)
        n = x.size
        key = np.concatenate([x_inv, x_inv]) * times.size + t_inv.astype(np.int64).ravel()
        pair_key, pair_inv = np.unique(key, return_inverse=True)
        self.by_pairs = pair_key.size < _PAIR_SHARE * self.w.size
        if self.by_pairs:
            pair_inv = pair_inv.astype(np.intp).ravel()
            self.n_pairs = pair_key.size
            self.t_end = float(T_s.max())
            self.pair_x = self.xu[pair_key // times.size]
            self.pair_t = times[pair_key % times.size]
            self.i_tx = pair_inv[:n][gap]
            self.i_T = pair_inv[n:][gap]
            # customers with t_x = T: only the "alive" summand, a fixed weight per pair
            self.P_nogap = np.bincount(pair_inv[n:][~gap], weights=w[~gap], minlength=self.n_pairs)
        else:
            self.x_gap, self.tx_gap, self.T_gap = x[gap], tx_s[gap], T_s[gap]
            # the "alive" summand of every row: rows with a dropout term first, then those without
            self.x_alive = np.concatenate([x[gap], x[~gap]])
            self.t_alive = np.concatenate([T_s[gap], T_s[~gap]])
            self.w_nogap = w[~gap]

    def original_units_ll(self, scaled_ll: float) -> float:
        return scaled_ll - self.sum_wx * np.log(self.scale)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative mean log-likelihood and its gradient with respect to log(r, α, s, β)."""
        r, al, s, be = np.exp(theta)
        W = self.total_weight

        # ---- the two summands: per pair or per row
        if self.by_pairs:
            alive_x, alive_t = self.pair_x, self.pair_t
            p = r + alive_x
            gap = _log_gap_integral(p, s + 1.0, al, be, self.pair_t, self.t_end)
            g = gap.log_value
            log_at, log_bt = np.log(al + alive_t), np.log(be + alive_t)
            alive_all = -p * log_at - s * log_bt
            g_tx = g[self.i_tx]
            with np.errstate(invalid="ignore"):
                d = g[self.i_T] - g_tx  # log J(T) - log J(t_x) <= 0
            one_minus = -np.expm1(np.minimum(np.nan_to_num(d, nan=0.0), 0.0))  # 1 - J(T)/J(t_x)
            with np.errstate(divide="ignore"):
                gone = np.log(s) + g_tx + np.log(one_minus)
            alive = alive_all[self.i_T]
            ll_nogap = _wsum(self.P_nogap, alive_all)
        else:
            alive_x, alive_t = self.x_alive, self.t_alive
            p = r + alive_x
            gap = _log_gap_integral(r + self.x_gap, s + 1.0, al, be, self.tx_gap, self.T_gap)
            log_at, log_bt = np.log(al + alive_t), np.log(be + alive_t)
            alive_all = -p * log_at - s * log_bt
            with np.errstate(divide="ignore"):
                gone = np.log(s) + gap.log_value
            alive = alive_all[: self.w.size]
            ll_nogap = _wsum(self.w_nogap, alive_all[self.w.size:])

        # ---- customers with t_x < T: logaddexp(alive, gone)
        diff = gone - alive
        e = np.exp(-np.abs(diff))
        lse = alive + np.maximum(diff, 0.0) + np.log1p(e)
        inv1pe = 1.0 / (1.0 + e)
        w_gone = self.w * np.where(diff >= 0, inv1pe, e * inv1pe)  # weight × P(dropped out | data)
        w_alive = self.w - w_gone
        if self.by_pairs:  # weights per pair of the two summands' gradients
            c_tx = np.divide(w_gone, one_minus, out=np.zeros_like(w_gone), where=one_minus > 0)
            weight_alive = np.bincount(self.i_T, weights=w_alive, minlength=self.n_pairs) + self.P_nogap
            weight_gap = (np.bincount(self.i_tx, weights=c_tx, minlength=self.n_pairs)
                          + np.bincount(self.i_T, weights=w_gone - c_tx, minlength=self.n_pairs))
        else:
            weight_alive = np.concatenate([w_alive, self.w_nogap])
            weight_gap = w_gone
        Wu, xu = self.Wu, self.xu
        log_al, log_be = np.log(al), np.log(be)
        ll = (_wsum(Wu, special.gammaln(r + xu)) - W * special.gammaln(r) + W * (r * log_al + s * log_be)
              + _wsum(self.w, lse) + ll_nogap)
        W_gone = float(w_gone.sum())
        g_r = (_wsum(Wu, special.digamma(r + xu)) - W * special.digamma(r) + W * log_al
               - _wsum(weight_alive, log_at) + _wsum(weight_gap, gap.d_p))
        g_al = W * r / al - _wsum(weight_alive, p / (al + alive_t)) + _wsum(weight_gap, gap.d_alpha)
        g_s = W * log_be + W_gone / s - _wsum(weight_alive, log_bt) + _wsum(weight_gap, gap.d_q)
        g_be = W * s / be - s * _wsum(weight_alive, 1.0 / (be + alive_t)) + _wsum(weight_gap, gap.d_beta)
        grad = np.array([g_r * r, g_al * al, g_s * s, g_be * be])
        return -ll / W, -grad / W


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------


class ParetoNBDModel(FittedModel[ParetoNBDParams]):
    """Pareto/NBD model: fit on customer (frequency, recency, T), then score customers.

    Typical use::

        model = ParetoNBDModel().fit(frequency, recency, T)
        model.p_alive(frequency, recency, T)
        model.expected_purchases(26, frequency, recency, T)   # next 26 time units
    """

    model_name = "Pareto/NBD"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    params_type = ParetoNBDParams

    # ---------------------------------------------------------------------------------------- fit
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        initial: ParetoNBDParams | None = None,
    ) -> ParetoNBDModel:
        """Estimate (r, α, s, β) by maximum likelihood.

        ``weights`` are counts of customers sharing the row (see
        :func:`metrics.models.btyd_common.group_customers`); the fit on grouped rows equals the fit on
        the individual customers. Times are rescaled internally by the mean customer age and the
        search runs over log-parameters: on more than 20,000 rows from one starting point found on a
        random subsample of about 10,000 customers, otherwise from several fixed starting points (and
        from those as well whenever the single search does not converge), then polished with Newton
        steps. ``initial`` (e.g. a previous fit's parameters) replaces the subsample's start.

        Raises :class:`ModelFitError` when there are fewer than 2 customers or fewer than 10 repeat
        buyers, or on bad input. With little sign of dropout in the data, ``s`` and ``β`` may run to
        the edge of the search range together (only their ratio is pinned down); the fit's message
        says so.
        """
        fitted = _fit_purchase_model(
            self.model_name, _ParetoNBDLikelihood, _fit_arrays(frequency, recency, T, weights), _PARETO_STARTS,
            self.param_names, (False, True, False, True),
            initial=None if initial is None else initial.as_array(),
        )
        return fitted.record_on(self)

    # --------------------------------------------------------------------------------- predictions
    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood under the current parameters (Fader & Hardie 2005):

            L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ ]
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        common, alive, gone = _log_terms(self.params, x, t_x, age)
        return common + np.logaddexp(alive, gone)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability the customer is still active (has not silently churned) at the end of the window.

        The share of the likelihood that comes from "still alive at T":

            P(alive | x, t_x, T) = 1 / (1 + s (α+T)^(r+x) (β+T)^s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ)

        (Fader & Hardie 2005, eq. 11 in integral form). Evaluated as a logistic of a log-odds, so it
        stays in [0, 1] for any x and T; customers with t_x = T get 1.
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        _, alive, gone = _log_terms(self.params, x, t_x, age)
        return np.clip(special.expit(alive - gone), 0.0, 1.0)

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Expected number of purchases each customer makes in the next ``t`` time units.

            E[Y(t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive | x, t_x, T)

        (Schmittlein et al. 1987; Fader & Hardie 2005, eq. 12): given alive at T the purchase rate is
        Gamma(r+x, α+T) and the dropout rate Gamma(s, β+T). The bracket over (s-1) is written as
        y·exprel(-(s-1)y) with y = log(1 + t/(β+T)), so s = 1 (where it is y) needs no special case.
        ``t`` broadcasts against the customer arrays; P(alive), the costly part, is computed once per
        customer, so several horizons are best asked for at once (``t`` of shape ``(k, 1)``). Always
        finite and >= 0.
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the forecast horizon t must not be negative")
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        alive = self.p_alive(x, t_x, age)
        t_b, x_b, age_b, alive_b = np.broadcast_arrays(t_arr, x, age, alive)
        r, al, s, be = self.params.as_array()
        return alive_b * (r + x_b) / (al + age_b) * (be + age_b) * _lifetime_factor(s, t_b / (be + age_b))

    def expected_purchases_population(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases of a newly acquired customer during their first ``t`` time units.

            E[X(t)] = r β / (α (s-1)) · [1 - (β/(β+t))^(s-1)]

        (Schmittlein et al. 1987; Fader & Hardie 2005, eq. 9), written like the conditional
        expectation so s = 1 needs no special case. Vectorised over ``t`` (any shape).
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the time t must not be negative")
        r, al, s, be = self.params.as_array()
        return r / al * be * _lifetime_factor(s, t_arr / be)


def _lifetime_factor(s: float, ratio: NDArray[np.float64]) -> FloatArray:
    """[1 - (1 + ratio)^-(s-1)] / (s-1) = y·exprel(-(s-1)·y) with y = log(1 + ratio)."""
    y = np.log1p(ratio)
    return np.asarray(y * special.exprel(-(s - 1.0) * y), dtype=float)


def simulate_pareto_nbd(
    params: ParetoNBDParams, T: ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Simulate (frequency, recency, T) for customers observed for ``T`` time units each.

    Each customer draws λ ~ Gamma(r, rate α) and μ ~ Gamma(s, rate β), stays active for an
    exponential lifetime with rate μ from their first purchase (time 0), and buys at Poisson rate λ
    while active: x ~ Poisson(λ·min(lifetime, T)) repeat purchases, the last at the largest of x
    uniform times in (0, min(lifetime, T)). Useful for tests, demos and synthetic data.
    """
    age = np.asarray(T, dtype=float).ravel()
    n = age.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    mu = rng.gamma(params.s, 1.0 / params.beta, size=n)
    with np.errstate(divide="ignore"):
        lifetime = rng.exponential(1.0, size=n) / mu
    active_for = np.minimum(lifetime, age)
    x = rng.poisson(lam * active_for).astype(float)
    with np.errstate(divide="ignore"):
        last = active_for * rng.random(n) ** (1.0 / np.maximum(x, 1.0))
    t_x = np.where(x > 0, last, 0.0)
    return x, t_x, age
