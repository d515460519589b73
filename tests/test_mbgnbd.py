"""MBG/NBD: hand-written formulas, parameter recovery, weights, the warm start, edge cases.

The reference formulas in this file are written out independently of ``metrics.models.mbgnbd``
(plain ``math.lgamma`` and ``scipy.special.hyp2f1`` on the untransformed expressions of Batislam,
Denizel & Filiztekin 2007).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import hyp2f1

from metrics.models.bgnbd import BGNBDModel, BGNBDParams, _BGNBDLikelihood, group_customers
from metrics.models.btyd_common import _fit_arrays, _fit_purchase_model
from metrics.models.fitted_model import ModelFitError
from metrics.models.mbgnbd import _MBGNBD_STARTS, MBGNBDModel, MBGNBDParams, _mbgnbd_likelihood, simulate_mbgnbd
from tests.btyd_checks import assert_unbiased_holdout

TRUE = MBGNBDParams(r=0.5, alpha=6.0, a=0.9, b=1.6)  # weeks, close to the CDNOW fit
N_SIM = 20_000
SEED = 20_240_602


# ------------------------------------------------------------------------------------------------
# independent reference formulas (Batislam et al. 2007)
# ------------------------------------------------------------------------------------------------


def lbeta(u: float, v: float) -> float:
    return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)


def ref_log_likelihood(p: MBGNBDParams, x: int, t_x: float, T: float) -> float:
    """L = Γ(r+x)α^r/Γ(r) · [B(a,b+x+1)/B(a,b) (α+T)^-(r+x) + B(a+1,b+x)/B(a,b) (α+t_x)^-(r+x)]."""
    r, al, a, b = p.r, p.alpha, p.a, p.b
    common = math.lgamma(r + x) - math.lgamma(r) + r * math.log(al)
    alive = math.exp(lbeta(a, b + x + 1) - lbeta(a, b)) * (al + T) ** -(r + x)
    gone = math.exp(lbeta(a + 1, b + x) - lbeta(a, b)) * (al + t_x) ** -(r + x)
    return common + math.log(alive + gone)


def ref_p_alive(p: MBGNBDParams, x: int, t_x: float, T: float) -> float:
    """P(alive) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)) -- for x = 0 too."""
    return 1.0 / (1.0 + p.a / (p.b + x) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x))


def ref_conditional_expectation(p: MBGNBDParams, t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T] = (a+b+x)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive)."""
    r, al, a, b = p.r, p.alpha, p.a, p.b
    z = t / (al + T + t)
    bracket = 1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x + 1, a + b + x, z)
    return (a + b + x) / (a - 1) * bracket * ref_p_alive(p, x, t_x, T)


def ref_population_expectation(p: MBGNBDParams, t: float) -> float:
    """E[X(t)] = b/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b+1; a+b; t/(α+t))]."""
    r, al, a, b = p.r, p.alpha, p.a, p.b
    return b / (a - 1) * (1 - (al / (al + t)) ** r * hyp2f1(r, b + 1, a + b, t / (al + t)))


def ref_population_by_integration(p: MBGNBDParams, t: float) -> float:
    """E[X(t)] as E_p[(1-p)/p · (1 - (α/(α+p t))^r)] over p ~ Beta(a, b), by adaptive quadrature
    (a check of the closed form itself, valid for any a, including a < 1)."""
    r, al, a, b = p.r, p.alpha, p.a, p.b

    def integrand(q: float) -> float:
        inner = -math.expm1(-r * math.log1p(q * t / al)) / q if q > 0 else r * t / al
        return (1 - q) * inner * math.exp((a - 1) * math.log(q) + (b - 1) * math.log1p(-q) - lbeta(a, b))

    return integrate.quad(integrand, 0.0, 1.0, limit=200, epsabs=0.0, epsrel=1e-11)[0]


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return simulate_mbgnbd(TRUE, rng.uniform(30, 78, N_SIM), rng)


