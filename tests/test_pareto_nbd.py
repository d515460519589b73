"""Pareto/NBD: hand-written formulas, the dropout integral, parameter recovery, weights, edge cases.

The reference formulas in this file are written out independently of ``metrics.models.pareto_nbd``:
the closed forms of Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related
Expressions" (the likelihood with its two Gauss hypergeometric terms, one form for α >= β and one for
α < β), evaluated in arbitrary precision with ``mpmath``, and the raw integral by ``mpmath.quad``.
"""

from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, optimize

from metrics.models.bgnbd import group_customers
from metrics.models.btyd_common import _fit_arrays, _fit_purchase_model
from metrics.models.fitted_model import ModelFitError
from metrics.models.pareto_nbd import (
    _PARETO_STARTS,
    ParetoNBDModel,
    ParetoNBDParams,
    _log_gap_integral,
    _ParetoNBDLikelihood,
    simulate_pareto_nbd,
)
from tests.btyd_checks import assert_unbiased_holdout

TRUE = ParetoNBDParams(r=0.55, alpha=10.5, s=0.6, beta=11.7)  # weeks, close to the CDNOW fit
N_SIM = 20_000
SEED = 20_240_603
mp.mp.dps = 40


# ------------------------------------------------------------------------------------------------
# independent reference formulas (Fader & Hardie 2005), in arbitrary precision
# ------------------------------------------------------------------------------------------------


def ref_A0(p: ParetoNBDParams, x: int, t_x: float, T: float) -> mp.mpf:
    """FH 2005 eq. (A0): the hypergeometric terms, one form for α >= β and one for α < β."""
    r, al, s, be = (mp.mpf(v) for v in p.as_array())
    t_x, T = mp.mpf(t_x), mp.mpf(T)
    c = r + s + x
    if al >= be:
        def term(t):
            return mp.hyp2f1(c, s + 1, c + 1, (al - be) / (al + t)) / (al + t) ** c
    else:
        def term(t):
            return mp.hyp2f1(c, r + x, c + 1, (be - al) / (be + t)) / (be + t) ** c
    return term(t_x) - term(T)


def ref_log_likelihood(p: ParetoNBDParams, x: int, t_x: float, T: float) -> float:
    """L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) · A0 ]."""
    r, al, s, be = (mp.mpf(v) for v in p.as_array())
    common = mp.gamma(r + x) * al**r * be**s / mp.gamma(r)
    alive = 1 / ((al + T) ** (r + x) * (be + T) ** s)
    return float(mp.log(common * (alive + s / (r + s + x) * ref_A0(p, x, t_x, T))))


def ref_p_alive(p: ParetoNBDParams, x: int, t_x: float, T: float) -> float:
    """P(alive) = 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A0)."""
    r, al, s, be = (mp.mpf(v) for v in p.as_array())
    return float(1 / (1 + s / (r + s + x) * (al + T) ** (r + x) * (be + T) ** s * ref_A0(p, x, t_x, T)))


