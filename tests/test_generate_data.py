"""The synthetic data generator: contract, determinism, atomic writes, and the customer behaviours the
analytics rely on (each checked on one small generated dataset)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import generate_data
from metrics.schema import (
    ACQUISITION_CHANNELS,
    AGE_GROUPS,
    CATEGORIES,
    CHANNELS,
    GENDERS,
    PAYMENT_METHODS,
    TABLES,
    age_group,
)

ORDERS = 30_000
START, END = date(2021, 1, 1), date(2024, 12, 31)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("gen") / "data"
    counts = generate_data.generate(folder, orders=ORDERS, start=START, end=END, seed=7,
                                    chunk_customers=3_000, progress=False)
    return folder, counts


@pytest.fixture(scope="module")
def t(out) -> dict[str, pd.DataFrame]:
    folder, _ = out
    return {name: pd.read_parquet(folder / name) for name in TABLES}


@pytest.fixture(scope="module")
def valid(t) -> pd.DataFrame:
    """Valid orders (not returned, not cancelled) with customer attributes."""
    o = t["fact_orders"]
    v = o[~o.is_returned & ~o.is_cancelled]
    customers = t["dim_customer"].set_index("customer_id")
    return v.assign(is_prime=v.customer_id.map(customers.is_prime).to_numpy(),
                    year=v.order_ts.dt.year, month=v.order_ts.dt.month)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


# ----- contract --------------------------------------------------------------------------------------

def test_layout_and_exact_row_counts(out, t):
    folder, counts = out
    assert counts["fact_orders"] == ORDERS == len(t["fact_orders"])
    assert counts == {name: len(frame) for name, frame in t.items()}
    assert len(t["dim_customer"]) == ORDERS // 4  # default: orders / 4 people
    parts = sorted(p.name for p in (folder / "fact_orders").iterdir())
    assert parts[0] == "part-00000.parquet" and len(parts) == 3  # 7,500 customers in chunks of 3,000
    assert not list(folder.parent.glob("data.tmp-*"))


def test_schemas_equal_the_contract(out):
    folder, _ = out
    for name, schema in TABLES.items():
        for part in (folder / name).glob("*.parquet"):
            assert pq.read_schema(part).equals(schema), (name, part.name)


def test_keys_unique_and_foreign_keys_valid(t):
    o, e, c, p, d = (t[n] for n in ("fact_orders", "fact_engagement", "dim_customer", "dim_product",
                                    "dim_date"))
    assert o.order_id.is_unique and c.customer_id.is_unique and p.product_id.is_unique
    assert d.date_key.is_unique
    assert not e.duplicated(["customer_id", "month"]).any()
    assert o.customer_id.isin(c.customer_id).all() and e.customer_id.isin(c.customer_id).all()
    assert o.product_id.isin(p.product_id).all()
    assert o.date_key.isin(d.date_key).all()
    assert sorted(o.order_id) == list(range(1, ORDERS + 1))


def test_dates_within_range(t):
    o, c, e, d = t["fact_orders"], t["dim_customer"], t["fact_engagement"], t["dim_date"]
    assert o.order_ts.min() >= pd.Timestamp(START) and o.order_ts.max() < pd.Timestamp(END) + pd.Timedelta(days=1)
    ts = o.order_ts
    assert (o.date_key == ts.dt.year * 10000 + ts.dt.month * 100 + ts.dt.day).all()
    assert list(d.date) == list(pd.date_range(START, END).date)  # every day, in order
    first = o.groupby("customer_id").order_ts.min().dt.date
    signup = c.set_index("customer_id").signup_date
    assert (signup.loc[first.index] <= first).all()
    assert signup.min() >= START and signup.max() <= END
    months = pd.to_datetime(e.month)
    assert (months.dt.day == 1).all() and months.min() >= pd.Timestamp(START) and months.max() <= pd.Timestamp(END)
    row = d.iloc[0]
    assert (row.year, row.quarter, row.month, row.month_name, row.day_of_week, row.is_weekend) == (
        2021, 1, 1, "January", 4, False)  # 2021-01-01 was a Friday of ISO week 53 of 2020
    assert row.iso_week == 53


def test_amounts_and_value_ranges(t):
    o, c, p = t["fact_orders"], t["dim_customer"], t["dim_product"]
    cents = {col: np.round(o[col] * 100) for col in ("unit_price", "gross_amount", "discount_amount", "net_revenue")}
    for col, values in cents.items():
        assert np.allclose(o[col] * 100, values, atol=1e-6), col  # rounded to cents
    assert (cents["gross_amount"] == o.quantity * cents["unit_price"]).all()
    assert (cents["net_revenue"] == cents["gross_amount"] - cents["discount_amount"]).all()
    assert (o.quantity >= 1).all() and (o.unit_price > 0).all() and (o.net_revenue >= 0).all()
    assert (o.discount_amount[~o.promo_used] == 0).all()
    assert set(o.payment_method) == set(PAYMENT_METHODS) and set(o.channel) == set(CHANNELS)
    assert c.spending_score.between(1, 100).all() and c.age.between(18, 80).all()
    assert (c.age_group == c.age.map(age_group)).all() and set(c.age_group) == set(AGE_GROUPS)
    assert set(c.gender) == set(GENDERS) and set(c.acquisition_channel) == set(ACQUISITION_CHANNELS)
    assert set(c.preferred_category) == set(CATEGORIES) == set(p.category)
    assert (c.annual_income > 0).all() and (p.list_price > 0).all()
    assert c.name.str.contains(" ").all() and (c.city != "").all()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kwargs = {"orders": 3_000, "chunk_customers": 400, "progress": False}
    generate_data.generate(tmp_path / "a", seed=3, **kwargs)
    generate_data.generate(tmp_path / "b", seed=3, **kwargs)
    generate_data.generate(tmp_path / "c", seed=4, **kwargs)
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b and len(a) == 3 * 2 + 2  # orders, engagement, customers in 2 parts; 2 dimensions
    assert a.keys() == c.keys() and a["fact_orders/part-00000.parquet"] != c["fact_orders/part-00000.parquet"]


def test_rewrite_replaces_tables_and_a_crash_keeps_the_old_data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "README.md").write_text("keep me")
    generate_data.generate(folder, orders=2_000, chunk_customers=100, progress=False)
    assert len(list((folder / "fact_orders").iterdir())) == 5
    before = _digest(folder)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(generate_data, "_engagement_chunk", crash)
    with pytest.raises(RuntimeError):
        generate_data.generate(folder, orders=4_000, progress=False)
    assert _digest(folder) == before  # untouched
    assert not list(tmp_path.glob("data.tmp-*"))
    monkeypatch.undo()

    counts = generate_data.generate(folder, orders=4_000, progress=False)
    assert len(list((folder / "fact_orders").iterdir())) == 1  # old parts gone
    assert pq.read_table(folder / "fact_orders").num_rows == counts["fact_orders"] == 4_000
    assert (folder / "README.md").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_cli(tmp_path, capsys):
    assert generate_data.main(["--orders", "1500", "--customers", "600", "--seed", "1", "--start",
                               "2023-01-01", "--end", "2023-12-31", "--out", str(tmp_path / "d")]) == 0
    assert "fact_orders" in capsys.readouterr().out
    assert pq.read_table(tmp_path / "d" / "dim_customer").num_rows == 600
    assert pq.read_table(tmp_path / "d" / "dim_date").num_rows == 365
    with pytest.raises(SystemExit) as exit_info:
        generate_data.main(["--help"])
    assert exit_info.value.code == 0
    with pytest.raises(SystemExit):
        generate_data.main(["--start", "2024-01-01", "--end", "2023-01-01", "--quiet"])


# ----- behaviours --------------------------------------------------------------------------------------

def test_buy_till_you_die(t, valid):
    per_buyer = t["fact_orders"].groupby("customer_id").size()
    one_time = (per_buyer == 1).mean()
    assert 0.30 <= one_time <= 0.50
    assert per_buyer.max() >= 10 * per_buyer.median()  # heterogeneous rates: a few very frequent buyers
    assert 0.78 <= len(per_buyer) / len(t["dim_customer"]) <= 0.9  # ~15 % prospects
    # Many lapse: of the buyers who started more than a year before the end, most stop buying.
    span = valid.groupby("customer_id").order_ts.agg(["min", "max"])
    end = pd.Timestamp(END)
    early = span[span["min"] < end - pd.Timedelta(days=365)]
    lapsed = (end - early["max"]).dt.days > 180
    assert 0.4 <= lapsed.mean() <= 0.9


def test_prime_members_order_more(valid):
    per_buyer = valid.groupby("customer_id").agg(n=("order_id", "size"), prime=("is_prime", "first"))
    means = per_buyer.groupby("prime").n.mean()
    assert means[True] > 1.3 * means[False]


def test_discount_driven_shoppers(t):
    o = t["fact_orders"]
    g = o.groupby("customer_id").agg(n=("order_id", "size"), promo=("promo_used", "mean"),
                                     discount=("discount_amount", "sum"), gross=("gross_amount", "sum"))
    g = g[g.n >= 3]
    seekers = g.promo >= 0.5
    assert 0.07 <= seekers.mean() <= 0.25
    share = g.discount / g.gross
    assert share[seekers].mean() > 0.12 and share[~seekers].mean() < 0.05


def test_seasonal_peaks_and_july_prime_event(valid):
    monthly = valid.groupby(["year", "month"]).net_revenue.sum().unstack()
    for year, row in monthly.iterrows():
        assert row[11] > row.mean() and row[12] > row.mean(), year
    # July Prime event: July beats June and August overall, most clearly for Prime members.
    by_month = valid.groupby("month").net_revenue.sum()
    assert by_month[7] > by_month[6] and by_month[7] > by_month[8]
    uplift = {}
    for prime, frame in valid.groupby("is_prime"):
        by_month = frame.groupby("month").net_revenue.sum()
        uplift[prime] = by_month[7] / ((by_month[6] + by_month[8]) / 2)
    assert uplift[True] > 1.15 and uplift[True] > uplift[False]
    prime_orders = valid[valid.is_prime].groupby(["year", "month"]).size().unstack()
    established = prime_orders.loc[2022:]  # every year once there is a customer base (2021 ramps up)
    assert (established[7] > established[[6, 8]].max(axis=1)).all()


def test_new_customers_grow_every_year(valid):
    first_year = valid.groupby("customer_id").order_ts.min().dt.year.value_counts().sort_index()
    assert list(first_year.index) == [2021, 2022, 2023, 2024]
    assert first_year.is_monotonic_increasing and first_year[2024] > 1.5 * first_year[2021]


def test_returns_and_same_day_cancellations(t):
    o = t["fact_orders"]
    assert 0.03 <= o.is_returned.mean() <= 0.10
    assert 0.01 <= o.is_cancelled.mean() <= 0.03
    assert not (o.is_returned & o.is_cancelled).any()


def test_prospects_browse_and_abandon_but_never_buy(t):
    e = t["fact_engagement"]
    prospects = set(t["dim_customer"].customer_id) - set(t["fact_orders"].customer_id)
    pe = e[e.customer_id.isin(prospects)]
    active = pe[(pe.web_visits > 0) & (pe.cart_abandons > 0)].customer_id.nunique()
    assert active >= 0.5 * len(prospects) > 0
    assert (pe.cart_adds == pe.cart_abandons).all()  # nothing they put in a cart was bought


def test_engagement_grain_and_values(t):
    e, c = t["fact_engagement"], t["dim_customer"]
    months = pd.to_datetime(e.month)
    first_row = months.groupby(e.customer_id).min()
    signup_month = pd.to_datetime(c.set_index("customer_id").signup_date).dt.to_period("M").dt.to_timestamp()
    assert (first_row == signup_month.loc[first_row.index]).all()  # starts at sign-up
    assert e.customer_id.nunique() == len(c)
    n_months = 48
    assert len(e) < 0.4 * len(c) * n_months  # not every customer x every month forever
    rows = e.groupby("customer_id").size()
    assert rows.min() >= 1 and rows.max() <= n_months
    assert 3.5 <= e.emails_sent.mean() <= 5 and e.emails_sent.between(4, 5).all()
    assert (e.emails_opened <= e.emails_sent).all() and (e.cart_abandons <= e.cart_adds).all()
    sums = e.groupby("customer_id")[["emails_opened", "emails_sent"]].sum()
    open_rate = sums.emails_opened / sums.emails_sent
    assert 0.15 <= open_rate.median() <= 0.45
    assert open_rate.quantile(0.9) - open_rate.quantile(0.1) > 0.15  # differs by customer
    # Months with orders: every order came through the shop, so visits and cart adds cover them.
    o = t["fact_orders"]
    per_month = o.groupby([o.customer_id, o.order_ts.dt.to_period("M").dt.to_timestamp()]).size()
    eng = e.set_index(["customer_id", months]).web_visits
    assert (eng.loc[per_month.index].to_numpy() >= per_month.to_numpy()).all()


def test_engagement_decays_before_the_last_order_of_churned_customers(t, valid):
    last = valid.groupby("customer_id").order_ts.max()
    churned = last[last < pd.Timestamp(END) - pd.Timedelta(days=180)]
    e = t["fact_engagement"]
    e = e[e.customer_id.isin(churned.index)]
    last_month = churned.dt.to_period("M").dt.to_timestamp().loc[e.customer_id].to_numpy()
    months_before = (pd.DatetimeIndex(last_month).to_period("M") - pd.to_datetime(e.month).dt.to_period("M"))
    e = e.assign(before=[m.n for m in months_before])
    long_lived = e[e.before >= 9].customer_id.unique()
    x = e[e.customer_id.isin(long_lived)]
    near = x[x.before.between(1, 3)].groupby("customer_id").web_visits.mean()
    far = x[x.before >= 6].groupby("customer_id").web_visits.mean()
    assert len(long_lived) >= 100
    assert near.mean() < 0.8 * far.mean()
    assert (near < far.loc[near.index]).mean() > 0.7  # within the same customers
    after = e[e.before <= -2].web_visits.mean()
    assert after < near.mean()


def test_weekday_hour_pattern(t):
    ts = t["fact_orders"].order_ts
    weekend = ts.dt.day_of_week >= 5
    hours = pd.crosstab(ts.dt.hour, weekend, normalize="columns")
    weekday_share, weekend_share = hours[False], hours[True]
    assert weekday_share.idxmax() in (19, 20, 21)  # evening peak
    assert weekday_share.loc[19:21].sum() > 5 * weekday_share.loc[2:4].sum()
    assert weekend_share.loc[10:14].sum() > weekday_share.loc[10:14].sum() + 0.03  # weekends: earlier
    by_day = ts.dt.day_of_week.value_counts()
    assert by_day.max() / by_day.min() > 1.05


def test_countries_catalogue_and_preferences(t):
    c, p, o = t["dim_customer"], t["dim_product"], t["fact_orders"]
    countries = c.country.value_counts()
    assert countries.index[0] == "United States" and len(countries) == 10
    assert 0.1 <= c.is_prime.mean() <= 0.5
    assert 500 <= len(p) <= 2000 and set(p.category) == set(CATEGORIES)
    median_price = p.groupby("category").list_price.median()
    assert median_price["Electronics"] > 3 * median_price["Grocery"]
    bought = o.merge(p[["product_id", "category"]], on="product_id").merge(
        c[["customer_id", "preferred_category"]], on="customer_id")
    in_preferred = (bought.category == bought.preferred_category).mean()
    base = (bought.category.value_counts(normalize=True) ** 2).sum()  # share if unrelated
    assert in_preferred > 0.4 and in_preferred > 2 * base


def test_income_and_spending_score_relate_to_spend(t, valid):
    customers = t["dim_customer"].set_index("customer_id")
    spend = valid.groupby("customer_id").net_revenue.agg(["sum", "mean"]).join(customers)
    assert spend["sum"].corr(spend.spending_score, method="spearman") > 0.08
    assert spend["mean"].corr(spend.annual_income, method="spearman") > 0.08
    income_by_country = customers.groupby("country").annual_income.median()
    assert income_by_country["United States"] > 2 * income_by_country["India"]


# ----- no pile-up on the first or the last day -------------------------------------------------------

#: How far a day's count may exceed the level of its surroundings (the mean of the other days within
#: +-14 days, fewer at either end of the range), before Poisson noise: a count fails only above the
#: one-in-a-million upper quantile of a Poisson variable with mean k x that level. The noise allowance keeps
#: the sparse first months (one or two orders a day on this fixture) from tripping the bound; over the
#: ~3,000 day checks it makes a false alarm from noise alone about a 0.3 % event.
POISSON_ALPHA = 1e-6
#: First-time buyers carry no promotion multiplier: sign-ups per day follow growth x sqrt(demand), so Black
#: Friday's 2.2x demand gives ~1.5x the sign-ups and a weekday at most sqrt(1.10 / 0.90) ~ 1.1x, and the
#: first order (same day, or an exponential ~20-day delay) smooths that further. k = 2 leaves room; the
#: end-date pile-up this guards against put ~10-13x a normal day's first-time buyers on the last day.
K_FIRST_BUYERS = 2.0
#: Valid orders on an ordinary day differ from their surroundings only by the weekday factor (<= 1.10),
#: a month step inside the window (October -> November at most, ~1.13x the window) and slow growth:
#: <= ~1.25x, so k = 1.5. The pile-up made the last day ~3.4x its surroundings on this fixture.
K_ORDERS = 1.5
#: On the generator's promotion days (Black Friday to Cyber Monday; the July Prime event and its early
#: deals) the largest multiplier any buyer's purchase rate gets is the Prime members' PRIME_DAY_MULT (7x);
#: mixed with 2.2x for everyone else and unmultiplied first orders, they reach ~3.5-4x. That overlaps an
#: end-date pile-up of orders, which is why first-time buyers (k = 2 on every day) are the sharp check.
K_ORDERS_PROMOTION = generate_data.PRIME_DAY_MULT


def _promotion_days(days: pd.DatetimeIndex) -> np.ndarray:
    """Black Friday to Cyber Monday, and the July Prime event (second Tuesday and Wednesday of July) with
    the five early-deal days before it, as the generator's calendar defines them."""
    promo = np.zeros(len(days), dtype=bool)
    for year in sorted(set(days.year)):
        nov22, jul8 = pd.Timestamp(year, 11, 22), pd.Timestamp(year, 7, 8)
        thanksgiving = nov22 + pd.Timedelta(days=(3 - nov22.weekday()) % 7)  # fourth Thursday
        tuesday = jul8 + pd.Timedelta(days=(1 - jul8.weekday()) % 7)  # second Tuesday
        for first, last in ((thanksgiving + pd.Timedelta(days=1), thanksgiving + pd.Timedelta(days=4)),
                            (tuesday - pd.Timedelta(days=5), tuesday + pd.Timedelta(days=1))):
            promo |= (days >= first) & (days <= last)
    return promo


