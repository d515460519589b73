"""BG/NBD: parameter recovery, hand-written formulas, published CDNOW figures, weights, edge cases.

The reference formulas in this file are written out independently of ``metrics.models.bgnbd`` (plain
``math.lgamma`` and ``scipy.special.hyp2f1`` on the paper's original, untransformed expressions).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.special import hyp2f1

from metrics.models.bgnbd import (
    BGNBDModel,
    BGNBDParams,
    ModelFitError,
    _alive_expectation,
    _alive_expectation_quad,
    expected_population_curve,
    group_customers,
    simulate_bgnbd,
)
from tests.btyd_checks import assert_unbiased_holdout

TRUE = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # weeks
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way": the CDNOW fit, weeks.
CDNOW = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
N_SIM = 20_000
SEED = 20_240_501


# ------------------------------------------------------------------------------------------------
# independent reference formulas (FHL 2005)
# ------------------------------------------------------------------------------------------------


def ref_log_likelihood(p: BGNBDParams, x: int, t_x: float, T: float) -> float:
    """The BG/NBD likelihood (FHL 2005), written with math.lgamma and exp (fine for moderate x and T)."""
    r, al, a, b = p.r, p.alpha, p.a, p.b

    def lbeta(u: float, v: float) -> float:
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    common = math.lgamma(r + x) - math.lgamma(r) + r * math.log(al)
    first = math.exp(lbeta(a, b + x) - lbeta(a, b)) * (al + T) ** -(r + x)
    second = 0.0
    if x > 0:
        second = math.exp(lbeta(a + 1, b + x - 1) - lbeta(a, b)) * (al + t_x) ** -(r + x)
    return common + math.log(first + second)


def ref_p_alive(p: BGNBDParams, x: int, t_x: float, T: float) -> float:
    """P(alive), FHL (2008) note: 1 / (1 + δ(x>0) · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))."""
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + p.a / (p.b + x - 1) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x))


def ref_conditional_expectation(p: BGNBDParams, t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T] (FHL 2005), the untransformed hypergeometric expression."""
    r, al, a, b = p.r, p.alpha, p.a, p.b
    z = t / (al + T + t)
    num = (a + b + x - 1) / (a - 1)
    num *= 1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    den = 1 + (x > 0) * a / (b + x - 1) * ((al + T) / (al + t_x)) ** (r + x)
    return num / den


def ref_population_expectation(p: BGNBDParams, t: float) -> float:
    """FHL 2005: E[X(t)] = (a+b-1)/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b; a+b-1; t/(α+t))]."""
    r, al, a, b = p.r, p.alpha, p.a, p.b
    return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp2f1(r, b, a + b - 1, t / (al + t)))


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return simulate_bgnbd(TRUE, rng.uniform(30, 78, N_SIM), rng)


@pytest.fixture(scope="module")
def fitted(simulated) -> BGNBDModel:
    return BGNBDModel().fit(*simulated)


# ------------------------------------------------------------------------------------------------
# parameter recovery
# ------------------------------------------------------------------------------------------------

# Tolerances (relative) for N = 20,000 customers with T ~ U(30, 78) weeks. Over 20 seeds (0..19) the
# relative errors had RMS r 1.4%, α 2.3%, a 5.0%, b 6.7% (matching the fit's own standard errors,
# 1.5%, 2.5%, 5.4%, 7.2%) and maxima 3.1%, 6.0%, 10.8%, 15.2%. The tolerances are about four
# standard errors. This seed's errors are reported by the assertion messages.
RECOVERY_TOL = {"r": 0.06, "alpha": 0.10, "a": 0.22, "b": 0.30}


def test_recovers_simulated_parameters(fitted):
    res = fitted.result
    assert res.converged, res.message
    assert res.message == "converged"
    assert res.n_customers == N_SIM
    assert 0 < res.n_repeat_buyers < N_SIM
    assert res.iterations > 0
    for name, tol in RECOVERY_TOL.items():
        est, true = getattr(res.params, name), getattr(TRUE, name)
        se = getattr(res.std_errors, name)
        assert abs(est / true - 1) < tol, f"{name}: estimated {est:.4f}, true {true}"
        assert abs(est - true) < 4 * se, f"{name}: estimated {est:.4f} ± {se:.4f}, true {true}"