@pytest.fixture(scope="module")
def fitted(simulated) -> MBGNBDModel:
    return MBGNBDModel().fit(*simulated)


# ------------------------------------------------------------------------------------------------
# parameter recovery
# ------------------------------------------------------------------------------------------------

# Tolerances (relative) for N = 20,000 customers with T ~ U(30, 78) weeks. Over 12 seeds (0..11) the
# relative errors had RMS r 3.4%, α 2.5%, a 5.7%, b 10.8% (the fits' own standard errors: 5.3%,
# 3.9%, 5.2%, 10.7%) and maxima 7.2%, 5.7%, 11.1%, 23.1%. The tolerances are about four standard
# errors.
RECOVERY_TOL = {"r": 0.21, "alpha": 0.16, "a": 0.21, "b": 0.43}


def test_recovers_simulated_parameters(fitted):
    res = fitted.result
    assert res.converged, res.message
    assert res.message == "converged"
    assert res.n_customers == N_SIM
    assert 0 < res.n_repeat_buyers < N_SIM
    for name, tol in RECOVERY_TOL.items():
        est, true = getattr(res.params, name), getattr(TRUE, name)
        se = getattr(res.std_errors, name)
        assert abs(est / true - 1) < tol, f"{name}: estimated {est:.4f}, true {true}"
        assert abs(est - true) < 4 * se, f"{name}: estimated {est:.4f} ± {se:.4f}, true {true}"


def test_log_likelihood_is_the_papers_and_is_maximised(simulated, fitted):
    x, t_x, T = simulated
    ref = sum(ref_log_likelihood(fitted.params, int(xi), ti, Ti) for xi, ti, Ti in zip(x, t_x, T, strict=True))
    assert fitted.result.log_likelihood == pytest.approx(ref, rel=1e-10)
    assert fitted.log_likelihood_of(x, t_x, T).sum() == pytest.approx(ref, rel=1e-10)
    base = fitted.params.as_array()
    for i, step in itertools.product(range(4), (-0.01, 0.01)):
        moved = base.copy()
        moved[i] *= 1 + step
        assert MBGNBDModel.from_array(moved).log_likelihood_of(x, t_x, T).sum() < fitted.result.log_likelihood


def test_gradient_is_the_likelihoods(simulated):
    x, t_x, T = simulated
    lik = _BGNBDLikelihood(x[:3000], t_x[:3000], T[:3000], np.ones(3000), 50.0, dropout_at_first=True)
    for theta in (np.log([0.5, 0.12, 0.9, 1.6]), np.log([2.0, 1.0, 3.0, 0.3]), np.log([0.1, 0.01, 0.2, 8.0])):
        numeric = optimize.approx_fprime(theta, lambda th: lik(th)[0], 1e-7)
        np.testing.assert_allclose(lik(theta)[1], numeric, rtol=1e-5, atol=1e-7)


def test_simulated_purchases_match_the_model_mean(simulated):
    x, _, T = simulated
    expected = MBGNBDModel.from_params(TRUE).expected_purchases_population(T).mean()
    assert abs(x.mean() - expected) < 4 * x.std() / math.sqrt(x.size)


def _simulate_with_holdout(p: MBGNBDParams, T: np.ndarray, horizon: float, rng: np.random.Generator):
    """A per-customer simulator written independently of simulate_mbgnbd, with a holdout period."""
    rows = []
    for age in T:
        lam = rng.gamma(p.r, 1 / p.alpha)
        drop = rng.beta(p.a, p.b)
        now, x, t_x, future = 0.0, 0, 0.0, 0
        alive = rng.random() >= drop  # the first purchase is a chance to drop out too
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
    rng = np.random.default_rng(7)
    T = rng.uniform(30, 78, 8_000)
    x, t_x, future = _simulate_with_holdout(TRUE, T, 39.0, rng)
    pred = MBGNBDModel.from_params(TRUE).expected_purchases(39.0, x, t_x, T)
    assert_unbiased_holdout(x, future, pred)


