"""Gamma-Gamma: how much will each customer spend per order, and what is the customer worth?

The Gamma-Gamma model describes spend per transaction:

* each customer's individual order values scatter around their own typical order value;
  values are gamma distributed with shape ``p`` and rate ``ν`` (so the customer's mean is ``p/ν``);
* ``ν`` differs across customers following a gamma distribution with shape ``q`` and rate ``v``.

The population's mean order value is ``p·v/(q-1)`` (finite only when ``q > 1``). A customer's expected
order value shrinks their observed average towards that population mean -- strongly for a customer
with one repeat purchase, hardly at all for one with fifty -- which is what makes it usable for CLV.

The model assumes a customer's spend per order is independent of how often they buy; check it with
:func:`frequency_monetary_correlation` (values near 0 are fine).

References: P. S. Fader and B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
(note, brucehardie.com/notes/025); P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "RFM and CLV:
Using Iso-Value Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from metrics.models.bgnbd import BGNBDModel
from metrics.models.btyd_common import (
    MIN_CUSTOMERS,
    MIN_REPEAT_BUYERS,
    _as_float,
    _flat_note,
    _log_covariance,
    _optimise,
    _positive_definite,
    _std_errors,
    _wsum,
)
from metrics.models.fitted_model import FittedModel, ModelFitError

__all__ = [
    "DAYS_PER_MONTH",
    "GammaGammaModel",
    "GammaGammaParams",
    "customer_lifetime_value",
    "frequency_monetary_correlation",
]

FloatArray = NDArray[np.float64]

#: Average month length used by :func:`customer_lifetime_value` (365.25 / 12 days).
DAYS_PER_MONTH = 365.25 / 12

# Starting points (p, q, v / mean spend); v is relative to the mean spend, see ``fit``.
_GG_STARTS: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0),
    (1.0, 2.0, 1.0),
    (5.0, 3.0, 0.4),
    (10.0, 5.0, 0.4),
)


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters.

    ``p`` controls how much a customer's orders vary around their own typical value; ``q`` and ``v``
    describe how typical order values vary across customers. Population mean order value:
    ``p·v/(q-1)``.
    """

    p: float
    q: float
    v: float

    def as_array(self) -> FloatArray:
        return np.array([self.p, self.q, self.v], dtype=float)

    @property
    def population_mean(self) -> float:
        """Mean order value across the customer base, p·v/(q-1) (infinite when q <= 1)."""
        return float(self.p * self.v / (self.q - 1.0)) if self.q > 1.0 else float("inf")


class _GammaGammaLikelihood:
    """Weighted Gamma-Gamma log-likelihood of the repeat buyers' average spend, with gradient.

    For a customer with x repeat transactions of average value m (Fader & Hardie 2013):

        log f(m | x) = log Γ(px+q) - log Γ(px) - log Γ(q) + q log v + (px-1) log m + px log x
                       - (px+q) log(v + x m)

    Spend is divided by ``scale`` so v is of order one; that shifts the log-likelihood by the
    constant -Σw·log(scale), added back in :meth:`original_units_ll`.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray, scale: float):
        self.scale = scale
        self.W = float(w.sum())
        self.xu, inv = np.unique(x, return_inverse=True)
        self.Wu = np.bincount(inv.astype(np.intp), weights=w, minlength=self.xu.size)
        ms = m / scale
        self.xm = x * ms
        self.w = w
        self.wx = w * x
        # parameter-free parts: Σw·x·log m, Σw·log m, Σw·x·log x
        log_m = np.log(ms)
        self.s_constant_p = _wsum(self.wx, log_m) + _wsum(self.wx, np.log(x))
        self.s_logm = _wsum(w, log_m)

    def original_units_ll(self, scaled_ll: float) -> float:
        return scaled_ll - self.W * np.log(self.scale)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative mean log-likelihood and its gradient with respect to log(p, q, v)."""
        p, q, v = np.exp(theta)
        xu, Wu, W = self.xu, self.Wu, self.W
        px = p * xu
        log_v_xm = np.log(v + self.xm)
        s_x_log = _wsum(self.wx, log_v_xm)  # Σ w·x·log(v + x m)
        s_log = _wsum(self.w, log_v_xm)  # Σ w·log(v + x m)
        log_v = np.log(v)
        ll = (
            _wsum(Wu, special.gammaln(px + q) - special.gammaln(px))
            - W * special.gammaln(q)
            + W * q * log_v
            + p * self.s_constant_p
            - self.s_logm
            - p * s_x_log
            - q * s_log
        )
        psi_pxq = special.digamma(px + q)
        g_p = _wsum(Wu, xu * (psi_pxq - special.digamma(px))) + self.s_constant_p - s_x_log
        g_q = _wsum(Wu, psi_pxq) - W * special.digamma(q) + W * log_v - s_log
        g_v = W * q / v - _wsum(p * self.wx + q * self.w, 1.0 / (v + self.xm))
        grad = np.array([g_p * p, g_q * q, g_v * v])
        return -ll / W, -grad / W