def test_recovers_mean_purchase_rate_and_dropout(fitted):
    # Better determined than the raw parameters: over 20 seeds the RMS relative errors were 1.5%
    # (mean rate r/α) and 2.2% (mean dropout probability a/(a+b)); tolerances ~4x.
    p = fitted.params
    assert p.r / p.alpha == pytest.approx(TRUE.r / TRUE.alpha, rel=0.06)
    assert p.a / (p.a + p.b) == pytest.approx(TRUE.a / (TRUE.a + TRUE.b), rel=0.09)


def test_log_likelihood_is_the_papers_and_is_maximised(simulated, fitted):
    x, t_x, T = simulated
    ref = sum(ref_log_likelihood(fitted.params, int(xi), ti, Ti) for xi, ti, Ti in zip(x, t_x, T, strict=True))
    assert fitted.result.log_likelihood == pytest.approx(ref, rel=1e-10)
    assert fitted.log_likelihood_of(x, t_x, T).sum() == pytest.approx(ref, rel=1e-10)
    base = fitted.params.as_array()
    for i, step in itertools.product(range(4), (-0.01, 0.01)):
        moved = base.copy()
        moved[i] *= 1 + step
        other = BGNBDModel.from_params(BGNBDParams(*moved))
        assert other.log_likelihood_of(x, t_x, T).sum() < fitted.result.log_likelihood


def test_simulated_purchases_match_the_model_mean(simulated):
    # E[X(T)] averaged over customers vs the simulated mean frequency (4 standard errors).
    x, _, T = simulated
    expected = BGNBDModel.from_params(TRUE).expected_purchases_population(T).mean()
    assert abs(x.mean() - expected) < 4 * x.std() / math.sqrt(x.size)


def _simulate_with_holdout(p: BGNBDParams, T: np.ndarray, horizon: float, rng: np.random.Generator):
    """A per-customer simulator written independently of simulate_bgnbd, with a holdout period."""
    rows = []
    for age in T:
        lam = rng.gamma(p.r, 1 / p.alpha)
        drop = rng.beta(p.a, p.b)
        now, x, t_x, future, alive = 0.0, 0, 0.0, 0, True
        while alive:
            now += rng.exponential(1 / lam)
            if now > age + horizon:
                break
            if now <= age:
                x, t_x = x + 1, now
            else:
                future += 1
            alive = rng.random() >= drop
        rows.append((x, t_x, future))
    arr = np.array(rows, dtype=float)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def test_conditional_expectation_predicts_the_holdout():
    # Simulate calibration + 39-week holdout; the sum of E[Y(39) | x, t_x, T] must match the actual
    # holdout purchases within 4 standard errors of the per-customer prediction error.
    rng = np.random.default_rng(7)
    T = rng.uniform(30, 78, 8_000)
    x, t_x, future = _simulate_with_holdout(TRUE, T, 39.0, rng)
    pred = BGNBDModel.from_params(TRUE).expected_purchases(39.0, x, t_x, T)
    assert_unbiased_holdout(x, future, pred)


# ------------------------------------------------------------------------------------------------
# closed forms by hand
# ------------------------------------------------------------------------------------------------

CUSTOMERS = [  # (x, t_x, T)
    (0, 0.0, 38.86),
    (1, 2.0, 38.86),
    (2, 30.43, 38.86),
    (7, 35.0, 38.0),
    (3, 5.0, 70.0),
]


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_p_alive_by_hand(x, t_x, T):
    model = BGNBDModel.from_params(CDNOW)
    assert model.p_alive(x, t_x, T) == pytest.approx(ref_p_alive(CDNOW, x, t_x, T), rel=1e-12)


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 200.0])
def test_conditional_expectation_by_hand(t, x, t_x, T):
    model = BGNBDModel.from_params(CDNOW)
    ref = ref_conditional_expectation(CDNOW, t, x, t_x, T)
    assert model.expected_purchases(t, x, t_x, T) == pytest.approx(ref, rel=1e-9)