def ref_conditional_expectation(p: ParetoNBDParams, t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T] = (r+x)(β+T)/((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive)."""
    r, al, s, be = p.as_array()
    bracket = 1 - ((be + T) / (be + T + t)) ** (s - 1)
    return (r + x) * (be + T) / ((al + T) * (s - 1)) * bracket * ref_p_alive(p, x, t_x, T)


def ref_population_expectation(p: ParetoNBDParams, t: float) -> float:
    """E[X(t)] = r β / (α (s-1)) · [1 - (β/(β+t))^(s-1)] (the limit r/α·β·log(1 + t/β) at s = 1)."""
    r, al, s, be = p.as_array()
    if s == 1:
        return r / al * be * math.log1p(t / be)
    return r * be / (al * (s - 1)) * (1 - (be / (be + t)) ** (s - 1))


def ref_log_integral(p: float, q: float, al: float, be: float, lo: float, hi: float) -> list[float]:
    """log J, J = ∫_lo^hi (α+τ)^-p (β+τ)^-q dτ, and ∂log J/∂(p, q, α, β), by adaptive quadrature
    (scipy's QUADPACK) of the integrand and of its derivatives, each divided by the integrand's value
    at ``lo`` (so nothing underflows), with break points where the integrand changes scale."""
    scale = (min(al, be) + lo) / (p + q)  # the integrand falls by about e over the first `scale`
    steps = (1e-3, 1e-2, 0.1, 0.3, 1, 3, 10, 30, 100, 1e3, 1e4, 1e5)
    points = [lo + scale * k for k in steps if lo + scale * k < hi]

    def integral(g):
        def h(tau):
            return math.exp(-p * math.log1p((tau - lo) / (al + lo)) - q * math.log1p((tau - lo) / (be + lo))) * g(tau)

        return integrate.quad(h, lo, hi, points=points or None, limit=500, epsabs=0.0, epsrel=1e-13)[0]

    j = integral(lambda tau: 1.0)
    log_j = math.log(j) - p * math.log(al + lo) - q * math.log(be + lo)
    return [log_j,
            -integral(lambda tau: math.log(al + tau)) / j,
            -integral(lambda tau: math.log(be + tau)) / j,
            -p * integral(lambda tau: 1 / (al + tau)) / j,
            -q * integral(lambda tau: 1 / (be + tau)) / j]


# ------------------------------------------------------------------------------------------------
# the dropout integral against arbitrary precision
# ------------------------------------------------------------------------------------------------


def test_gap_integral_matches_the_hypergeometric_closed_form_to_1e_8():
    # J(lo, hi) = G(lo) - G(hi), G(t) = (K+t)^-a/a · 2F1(a, e; a+1; (K-k)/(K+t)) with K the larger of
    # α, β and e the exponent of the other factor; a grid over α, β (both orders), r, s, x and limits,
    # including x = 300, tiny and huge α or β, lo = 0 and lo close to hi.
    def G(p, q, al, be, t):
        p, q, al, be, t = (mp.mpf(v) for v in (p, q, al, be, t))
        a = p + q - 1
        K, k, e = (al, be, q) if al >= be else (be, al, p)
        return (K + t) ** (-a) / a * mp.hyp2f1(a, e, a + 1, (K - k) / (K + t))

    worst = 0.0
    grid = itertools.product((0.003, 0.3, 30.0), (0.003, 0.3, 30.0), (0.05, 3.0), (0.05, 3.0))
    limits = [(0.0, 2.0), (0.5, 0.51), (0.5, 2.0)]
    for al, be, r, s in grid:
        xs = np.array([0.0, 10.0, 300.0])
        for lo, hi in limits:
            got = _log_gap_integral(r + xs, s + 1.0, al, be, np.full(xs.size, lo), hi, derivatives=False).log_value
            for x, value in zip(xs, got, strict=True):
                with mp.workdps(30):
                    ref = mp.log(G(r + x, s + 1, al, be, lo) - G(r + x, s + 1, al, be, hi))
                worst = max(worst, abs(math.expm1(value - float(ref))))
    assert worst < 1e-8


def test_gap_integral_matches_direct_quadrature_and_its_derivatives():
    rng = np.random.default_rng(4)
    for _ in range(60):
        al, be = np.exp(rng.uniform(np.log(0.01), np.log(50), 2))
        r, s = np.exp(rng.uniform(np.log(0.05), np.log(3), 2))
        x = float(rng.choice([0, 1, 4, 30, 400]))
        lo = float(rng.choice([0.0, rng.uniform(0, 40)]))
        hi = lo + float(np.exp(rng.uniform(np.log(0.01), np.log(200))))
        out = _log_gap_integral(np.array([r + x]), s + 1.0, al, be, np.array([lo]), hi)
        ref = ref_log_integral(r + x, s + 1, al, be, lo, hi)
        case = (al, be, r, s, x, lo, hi)
        assert abs(math.expm1(out.log_value[0] - ref[0])) < 1e-10, case
        for got, want in zip((out.d_p, out.d_q, out.d_alpha, out.d_beta), ref[1:], strict=True):
            assert got[0] == pytest.approx(want, rel=1e-9, abs=1e-12), case


def test_gap_integral_of_an_empty_interval_is_zero():
    out = _log_gap_integral(np.array([1.5, 2.5]), 1.6, 0.3, 0.4, np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert out.log_value[0] == -np.inf and np.isfinite(out.log_value[1])
    assert out.d_p[0] == out.d_q[0] == out.d_alpha[0] == out.d_beta[0] == 0.0


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated customers, times in weeks rounded to whole days (as the dashboard's data are)."""
    rng = np.random.default_rng(SEED)
    x, t_x, T = simulate_pareto_nbd(TRUE, rng.integers(210, 547, N_SIM) / 7.0, rng)
    return x, np.round(t_x * 7) / 7, T


@pytest.fixture(scope="module")
def fitted(simulated) -> ParetoNBDModel:
    gx, gt, gT, counts = group_customers(*simulated)
    return ParetoNBDModel().fit(gx, gt, gT, weights=counts)


# ------------------------------------------------------------------------------------------------
# parameter recovery
# ------------------------------------------------------------------------------------------------

# Tolerances (relative) for N = 20,000 customers with T ~ U(30, 78) weeks. Over 12 seeds (0..11) the
# relative errors had RMS r 1.7%, α 1.6%, s 5.8%, β 10.1% (the fits' own standard errors: 3.0%,
# 2.7%, 6.4%, 12.9%) and maxima 2.7%, 2.8%, 14.5%, 23.7%. The tolerances are about four standard
# errors.
RECOVERY_TOL = {"r": 0.12, "alpha": 0.11, "s": 0.26, "beta": 0.52}


def test_recovers_simulated_parameters(fitted):
    res = fitted.result
    assert res.converged, res.message
    assert res.message == "converged"
    assert res.n_customers == N_SIM
    for name, tol in RECOVERY_TOL.items():
        est, true = getattr(res.params, name), getattr(TRUE, name)
        se = getattr(res.std_errors, name)
        assert abs(est / true - 1) < tol, f"{name}: estimated {est:.4f}, true {true}"
        assert abs(est - true) < 4 * se, f"{name}: estimated {est:.4f} ± {se:.4f}, true {true}"


def test_log_likelihood_is_the_papers_and_is_maximised(simulated, fitted):
    x, t_x, T = simulated
    ours = fitted.log_likelihood_of(x, t_x, T)
    assert ours.sum() == pytest.approx(fitted.result.log_likelihood, rel=1e-10)
    rng = np.random.default_rng(1)
    for i in rng.choice(x.size, 150, replace=False):
        ref = ref_log_likelihood(fitted.params, int(x[i]), t_x[i], T[i])
        assert ours[i] == pytest.approx(ref, rel=1e-10, abs=1e-10)
    base = fitted.params.as_array()
    for k, step in itertools.product(range(4), (-0.01, 0.01)):
        moved = base.copy()
        moved[k] *= 1 + step
        assert ParetoNBDModel.from_array(moved).log_likelihood_of(x, t_x, T).sum() < fitted.result.log_likelihood


def test_gradient_is_the_likelihoods(simulated):
    x, t_x, T = simulated
    lik = _ParetoNBDLikelihood(x[:3000], t_x[:3000], T[:3000], np.ones(3000), 50.0)
    for theta in (np.log([0.55, 0.2, 0.6, 0.25]), np.log([2.0, 1.0, 3.0, 0.3]), np.log([0.1, 0.01, 0.2, 8.0])):
        numeric = optimize.approx_fprime(theta, lambda th: lik(th)[0], 1e-7)
        np.testing.assert_allclose(lik(theta)[1], numeric, rtol=1e-5, atol=1e-7)


def test_pair_and_row_evaluations_agree(simulated, monkeypatch):
    # Whole days: the dropout integral once per distinct (x, t) pair; the same value and gradient as
    # evaluating it per customer row (the way taken when pairs are not fewer than rows).
    import metrics.models.pareto_nbd as pareto

    x, t_x, T = simulated
    gx, gt, gT, counts = group_customers(x, t_x, T)
    by_pairs = _ParetoNBDLikelihood(gx, gt, gT, counts.astype(float), 50.0)
    monkeypatch.setattr(pareto, "_PAIR_SHARE", 0.0)
    by_rows = _ParetoNBDLikelihood(gx, gt, gT, counts.astype(float), 50.0)
    assert by_pairs.by_pairs and not by_rows.by_pairs
    assert by_pairs.n_pairs < 0.6 * gx.size
    for theta in (np.log([0.55, 0.2, 0.6, 0.25]), np.log([2.0, 1.0, 3.0, 0.3]), np.log([0.1, 0.01, 0.2, 8.0])):
        f_p, g_p = by_pairs(theta)
        f_r, g_r = by_rows(theta)
        assert f_p == pytest.approx(f_r, rel=1e-12)
        np.testing.assert_allclose(g_p, g_r, rtol=1e-9, atol=1e-12)


def test_simulated_purchases_match_the_model_mean(simulated):
    x, _, T = simulated
    expected = ParetoNBDModel.from_params(TRUE).expected_purchases_population(T).mean()
    assert abs(x.mean() - expected) < 4 * x.std() / math.sqrt(x.size)


def _simulate_with_holdout(p: ParetoNBDParams, T: np.ndarray, horizon: float, rng: np.random.Generator):
    """A per-customer simulator written independently of simulate_pareto_nbd, with a holdout period."""
    rows = []
    for age in T:
        lam = rng.gamma(p.r, 1 / p.alpha)
        lifetime = rng.exponential(1 / rng.gamma(p.s, 1 / p.beta))
        now, x, t_x, future = 0.0, 0, 0.0, 0
        while True:
            now += rng.exponential(1 / lam)
            if now > min(lifetime, age + horizon):
                break
            if now <= age:
                x, t_x = x + 1, now
            else:
                future += 1
        rows.append((x, t_x, future))
    arr = np.array(rows, dtype=float)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def test_conditional_expectation_predicts_the_holdout():
    rng = np.random.default_rng(7)
    T = rng.uniform(30, 78, 8_000)
    x, t_x, future = _simulate_with_holdout(TRUE, T, 39.0, rng)
    pred = ParetoNBDModel.from_params(TRUE).expected_purchases(39.0, x, t_x, T)
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
    (40, 69.0, 70.0),
]
OTHERS = [  # α < β, α > β, α = β, s > 1
    TRUE,
    ParetoNBDParams(0.553, 10.578, 0.606, 11.669),
    ParetoNBDParams(1.2, 30.0, 0.3, 2.0),
    ParetoNBDParams(0.8, 5.0, 2.5, 5.0),
]


@pytest.mark.parametrize("params", OTHERS)
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_likelihood_and_p_alive_by_hand(params, x, t_x, T):
    model = ParetoNBDModel.from_params(params)
    assert model.log_likelihood_of(x, t_x, T) == pytest.approx(ref_log_likelihood(params, x, t_x, T), rel=1e-10)
    assert model.p_alive(x, t_x, T) == pytest.approx(ref_p_alive(params, x, t_x, T), rel=1e-9)


@pytest.mark.parametrize("params", OTHERS)
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
@pytest.mark.parametrize("t", [1.0, 39.0, 200.0])
def test_conditional_expectation_by_hand(params, t, x, t_x, T):
    model = ParetoNBDModel.from_params(params)
    ref = ref_conditional_expectation(params, t, x, t_x, T)
    assert model.expected_purchases(t, x, t_x, T) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("params", [*OTHERS, ParetoNBDParams(0.5, 8.0, 1.0, 9.0)])
def test_population_expectation_by_hand(params):
    model = ParetoNBDModel.from_params(params)
    ts = np.array([0.0, 0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    ref = [ref_population_expectation(params, t) for t in ts]
    np.testing.assert_allclose(model.expected_purchases_population(ts), ref, rtol=1e-12, atol=1e-15)
    assert model.expected_purchases_population(ts.reshape(7, 1) * np.ones((1, 3))).shape == (7, 3)
    # near s = 1 the formula is continuous
    near = ParetoNBDParams(params.r, params.alpha, 1.0 + 1e-9, params.beta)
    np.testing.assert_allclose(ParetoNBDModel.from_params(near).expected_purchases_population(ts),
                               ParetoNBDModel.from_params(ParetoNBDParams(params.r, params.alpha, 1.0, params.beta))
                               .expected_purchases_population(ts), rtol=1e-8)


def test_vectorised_and_broadcast():
    model = ParetoNBDModel.from_params(TRUE)
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*CUSTOMERS, strict=True))
    horizons = np.array([[1.0], [10.0], [39.0]])
    grid = model.expected_purchases(horizons, x, t_x, T)
    assert grid.shape == (3, len(CUSTOMERS))
    for i, t in enumerate(horizons[:, 0]):
        np.testing.assert_allclose(grid[i], [model.expected_purchases(t, *c)[()] for c in CUSTOMERS], rtol=1e-12)
    assert np.all(np.diff(grid, axis=0) > 0)  # more time, more purchases
    np.testing.assert_array_equal(model.expected_purchases(0.0, x, t_x, T), 0.0)


# ------------------------------------------------------------------------------------------------
# weights, grouping, the warm start
# ------------------------------------------------------------------------------------------------


def test_weighted_fit_equals_per_customer_fit(simulated):
    x, t_x, T = (a[:6000] for a in simulated)
    single = ParetoNBDModel().fit(x, t_x, T)
    gx, gt, gT, counts = group_customers(x, t_x, T)
    assert gx.size < x.size * 0.8
    grouped = ParetoNBDModel().fit(gx, gt, gT, weights=counts)
    np.testing.assert_allclose(grouped.params.as_array(), single.params.as_array(), rtol=1e-6)
    assert grouped.result.log_likelihood == pytest.approx(single.result.log_likelihood, rel=1e-10)
    assert grouped.result.n_customers == single.result.n_customers == x.size
    # time unit: only α and β change scale
    days = ParetoNBDModel().fit(gx, gt * 7, gT * 7, weights=counts).params
    np.testing.assert_allclose([days.r, days.alpha / 7, days.s, days.beta / 7], grouped.params.as_array(), rtol=1e-6)


def test_warm_start_on_a_subsample_reaches_the_full_search_optimum():
    rng = np.random.default_rng(12)
    data = simulate_pareto_nbd(TRUE, rng.uniform(30, 78, 25_000), rng)
    warm = ParetoNBDModel().fit(*data)
    cold = _fit_purchase_model("Pareto/NBD", _ParetoNBDLikelihood, _fit_arrays(*data, None), _PARETO_STARTS,
                               ParetoNBDModel.param_names, (False, True, False, True), warm_start=False)
    assert warm.converged
    np.testing.assert_allclose(warm.params.as_array(), cold.values, rtol=1e-6)
    assert warm.result.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-12)