def test_p_alive_matches_the_simulated_share_still_active():
    # P(alive) averaged over customers with x = 0 vs the share of simulated one-time buyers who are
    # still active at T: they age, unlike in BG/NBD.
    rng = np.random.default_rng(8)
    n = 40_000
    T = np.full(n, 52.0)
    lam = rng.gamma(TRUE.r, 1 / TRUE.alpha, n)
    drop = rng.beta(TRUE.a, TRUE.b, n)
    survived_first = rng.random(n) >= drop
    first_wait = rng.exponential(1.0, n) / lam
    one_time = ~survived_first | (first_wait > T)  # no repeat purchase by T
    still_active = survived_first & (first_wait > T)
    share = still_active[one_time].mean()
    predicted = MBGNBDModel.from_params(TRUE).p_alive(0, 0.0, 52.0)
    assert abs(share - predicted) < 4 * math.sqrt(share * (1 - share) / one_time.sum())
    assert predicted < 0.9


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
OTHERS = [TRUE, MBGNBDParams(0.243, 4.414, 0.793, 2.426), MBGNBDParams(1.5, 20.0, 3.0, 12.0)]


@pytest.mark.parametrize("params", OTHERS)
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_likelihood_and_p_alive_by_hand(params, x, t_x, T):
    model = MBGNBDModel.from_params(params)
    assert model.log_likelihood_of(x, t_x, T) == pytest.approx(ref_log_likelihood(params, x, t_x, T), rel=1e-12)
    assert model.p_alive(x, t_x, T) == pytest.approx(ref_p_alive(params, x, t_x, T), rel=1e-12)


@pytest.mark.parametrize("params", OTHERS)
@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 200.0])
def test_conditional_expectation_by_hand(params, t, x, t_x, T):
    model = MBGNBDModel.from_params(params)
    ref = ref_conditional_expectation(params, t, x, t_x, T)
    assert model.expected_purchases(t, x, t_x, T) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("params", [*OTHERS, MBGNBDParams(0.5, 3.0, 1.0, 2.0), MBGNBDParams(0.4, 2.0, 0.3, 0.6)])