def test_population_expectation_by_hand():
    model = BGNBDModel.from_params(CDNOW)
    ts = np.array([0.0, 0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    ref = [ref_population_expectation(CDNOW, t) if t > 0 else 0.0 for t in ts]
    np.testing.assert_allclose(model.expected_purchases_population(ts), ref, rtol=1e-9)


def test_p_alive_is_one_without_repeat_purchases():
    model = BGNBDModel.from_params(CDNOW)
    np.testing.assert_array_equal(model.p_alive([0, 0, 0], [0.0, 0.0, 0.0], [1.0, 50.0, 5000.0]), 1.0)


def test_vectorised_and_broadcast():
    model = BGNBDModel.from_params(CDNOW)
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*CUSTOMERS, strict=True))
    horizons = np.array([[1.0], [10.0], [39.0]])
    grid = model.expected_purchases(horizons, x, t_x, T)
    assert grid.shape == (3, len(CUSTOMERS))
    for i, t in enumerate(horizons[:, 0]):
        np.testing.assert_allclose(grid[i], [model.expected_purchases(t, *c) for c in CUSTOMERS])
    assert np.all(np.diff(grid, axis=0) > 0)  # more time, more purchases


def test_closed_form_agrees_with_quadrature():
    # The Euler-transformed closed form against the integral over the dropout posterior, across a
    # wide parameter range, including a ≈ 1 (removable singularity) and a + b < 1.
    rng = np.random.default_rng(3)
    for _ in range(40):
        lo, hi = np.log([0.05, 0.1, 0.05, 0.2]), np.log([20, 100, 20, 50])
        p = BGNBDParams(*np.exp(rng.uniform(lo, hi)))
        t = np.exp(rng.uniform(np.log(0.01), np.log(500), 4))
        x = np.floor(np.exp(rng.uniform(0, np.log(500), 4))) - 1
        T = np.exp(rng.uniform(0, np.log(1000), 4))
        np.testing.assert_allclose(_alive_expectation(p, t, x, T), _alive_expectation_quad(p, t, x, T), rtol=1e-6)
    t, x, T = np.array([1.0, 10.0, 100.0]), np.array([0.0, 3.0, 30.0]), np.array([5.0, 50.0, 500.0])
    for a in (1 - 1e-3, 1 - 2e-6, 1.0, 1 + 3e-6, 1 + 1e-3):
        p = BGNBDParams(0.5, 3.0, a, 2.0)
        np.testing.assert_allclose(_alive_expectation(p, t, x, T), _alive_expectation_quad(p, t, x, T), rtol=1e-8)
    for b in (0.5, 0.7):  # a + b - 1 <= 0: 2F1 with c <= 0 for x = 0
        p = BGNBDParams(0.5, 3.0, 0.3, b)
        zero = np.zeros(3)
        np.testing.assert_allclose(
            _alive_expectation(p, t, zero, zero), _alive_expectation_quad(p, t, zero, zero), rtol=1e-8
        )


# ------------------------------------------------------------------------------------------------
# published CDNOW figures
# ------------------------------------------------------------------------------------------------


def _rounding_box(params: BGNBDParams, half_unit: float = 0.0005):
    """Models at the 16 corners of the box of parameters that round to the published 3 decimals."""
    base = params.as_array()
    for signs in itertools.product((-1.0, 1.0), repeat=4):
        yield BGNBDModel.from_params(BGNBDParams(*(base + half_unit * np.array(signs))))


def test_cdnow_conditional_expectation_published():
    # A customer with x = 2, t_x = 30.43, T = 38.86 (weeks) is expected to make 1.226 purchases in
    # the next 39 weeks: the worked example of the CDNOW BG/NBD analysis (FHL 2005 / Hardie's BG/NBD
    # spreadsheet; also lifetimes' test_conditional_expectation_returns_same_value_as_Hardie_excel_sheet).
    model = BGNBDModel.from_params(CDNOW)
    assert model.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)
    values = [m.expected_purchases(39, 2, 30.43, 38.86) for m in _rounding_box(CDNOW)]
    assert min(values) - 5e-4 <= 1.226 <= max(values) + 5e-4