def _spend_arrays(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Broadcast, validated (x, m); m is set to 0 where x = 0 (it is not used there)."""
    x = _as_float("frequency", frequency)
    m = np.asarray(monetary_value, dtype=float)
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError as exc:
        raise ModelFitError("frequency and monetary_value must have the same length") from exc
    if np.any(x < 0):
        raise ModelFitError("frequency must not be negative")
    m = np.where(x > 0, m, 0.0)
    if not np.all(np.isfinite(m)):
        raise ModelFitError("monetary_value of repeat buyers contains missing or infinite values")
    if np.any(m < 0):
        raise ModelFitError("monetary_value must not be negative")
    return x, m


class GammaGammaModel(FittedModel[GammaGammaParams]):
    """Gamma-Gamma spend model: fit on repeat buyers' (frequency, average order value), then score.

    Typical use::

        gg = GammaGammaModel().fit(frequency, monetary_value)
        gg.expected_order_value(frequency, monetary_value)
    """

    model_name = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    params_type = GammaGammaParams

    @classmethod
    def _check_params(cls, params: GammaGammaParams) -> None:
        if params.q <= 1.0:
            raise ValueError("Gamma-Gamma parameter q must exceed 1 for a finite mean order value")

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> GammaGammaModel:
        """Estimate (p, q, v) by maximum likelihood from the repeat buyers.

        ``monetary_value`` is each customer's mean value of their *repeat* transactions (the first
        purchase excluded, as in the papers); customers with ``frequency == 0`` are ignored, so their
        monetary value may be anything (0 or NaN). ``weights`` are customer counts per row.

        Raises :class:`ModelFitError` with fewer than 10 repeat buyers, when a repeat buyer's average
        spend is not positive, or when the optimum has q <= 1 (the population mean spend would be
        infinite, so expected order values are undefined).
        """
        x = _as_float("frequency", frequency).ravel()
        m = np.asarray(monetary_value, dtype=float).ravel()
        w = np.ones_like(x) if weights is None else _as_float("weights", weights).ravel()
        if not (x.size == m.size == w.size):
            raise ModelFitError(
                "frequency, monetary_value (and weights) must have the same length; got "
                f"{x.size}, {m.size} and {w.size}"
            )
        if np.any(x < 0) or np.any(w < 0):
            raise ModelFitError("frequency and weights must not be negative")
        keep = (x > 0) & (w > 0)
        x, m, w = x[keep], m[keep], w[keep]
        if not np.all(np.isfinite(m)) or np.any(m <= 0):
            raise ModelFitError(
                "every repeat buyer needs a positive average order value; found zero, negative or missing values"
            )
        n_repeat = float(w.sum())
        if n_repeat < max(MIN_REPEAT_BUYERS, MIN_CUSTOMERS):
            raise ModelFitError(
                f"Gamma-Gamma needs at least {MIN_REPEAT_BUYERS} customers with a repeat purchase to "
                f"estimate spend per order; got {n_repeat:g}"
            )
        scale = float(_wsum(w, m) / n_repeat)
        lik = _GammaGammaLikelihood(x, m, w, scale)
        starts = [np.log(s) for s in _GG_STARTS]
        res, converged, message = _optimise(lik, starts, ("p", "q", "v"))
        theta = res.x
        p, q, v = np.exp(theta)
        if q <= 1.0:
            raise ModelFitError(
                f"the fitted spend distribution has q = {q:.3g} <= 1, i.e. no finite average order "
                "value across customers; Gamma-Gamma cannot be used on this data (look for extreme "
                "order values or a strong link between frequency and spend)"
            )
        params = GammaGammaParams(p=float(p), q=float(q), v=float(v * scale))
        se = _std_errors(res, n_repeat)
        std_errors = None
        if se is not None:
            std_errors = GammaGammaParams(p=float(se[0]), q=float(se[1]), v=float(se[2] * scale))
        return self._record_fit(params, std_errors, log_likelihood=float(lik.original_units_ll(-res.fun * n_repeat)),
                                converged=converged, n_customers=n_repeat, n_repeat_buyers=n_repeat,
                                message=_flat_note(message, se), iterations=int(res.nit),
                                log_param_covariance=_positive_definite(_log_covariance(res, n_repeat)))

    def expected_order_value(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Expected value of each customer's future orders.

        A weighted average of the population mean and the customer's own average, trusting the
        customer's own history more the more repeat orders they have:

            E[M | x, m] = (q-1)/(px+q-1) · p·v/(q-1) + px/(px+q-1) · m = (p·v + p·x·m)/(p·x + q - 1)

        (Fader & Hardie 2013). For customers without repeat purchases (x = 0) this is the
        population mean p·v/(q-1); their ``monetary_value`` is ignored.
        """
        x, m = _spend_arrays(frequency, monetary_value)
        p, q, v = self.params.as_array()
        return (p * v + p * x * m) / (p * x + q - 1.0)