def test_population_expectation_by_hand(params):
    model = MBGNBDModel.from_params(params)
    ts = np.array([0.0, 0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    ours = model.expected_purchases_population(ts)
    by_integration = [ref_population_by_integration(params, t) for t in ts]
    np.testing.assert_allclose(ours, by_integration, rtol=1e-8, atol=1e-14)
    if abs(params.a - 1) > 1e-3:  # the closed form has a removable singularity at a = 1
        ref = [ref_population_expectation(params, t) if t > 0 else 0.0 for t in ts]
        np.testing.assert_allclose(ours, ref, rtol=1e-9)
    assert model.expected_purchases_population(ts.reshape(7, 1) * np.ones((1, 3))).shape == (7, 3)


def test_one_time_buyers_age_unlike_bgnbd():
    model = MBGNBDModel.from_params(TRUE)
    ages = np.array([0.0, 1.0, 10.0, 52.0, 520.0])
    alive = model.p_alive(np.zeros(5), np.zeros(5), ages)
    assert alive[0] == pytest.approx(1 / (1 + TRUE.a / TRUE.b))  # may already drop at the first purchase
    assert np.all(np.diff(alive) < 0) and alive[-1] < 0.2
    bg = BGNBDModel.from_params(BGNBDParams(*TRUE.as_array()))
    np.testing.assert_array_equal(bg.p_alive(np.zeros(5), np.zeros(5), ages), 1.0)


def test_vectorised_and_broadcast():
    model = MBGNBDModel.from_params(TRUE)
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


@pytest.fixture(scope="module")
def daily_customers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated customers with times rounded to whole days (in weeks): many identical rows."""
    rng = np.random.default_rng(11)
    x, t_x, T = simulate_mbgnbd(TRUE, rng.integers(210, 547, 15_000) / 7.0, rng)
    return x, np.round(t_x * 7) / 7, T


def test_weighted_fit_equals_per_customer_fit(daily_customers):
    x, t_x, T = daily_customers
    single = MBGNBDModel().fit(x, t_x, T)
    gx, gt, gT, counts = group_customers(x, t_x, T)
    assert gx.size < x.size / 2
    grouped = MBGNBDModel().fit(gx, gt, gT, weights=counts)
    np.testing.assert_allclose(grouped.params.as_array(), single.params.as_array(), rtol=1e-6)
    assert grouped.result.log_likelihood == pytest.approx(single.result.log_likelihood, rel=1e-10)
    assert grouped.result.n_customers == single.result.n_customers == x.size
    assert grouped.result.n_repeat_buyers == single.result.n_repeat_buyers


def test_time_unit_only_rescales_alpha(daily_customers):
    x, t_x, T = daily_customers
    weeks = MBGNBDModel().fit(x, t_x, T).params
    days = MBGNBDModel().fit(x, t_x * 7, T * 7).params
    np.testing.assert_allclose([days.r, days.alpha / 7, days.a, days.b], weeks.as_array(), rtol=1e-6)


def test_warm_start_on_a_subsample_reaches_the_full_search_optimum():
    # 40,000 customers with continuous times: more rows than the warm-start threshold, so the fit
    # starts from a subsample's optimum; the same optimum as searching from every start on all rows.
    rng = np.random.default_rng(12)
    data = simulate_mbgnbd(TRUE, rng.uniform(30, 78, 40_000), rng)
    warm = MBGNBDModel().fit(*data)
    cold = _fit_purchase_model("MBG/NBD", _mbgnbd_likelihood, _fit_arrays(*data, None), _MBGNBD_STARTS,
                               MBGNBDModel.param_names, (False, True, False, False), warm_start=False)
    assert warm.converged
    np.testing.assert_allclose(warm.params.as_array(), cold.values, rtol=1e-6)
    assert warm.result.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-12)
    # a start given by the caller (here far from the optimum) leads there as well
    started = MBGNBDModel().fit(*data, initial=MBGNBDParams(2.0, 1.0, 5.0, 0.5))
    np.testing.assert_allclose(started.params.as_array(), cold.values, rtol=1e-6)


def test_covariance_and_from_array(fitted):
    cov = fitted.param_covariance()
    assert cov is not None and cov.shape == (4, 4)
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # standard errors are the delta method on the log scale
    np.testing.assert_allclose(np.sqrt(np.diag(cov)) * fitted.params.as_array(), fitted.result.std_errors.as_array(),
                               rtol=1e-10)
    rebuilt = MBGNBDModel.from_array(fitted.params.as_array())
    assert rebuilt.params == fitted.params and rebuilt.param_covariance() is None
    with pytest.raises(ValueError, match="4 parameters"):
        MBGNBDModel.from_array([1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        MBGNBDModel.from_array([1.0, -2.0, 1.0, 1.0])


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
        MBGNBDModel().fit(x, t_x, T)


def test_huge_frequency_and_age_stay_finite():
    model = MBGNBDModel.from_params(TRUE)
    x = np.array([500.0, 500.0, 5000.0, 0.0, 0.0, 1.0])
    t_x = np.array([4999.0, 100.0, 4999.9, 0.0, 0.0, 0.001])
    T = np.array([5000.0, 5000.0, 5000.0, 5000.0, 1e7, 5000.0])
    alive = model.p_alive(x, t_x, T)
    exp = model.expected_purchases(39.0, x, t_x, T)
    ll = model.log_likelihood_of(x, t_x, T)
    for arr in (alive, exp, ll):
        assert np.all(np.isfinite(arr))
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(exp >= 0)
    assert alive[0] > 0.99 and alive[1] < 1e-6 and alive[4] < alive[3] < 0.1
    assert exp[0] == pytest.approx(39 * (TRUE.r + 500) / (TRUE.alpha + 5000), rel=0.05)
    assert np.all(np.isfinite(model.expected_purchases_population([1e-9, 1e4, 1e7])))