def test_cdnow_population_expectation_published():
    # E[X(t)] for the CDNOW fit from Hardie's BG/NBD spreadsheet, as quoted by lifetimes'
    # test_expectation_returns_same_value_Hardie_excel_sheet (4 decimals). The published parameters
    # are rounded to 3 decimals, which moves E[X(78)] by up to ±0.004, so each published figure must
    # lie within the range spanned by the parameter values that round to the published ones.
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    published = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    box = np.array([m.expected_purchases_population(times) for m in _rounding_box(CDNOW)])
    assert np.all(box.min(axis=0) - 5e-5 <= published)
    assert np.all(published <= box.max(axis=0) + 5e-5)
    ours = BGNBDModel.from_params(CDNOW).expected_purchases_population(times)
    np.testing.assert_allclose(ours, published, atol=4e-3)


# ------------------------------------------------------------------------------------------------
# weights and grouping
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daily_customers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated customers with times rounded to whole days (in weeks): many identical rows."""
    rng = np.random.default_rng(11)
    x, t_x, T = simulate_bgnbd(TRUE, rng.integers(210, 547, 15_000) / 7.0, rng)
    return x, np.round(t_x * 7) / 7, T


def test_group_customers(daily_customers):
    x, t_x, T = daily_customers
    gx, gt, gT, counts = group_customers(x, t_x, T)
    assert counts.sum() == x.size and counts.min() >= 1
    assert gx.size < x.size / 2
    rows, ref_counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    np.testing.assert_array_equal(np.column_stack([gx, gt, gT]), rows)
    np.testing.assert_array_equal(counts, ref_counts)
    empty = group_customers([], [], [])
    assert all(a.size == 0 for a in empty)


def test_weighted_fit_equals_per_customer_fit(daily_customers):
    x, t_x, T = daily_customers
    single = BGNBDModel().fit(x, t_x, T)
    grouped = BGNBDModel().fit(*group_customers(x, t_x, T)[:3], weights=group_customers(x, t_x, T)[3])
    np.testing.assert_allclose(grouped.params.as_array(), single.params.as_array(), rtol=1e-6)
    assert grouped.result.log_likelihood == pytest.approx(single.result.log_likelihood, rel=1e-10)
    assert grouped.result.n_customers == single.result.n_customers == x.size
    assert grouped.result.n_repeat_buyers == single.result.n_repeat_buyers
    # zero weights drop rows
    w = np.ones(x.size)
    w[::2] = 0
    half = BGNBDModel().fit(x, t_x, T, weights=w)
    ref = BGNBDModel().fit(x[1::2], t_x[1::2], T[1::2])
    np.testing.assert_allclose(half.params.as_array(), ref.params.as_array(), rtol=1e-6)


def test_time_unit_only_rescales_alpha(daily_customers):
    x, t_x, T = daily_customers
    weeks = BGNBDModel().fit(x, t_x, T).params
    days = BGNBDModel().fit(x, t_x * 7, T * 7).params
    np.testing.assert_allclose(
        [days.r, days.alpha / 7, days.a, days.b], [weeks.r, weeks.alpha, weeks.a, weeks.b], rtol=1e-6
    )


# ------------------------------------------------------------------------------------------------
# cohort curve
# ------------------------------------------------------------------------------------------------


def test_expected_population_curve():
    model = BGNBDModel.from_params(CDNOW)
    t0 = np.array([0, 0, 3, 5, 5, 5, 12, 40])  # 40 > horizon: contributes nothing
    curve = expected_population_curve(model, t0, 20)
    ref = [sum(ref_population_expectation(CDNOW, k - s) for s in t0 if k > s) for k in range(21)]
    np.testing.assert_allclose(curve, ref, rtol=1e-9, atol=1e-12)
    assert curve[0] == 0 and np.all(np.diff(curve) >= 0)
    # fractional first-purchase times (days expressed in weeks) take the general path
    frac = np.array([0.0, 1 / 7, 3.5, 10.25])
    curve = expected_population_curve(model, frac, 15)
    ref = [sum(ref_population_expectation(CDNOW, k - s) for s in frac if k > s) for k in range(16)]
    np.testing.assert_allclose(curve, ref, rtol=1e-9, atol=1e-12)
    # customers acquired before period 0 only count purchases after period 0
    early = expected_population_curve(model, [-4.0], 6)
    ref = [ref_population_expectation(CDNOW, k + 4) - ref_population_expectation(CDNOW, 4) for k in range(7)]
    np.testing.assert_allclose(early, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(expected_population_curve(model, [], 3), np.zeros(4))


# ------------------------------------------------------------------------------------------------
# degenerate input and numerical stability
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t_x", "T", "match"),
    [
        ([], [], [], "at least 2 customers"),
        ([3], [10.0], [20.0], "at least 2 customers"),
        ([0] * 50, [0.0] * 50, [30.0] * 50, "at least 10 customers with a repeat purchase"),
        ([1] * 9 + [0] * 100, [5.0] * 9 + [0.0] * 100, [30.0] * 109, "got 9 of 109"),
        ([1, np.nan], [1.0, 1.0], [2.0, 2.0], "missing or infinite"),
        ([1, 2], [1.0, 5.0], [2.0, 3.0], "cannot exceed T"),
        ([1.5, 2], [1.0, 1.0], [2.0, 3.0], "whole number"),
        ([1, 2], [1.0, 1.0], [2.0], "same length"),
    ],
)
def test_fit_rejects_degenerate_input(x, t_x, T, match):
    with pytest.raises(ModelFitError, match=match):
        BGNBDModel().fit(x, t_x, T)


def test_fit_rejects_negative_weights():
    with pytest.raises(ModelFitError, match="weights"):
        BGNBDModel().fit([1] * 20, [1.0] * 20, [2.0] * 20, weights=[-1.0] + [1.0] * 19)


def test_model_errors_are_value_errors_and_unfitted_model_says_so():
    assert issubclass(ModelFitError, ValueError)
    with pytest.raises(RuntimeError, match="not been fitted"):
        _ = BGNBDModel().params
    with pytest.raises(ValueError, match="positive"):
        BGNBDModel.from_params(BGNBDParams(0.2, -1.0, 0.5, 1.0))


def test_huge_frequency_and_age_stay_finite():
    model = BGNBDModel.from_params(CDNOW)
    x = np.array([500.0, 500.0, 5000.0, 0.0, 1.0])
    t_x = np.array([4999.0, 100.0, 4999.9, 0.0, 0.001])
    T = np.array([5000.0, 5000.0, 5000.0, 5000.0, 5000.0])
    alive = model.p_alive(x, t_x, T)
    exp = model.expected_purchases(39.0, x, t_x, T)
    ll = model.log_likelihood_of(x, t_x, T)
    for arr in (alive, exp, ll):
        assert np.all(np.isfinite(arr))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(exp >= 0)
    assert alive[0] > 0.99 and alive[1] < 1e-6  # active vs long-silent heavy buyer
    # a heavy, active buyer keeps buying at about (r+x)/(α+T) per week
    assert exp[0] == pytest.approx(39 * (CDNOW.r + 500) / (CDNOW.alpha + 5000), rel=0.05)
    assert np.all(np.isfinite(model.expected_purchases_population([1e-9, 1e4, 1e7])))


def test_fit_with_extreme_customers_is_finite(simulated):
    x, t_x, T = (
        np.concatenate([a, extra])
        for a, extra in zip(simulated, ([500, 2000], [77.0, 78.0], [78.0, 78.0]), strict=True)
    )
    model = BGNBDModel().fit(x, t_x, T)
    assert np.all(np.isfinite(model.params.as_array()))
    assert np.isfinite(model.result.log_likelihood)


def test_no_dropout_data_is_flagged_as_poorly_determined():
    # Customers who never churn: Poisson buyers observed over their whole age. The dropout
    # probability runs to 0 (a -> 0, b -> large); the fit must stay finite and say so.
    rng = np.random.default_rng(0)
    T = rng.uniform(30, 78, 5_000)
    x = rng.poisson(rng.gamma(0.5, 1 / 4, T.size) * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    model = BGNBDModel().fit(x, t_x, T)
    p = model.params
    assert np.all(np.isfinite(p.as_array()))
    assert p.a / (p.a + p.b) < 1e-6
    assert ("not well determined" in model.result.message) or ("edge of the search range" in model.result.message)
    assert model.p_alive(x, t_x, T).min() > 0.99


def test_prediction_input_errors():
    model = BGNBDModel.from_params(CDNOW)
    with pytest.raises(ModelFitError, match="negative"):
        model.expected_purchases(-1.0, 1, 1.0, 2.0)
    with pytest.raises(ModelFitError, match="missing"):
        model.p_alive([1], [np.inf], [2.0])
