"""MBG/NBD: BG/NBD in which a customer can also drop out right after the first purchase.

The modified beta-geometric / negative-binomial distribution (MBG/NBD) model describes the same
non-contractual business as :mod:`metrics.models.bgnbd` (customers silently stop buying):

* while a customer is active, they buy at their own steady rate ``λ``; rates differ across customers
  following a gamma distribution with shape ``r`` and rate ``α``;
* right after *every* purchase -- the first one included -- the customer may drop out for good, with
  their own probability ``p``; probabilities differ across customers following ``Beta(a, b)``.

The one difference from BG/NBD is the first purchase: in BG/NBD a customer who never came back is
alive by assumption (P(alive) = 1 however long ago they bought), which overstates the activity of
one-time buyers. Here one-time buyers age like everyone else: the longer they stay away, the less
likely they are to still be active.

From frequency ``x`` (repeat purchases), recency ``t_x`` (time of the last purchase, counted from the
first) and age ``T`` (time from the first purchase to the end of the window) the model yields
:meth:`MBGNBDModel.p_alive`, :meth:`MBGNBDModel.expected_purchases` (next ``t`` time units) and
:meth:`MBGNBDModel.expected_purchases_population` (a new customer's first ``t`` time units).

All times must use one unit chosen by the caller (days or weeks); the fitted ``α`` is in that unit.

Reference: Ö. Batislam, M. Denizel and A. Filiztekin (2007), "Empirical validation and comparison
of models for customer base analysis", *International Journal of Research in Marketing* 24(3),
201-209 (likelihood, P(alive), E[X(t)] and the conditional expectation); the same model is the k = 1
case of the MBG/CNBD-k of M. Platzer and T. Reutterer (2016), "Ticking Away the Moments: Timing
Regularity Helps to Better Predict Customer Activity", *Marketing Science* 35(5), 779-799.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from metrics.models.bgnbd import BGNBDParams, _alive_expectation, _BGNBDLikelihood
from metrics.models.btyd_common import (
    FloatArray,
    ScaledObjective,
    _as_float,
    _fit_arrays,
    _fit_purchase_model,
    _rfm_arrays,
)
from metrics.models.fitted_model import FitResult, FittedModel, ModelFitError

__all__ = ["FitResult", "MBGNBDModel", "MBGNBDParams", "ModelFitError", "simulate_mbgnbd"]

# Starting points (r, α / time scale, a, b); α is relative to the mean customer age, see ``fit``.
_MBGNBD_STARTS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (0.5, 0.2, 0.8, 3.0),
    (0.25, 0.05, 0.5, 1.5),
    (2.0, 2.0, 2.0, 8.0),
)


@dataclass(frozen=True)
class MBGNBDParams:
    """Fitted MBG/NBD population parameters.

    ``r`` and ``alpha`` describe how often customers buy while active: the average purchase rate is
    ``r / alpha`` purchases per time unit. ``a`` and ``b`` describe how quickly they churn: the average
    probability of dropping out after any purchase, the first one included, is ``a / (a + b)``.
    """

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=float)


def _mbgnbd_likelihood(x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, scale: float
                       ) -> ScaledObjective:
    """The MBG/NBD objective: BG/NBD's likelihood with the dropout chance at the first purchase."""
    return _BGNBDLikelihood(x, t_x, T, w, scale, dropout_at_first=True)


def _shifted(params: MBGNBDParams) -> BGNBDParams:
    """The BG/NBD parameters whose "alive" expectation is MBG/NBD's: given alive at T after x repeat
    purchases, p ~ Beta(a, b+x+1) under MBG/NBD and Beta(a, b'+x) under BG/NBD, so b' = b + 1."""
    return BGNBDParams(r=params.r, alpha=params.alpha, a=params.a, b=params.b + 1.0)