def _surrounding_level(counts: np.ndarray, half_width: int = 14) -> np.ndarray:
    """Per day, the mean count of the other days within ``half_width`` days (inside the range)."""
    cum = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    i = np.arange(len(counts))
    lo, hi = np.maximum(i - half_width, 0), np.minimum(i + half_width + 1, len(counts))
    return (cum[hi] - cum[lo] - counts) / (hi - lo - 1)


def test_no_day_piles_up_orders_or_first_time_buyers(valid):
    from scipy.stats import poisson

    days = pd.date_range(START, END)
    day = valid.order_ts.dt.normalize()
    first_day = day.groupby(valid.customer_id).min()  # first valid order ever (New to Brand Customers)
    counts = {"valid orders": day.value_counts().reindex(days, fill_value=0).to_numpy(),
              "first-time buyers": first_day.value_counts().reindex(days, fill_value=0).to_numpy()}
    promo = _promotion_days(days)
    k = {"valid orders": np.where(promo, K_ORDERS_PROMOTION, K_ORDERS),
         "first-time buyers": np.full(len(days), K_FIRST_BUYERS)}
    over = {}
    for what, count in counts.items():
        level = _surrounding_level(count)
        bound = poisson.isf(POISSON_ALPHA, k[what] * level)
        over[what] = [(str(days[i].date()), int(count[i]), round(float(level[i]), 1))
                      for i in np.flatnonzero(count > bound)]  # (day, count, level of its surroundings)
    assert over == {what: [] for what in counts}
    # The bound is not vacuous: the Prime event and Black Friday peaks really are there.
    orders = counts["valid orders"]
    assert (orders / np.maximum(_surrounding_level(orders), 1e-9))[promo].max() > 2.5