def frequency_monetary_correlation(frequency: ArrayLike, monetary_value: ArrayLike) -> float:
    """Pearson correlation between purchase frequency and average order value, repeat buyers only.

    Gamma-Gamma assumes the two are independent, so this should be close to 0 (as a rule of thumb,
    |corr| below ~0.3); a strong correlation means the CLV numbers should be read with care. Returns
    NaN when it is undefined (fewer than 2 repeat buyers, or no variation).
    """
    x = np.asarray(frequency, dtype=float).ravel()
    m = np.asarray(monetary_value, dtype=float).ravel()
    if x.size != m.size:
        raise ValueError("frequency and monetary_value must have the same length")
    keep = (x > 0) & np.isfinite(x) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if x.size < 2:
        return float("nan")
    dx, dm = x - x.mean(), m - m.mean()
    denom = np.sqrt(_wsum(dx, dx) * _wsum(dm, dm))
    if not denom > 0:
        return float("nan")
    return float(np.clip(_wsum(dx, dm) / denom, -1.0, 1.0))


def customer_lifetime_value(
    bgnbd: BGNBDModel,
    gg: GammaGammaModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    time_unit_days: float,
    months: int = 12,
    discount_rate_monthly: float = 0.0,
) -> FloatArray:
    """Expected revenue from each customer over the next ``months`` months (predictive CLV).

    Month by month, the expected number of purchases (BG/NBD) times the expected order value
    (Gamma-Gamma), discounted to today at ``discount_rate_monthly`` (value in month i is divided by
    (1 + d)^i, i = 1..months):

        CLV = Σ_i (E[Y(i·Δ)] - E[Y((i-1)·Δ)]) · E[M] / (1 + d)^i

    where Δ is one month (365.25/12 days) in the model's time unit, so ``time_unit_days`` must say
    what the BG/NBD time unit is (7 for weeks, 1 for days). With d = 0 this is exactly
    E[purchases in the next ``months`` months] × E[order value]. (Fader, Hardie & Lee 2005, "RFM and
    CLV", discounted expected residual transactions, here on a monthly grid.)
    """
    if not (np.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError("time_unit_days must be a positive number of days (7 for weeks, 1 for days)")
    if int(months) != months or months < 1:
        raise ValueError("months must be a positive whole number")
    if not (np.isfinite(discount_rate_monthly) and discount_rate_monthly > -1.0):
        raise ValueError("discount_rate_monthly must be a number above -1 (e.g. 0.01 for 1% a month)")
    eov = gg.expected_order_value(frequency, monetary_value)
    step = DAYS_PER_MONTH / float(time_unit_days)
    n_months = int(months)
    if discount_rate_monthly == 0.0:  # the monthly increments telescope
        purchases = bgnbd.expected_purchases(step * n_months, frequency, recency, T)
    else:
        purchases = np.zeros(())
        previous = np.zeros(())
        for i in range(1, n_months + 1):  # one month at a time keeps memory at O(customers)
            current = bgnbd.expected_purchases(step * i, frequency, recency, T)
            purchases = purchases + (current - previous) / (1.0 + discount_rate_monthly) ** i
            previous = current
    return np.maximum(purchases * eov, 0.0)