def test_covariance_and_from_array(fitted):
    cov = fitted.param_covariance()
    assert cov is not None and cov.shape == (4, 4)
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)) * fitted.params.as_array(), fitted.result.std_errors.as_array(),
                               rtol=1e-10)
    assert ParetoNBDModel.from_array(fitted.params.as_array()).params == fitted.params


# ------------------------------------------------------------------------------------------------
# degenerate input and numerical stability
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t_x", "T", "match"),
    [
        ([3], [10.0], [20.0], "at least 2 customers"),
        ([0] * 50, [0.0] * 50, [30.0] * 50, "at least 10 customers with a repeat purchase"),
        ([1] * 9 + [0] * 100, [5.0] * 9 + [0.0] * 100, [30.0] * 109, "got 9 of 109"),
        ([1, 2], [1.0, 5.0], [2.0, 3.0], "cannot exceed T"),
    ],
)
def test_fit_rejects_degenerate_input(x, t_x, T, match):
    with pytest.raises(ModelFitError, match=match):
        ParetoNBDModel().fit(x, t_x, T)


@pytest.mark.parametrize("params", OTHERS)
def test_huge_frequency_and_age_stay_finite(params):
    model = ParetoNBDModel.from_params(params)
    x = np.array([500.0, 500.0, 5000.0, 0.0, 0.0, 1.0, 3.0])
    t_x = np.array([4999.0, 100.0, 4999.9, 0.0, 0.0, 0.001, 5000.0])
    T = np.array([5000.0, 5000.0, 5000.0, 5000.0, 1e7, 5000.0, 5000.0])
    alive = model.p_alive(x, t_x, T)
    exp = model.expected_purchases(39.0, x, t_x, T)
    ll = model.log_likelihood_of(x, t_x, T)
    for arr in (alive, exp, ll):
        assert np.all(np.isfinite(arr))
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(exp >= 0)
    assert alive[0] > 0.9 and alive[1] < 1e-6 and alive[4] < alive[3] < 0.2
    assert alive[6] == 1.0  # bought on the last day
    for i in (1, 3, 5):
        assert ll[i] == pytest.approx(ref_log_likelihood(params, int(x[i]), t_x[i], T[i]), rel=1e-9)
        assert alive[i] == pytest.approx(ref_p_alive(params, int(x[i]), t_x[i], T[i]), rel=1e-7, abs=1e-300)
    assert np.all(np.isfinite(model.expected_purchases_population([1e-9, 1e4, 1e7])))


def test_fit_with_customers_who_bought_on_the_last_day(simulated):
    x, t_x, T = (a[:4000].copy() for a in simulated)
    t_x[:200] = T[:200]  # last purchase on the last day: no dropout term
    x[:200] = np.maximum(x[:200], 1)
    model = ParetoNBDModel().fit(x, t_x, T)
    assert model.converged
    assert model.log_likelihood_of(x, t_x, T).sum() == pytest.approx(model.result.log_likelihood, rel=1e-10)