class MBGNBDModel(FittedModel[MBGNBDParams]):
    """MBG/NBD model: fit on customer (frequency, recency, T), then score customers.

    Typical use::

        model = MBGNBDModel().fit(frequency, recency, T)
        model.p_alive(frequency, recency, T)
        model.expected_purchases(26, frequency, recency, T)   # next 26 time units
    """

    model_name = "MBG/NBD"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    params_type = MBGNBDParams

    # ---------------------------------------------------------------------------------------- fit
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        initial: MBGNBDParams | None = None,
    ) -> MBGNBDModel:
        """Estimate (r, α, a, b) by maximum likelihood.

        ``weights`` are counts of customers sharing the row (see
        :func:`metrics.models.btyd_common.group_customers`); the fit on grouped rows equals the fit on
        the individual customers. Times are rescaled internally by the mean customer age and the
        search runs over log-parameters: on more than 20,000 rows from one starting point found on a
        random subsample of about 10,000 customers, otherwise from several fixed starting points (and
        from those as well whenever the single search does not converge), then polished with Newton
        steps. ``initial`` (e.g. a previous fit's parameters) replaces the subsample's start.

        Raises :class:`ModelFitError` when there are fewer than 2 customers or fewer than 10 repeat
        buyers, or on bad input.
        """
        fitted = _fit_purchase_model(
            self.model_name, _mbgnbd_likelihood, _fit_arrays(frequency, recency, T, weights), _MBGNBD_STARTS,
            self.param_names, (False, True, False, False),
            initial=None if initial is None else initial.as_array(),
        )
        return fitted.record_on(self)

    # --------------------------------------------------------------------------------- predictions
    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood under the current parameters (Batislam et al. 2007):

            L = Γ(r+x) α^r / Γ(r) · [ B(a, b+x+1)/B(a, b) · (α+T)^-(r+x)
                                     + B(a+1, b+x)/B(a, b) · (α+t_x)^-(r+x) ]
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        r, al, a, b = self.params.as_array()
        common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(al)
        alive = special.betaln(a, b + x + 1.0) - special.betaln(a, b) - (r + x) * np.log(al + age)
        # B(a+1, b+x) = B(a, b+x+1) · a / (b+x)
        gone = (special.betaln(a, b + x + 1.0) - special.betaln(a, b) + np.log(a) - np.log(b + x)
                - (r + x) * np.log(al + t_x))
        return common + np.logaddexp(alive, gone)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability the customer is still active (has not silently churned) at the end of the window.

        Unlike BG/NBD, a customer without a repeat purchase ages too: right after the first purchase
        they may already have dropped out.

            P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))

        (Batislam et al. 2007). Evaluated as a logistic of a log-odds, so it stays in [0, 1] for any x
        and T.
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        r, al, a, b = self.params.as_array()
        log_odds = np.log(a) - np.log(b + x) + (r + x) * np.log1p((age - t_x) / (al + t_x))
        return np.clip(special.expit(-log_odds), 0.0, 1.0)

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Expected number of purchases each customer makes in the next ``t`` time units.

            E[Y(t) | x, t_x, T] = (a+b+x)/(a-1)
                · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))] · P(alive | x, t_x, T)

        (Batislam et al. 2007), evaluated like BG/NBD's with b+1 in place of b (see
        :func:`metrics.models.bgnbd._alive_expectation`: Euler's transformation, quadrature where the
        closed form is not finite). ``t`` broadcasts against the customer arrays. Always finite, >= 0.
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the forecast horizon t must not be negative")
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        t_b, x_b, tx_b, age_b = np.broadcast_arrays(t_arr, x, t_x, age)
        alive = self.p_alive(x_b, tx_b, age_b)
        return alive * _alive_expectation(_shifted(self.params), t_b, x_b, age_b)

    def expected_purchases_population(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases of a newly acquired customer during their first ``t`` time units.

            E[X(t)] = b/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b+1; a+b; t/(α+t))]

        (Batislam et al. 2007): the customer is still active after the first purchase with probability
        b/(a+b), and is then a customer "alive at 0 with x = 0". Vectorised over ``t`` (any shape).
        """
        t_arr = _as_float("t", t)
        if np.any(t_arr < 0):
            raise ModelFitError("the time t must not be negative")
        p = self.params
        zeros = np.zeros(t_arr.shape)
        return p.b / (p.a + p.b) * _alive_expectation(_shifted(p), t_arr, zeros, zeros)


def simulate_mbgnbd(
    params: MBGNBDParams, T: ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Simulate (frequency, recency, T) for customers observed for ``T`` time units each.

    Each customer draws λ ~ Gamma(r, rate α) and p ~ Beta(a, b); right after the first purchase (time
    0) and after each repeat purchase they drop out with probability p; while active they buy at
    Poisson rate λ. Useful for tests, demos and synthetic data.
    """
    age = np.asarray(T, dtype=float).ravel()
    n = age.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.flatnonzero(rng.random(n) >= p)  # survived the first purchase
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
