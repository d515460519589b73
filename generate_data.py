"""Synthetic e-commerce data for Customer Intelligence: the five star-schema tables as Parquet.

The data has to contain the structure the dashboard is meant to find, so customers follow a
buy-till-you-die process (BG/NBD-like: a Gamma-distributed purchase rate and a Beta-distributed chance of
dropping out after each purchase), Prime members buy more often, ~15 % of buyers chase discounts, demand
peaks in November-December and on a July Prime event, sign-ups grow every year, some orders are returned
or cancelled the same day, prospects browse and abandon carts without buying, and web/email engagement
fades in the months before a customer's last order.

Everything is vectorised NumPy driven by one seed (same seed and arguments, same bytes). Faker only builds
small per-country pools of first and last names. Customers are processed in chunks (one Parquet part per
chunk and table) so 10 M orders fit in a few GB; the exact order count is reached by drawing every
customer's number of orders up front and correcting the total deterministically before any order is
materialised.

Run ``python generate_data.py --help``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from metrics.schema import (
    ACQUISITION_CHANNELS,
    AGE_GROUPS,
    CATEGORIES,
    CHANNELS,
    GENDERS,
    PAYMENT_METHODS,
    TABLES,
)

# ----- behaviour knobs ------------------------------------------------------------------------------

#: (country, share of customers, Faker locale for names, median annual income, major cities by size).
#: Cities are real ones: several Faker locales (en_US, en_GB, fr_FR, pt_BR ...) only invent city names.
COUNTRIES: tuple[tuple[str, float, str, float, tuple[str, ...]], ...] = (
    ("United States", 0.34, "en_US", 68_000, (
        "New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio",
        "San Diego", "Dallas", "Austin", "Seattle", "Denver", "Boston", "Atlanta", "Miami", "Portland")),
    ("United Kingdom", 0.12, "en_GB", 47_000, (
        "London", "Birmingham", "Manchester", "Leeds", "Glasgow", "Liverpool", "Bristol", "Sheffield",
        "Edinburgh", "Newcastle", "Cardiff", "Nottingham")),
    ("Germany", 0.10, "de_DE", 52_000, (
        "Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig",
        "Dortmund", "Essen", "Bremen", "Dresden")),
    ("France", 0.08, "fr_FR", 44_000, (
        "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
        "Bordeaux", "Lille", "Rennes", "Reims")),
    ("Canada", 0.07, "en_CA", 55_000, (
        "Toronto", "Montreal", "Vancouver", "Calgary", "Edmonton", "Ottawa", "Winnipeg", "Quebec City",
        "Hamilton", "Halifax", "Victoria")),
    ("Australia", 0.05, "en_AU", 58_000, (
        "Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Gold Coast", "Canberra", "Newcastle",
        "Hobart", "Darwin")),
    ("India", 0.09, "en_IN", 14_000, (
        "Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Ahmedabad", "Chennai", "Kolkata", "Pune", "Jaipur",
        "Surat", "Lucknow", "Kochi")),
    ("Japan", 0.06, "ja_JP", 42_000, (
        "Tokyo", "Yokohama", "Osaka", "Nagoya", "Sapporo", "Fukuoka", "Kobe", "Kyoto", "Kawasaki",
        "Saitama", "Hiroshima", "Sendai")),
    ("Brazil", 0.05, "pt_BR", 16_000, (
        "São Paulo", "Rio de Janeiro", "Brasília", "Salvador", "Fortaleza", "Belo Horizonte", "Manaus",
        "Curitiba", "Recife", "Porto Alegre", "Goiânia")),
    ("Spain", 0.04, "es_ES", 34_000, (
        "Madrid", "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Murcia", "Palma", "Bilbao",
        "Alicante", "Valladolid")),
)

#: per category: (share of purchases, share of the catalogue, median list price, price spread (log sd),
#: mean extra units per order, return probability, subcategories from cheapest to dearest).
CATEGORY_SPECS: dict[str, tuple[float, float, float, float, float, float, tuple[str, ...]]] = {
    "Electronics": (0.14, 1.2, 110.0, 1.00, 0.05, 0.07, (
        "Accessories", "Headphones", "Smart Home", "Cameras", "Tablets", "Smartphones", "Laptops")),
    "Fashion": (0.19, 1.6, 38.0, 0.55, 0.25, 0.13, (
        "Shirts", "Jeans", "Dresses", "Shoes", "Bags", "Jackets")),
    "Home & Kitchen": (0.14, 1.3, 45.0, 0.80, 0.15, 0.05, (
        "Storage", "Decor", "Cookware", "Bedding", "Appliances", "Furniture")),
    "Beauty": (0.12, 1.0, 20.0, 0.50, 0.40, 0.03, (
        "Personal Care", "Haircare", "Makeup", "Skincare", "Fragrance")),
    "Books": (0.11, 1.2, 15.0, 0.40, 0.20, 0.02, (
        "Comics", "Children's", "Fiction", "Non-Fiction", "Cookbooks", "Textbooks")),
    "Sports": (0.09, 0.9, 42.0, 0.70, 0.15, 0.06, (
        "Yoga", "Running", "Team Sports", "Fitness", "Outdoor", "Cycling")),
    "Grocery": (0.14, 1.0, 8.0, 0.50, 1.20, 0.01, (
        "Snacks", "Beverages", "Pantry", "Household", "Coffee & Tea", "Organic")),
    "Toys": (0.07, 0.8, 28.0, 0.60, 0.20, 0.04, (
        "Puzzles", "Board Games", "Dolls", "Educational", "Outdoor Toys", "Building Sets")),
}
assert tuple(CATEGORY_SPECS) == CATEGORIES

GENDER_SHARES = (0.50, 0.47, 0.03)
#: preferred-category tilt by gender (multiplies the purchase shares).
GENDER_CATEGORY_TILT = {
    "Female": (0.8, 1.4, 1.1, 1.8, 1.1, 0.7, 1.0, 1.0),
    "Male": (1.5, 0.7, 0.9, 0.4, 0.9, 1.4, 1.0, 1.0),
    "Other": (1.0,) * 8,
}
#: acquisition channel: (share, dropout multiplier, probability of being discount-driven).
ACQUISITION_SPECS = {
    "Organic Search": (0.28, 1.00, 0.10),
    "Paid Search": (0.20, 1.15, 0.20),
    "Social": (0.18, 1.20, 0.18),
    "Email": (0.10, 0.90, 0.15),
    "Referral": (0.12, 0.80, 0.08),
    "Affiliate": (0.12, 1.10, 0.26),
}
assert tuple(ACQUISITION_SPECS) == ACQUISITION_CHANNELS
CHANNEL_SHARES = (0.45, 0.40, 0.15)  # Web, Mobile App, Marketplace
PAYMENT_SHARES_DEFAULT = (0.42, 0.26, 0.22, 0.05, 0.05)
PAYMENT_SHARES_BY_COUNTRY = {
    "India": (0.15, 0.25, 0.10, 0.03, 0.47),
    "Brazil": (0.45, 0.15, 0.10, 0.03, 0.27),
    "Germany": (0.25, 0.20, 0.40, 0.05, 0.10),
    "Japan": (0.50, 0.10, 0.10, 0.05, 0.25),
}

PROSPECT_SHARE = 0.15  # people who sign up, browse, abandon carts and never buy
CUSTOMERS_PER_ORDER = 0.25  # default number of people = orders / 4
SIGNUP_GROWTH = 1.45  # new sign-ups per day grow by this factor per year
PRIME_RATE_MULT, PRIME_DROPOUT_MULT = 1.8, 0.7  # Prime members buy more often and stay longer
RATE_SHAPE = 0.8  # Gamma shape of the purchase rate (heterogeneity; the scale is calibrated)
DROPOUT_A, DROPOUT_B = 1.1, 4.0  # Beta prior of the dropout probability after each purchase
SAME_DAY_FIRST_ORDER, FIRST_ORDER_DELAY_DAYS = 0.45, 20.0  # first purchase: same day as sign-up or later
PREFERRED_CATEGORY_SHARE = 0.5  # share of a customer's orders in their preferred category
PROMO_PROB, PROMO_PROB_DEAL_SEEKER = 0.07, 0.65  # chance an order uses a promo code
DISCOUNT_RANGE, DISCOUNT_RANGE_DEAL_SEEKER = (0.05, 0.20), (0.15, 0.40)
CANCEL_PROB, CANCEL_PROB_COD_EXTRA = 0.018, 0.02  # same-day cancellations (more with cash on delivery)
#: demand by calendar month (Jan..Dec) with a November-December peak.
MONTH_DEMAND = (0.82, 0.80, 0.92, 0.94, 0.97, 0.95, 0.98, 0.95, 0.95, 1.00, 1.30, 1.45)
WEEKDAY_DEMAND = (1.05, 1.00, 1.00, 1.00, 0.95, 0.90, 1.10)  # Monday .. Sunday
BLACK_FRIDAY_MULT = 2.2  # Black Friday to Cyber Monday
#: July Prime event (second Tuesday and Wednesday of July) and the early deals of the 5 days before it.
PRIME_DAY_MULT, PRIME_DAY_MULT_NON_PRIME, PRIME_EARLY_DEALS_MULT = 7.0, 2.2, 1.3
#: relative order volume by hour of day on weekdays and at weekends (evening peak; later, flatter weekends).
HOURS_WEEKDAY = (0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.2, 1.8, 2.2, 2.5, 2.8,
                 3.4, 3.2, 2.8, 2.7, 2.9, 3.3, 4.0, 5.0, 5.6, 5.2, 3.8, 1.9)
HOURS_WEEKEND = (1.0, 0.6, 0.35, 0.2, 0.15, 0.2, 0.35, 0.7, 1.4, 2.4, 3.4, 4.0,
                 4.2, 4.0, 3.8, 3.6, 3.6, 3.7, 3.9, 4.3, 4.6, 4.2, 3.2, 1.9)
#: engagement: monthly web visits fall to this share of normal in the month of the last order of a
#: customer who drops out, recovering linearly to normal DECAY_MONTHS before it; afterwards they fade.
DECAY_FLOOR, DECAY_MONTHS, AFTER_CHURN_DECAY = 0.3, 6, 0.6
OPEN_RATE_A, OPEN_RATE_B = 9.0, 14.0  # Beta of a customer's email open rate (mean ~39 %)

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
_EPOCH = date(1970, 1, 1)


# ----- small helpers --------------------------------------------------------------------------------

def _as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _block_cdf(weights: list[np.ndarray]) -> np.ndarray:
    """Concatenated CDFs, block ``b`` spanning (b, b+1], so ``_pick(cdf, block, u)`` draws from one
    block per row in a single vectorised searchsorted."""
    parts = []
    for b, w in enumerate(weights):
        c = np.cumsum(np.asarray(w, dtype=np.float64))
        c = c / c[-1]
        c[-1] = 1.0
        parts.append(b + c)
    return np.concatenate(parts)


def _pick(cdf: np.ndarray, block: np.ndarray, u: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(cdf, block + u, side="right")
    return np.minimum(idx, len(cdf) - 1)


def _choice(rng: np.random.Generator, shares, size: int) -> np.ndarray:
    p = np.asarray(shares, dtype=np.float64)
    return np.searchsorted(np.cumsum(p / p.sum())[:-1], rng.random(size), side="right")


def _strings(pool, idx: np.ndarray) -> pa.Array:
    return pa.array(list(pool), pa.string()).take(pa.array(idx, pa.int64()))


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ----- calendar ------------------------------------------------------------------------------------

@dataclass
class Calendar:
    """Per-day and per-month lookup arrays of the date range, plus the seasonal time warps."""

    start: date
    days: int
    epoch_day: np.ndarray  # days since 1970-01-01
    date_key: np.ndarray  # yyyymmdd int32
    weekday: np.ndarray  # 0 = Monday
    month_idx: np.ndarray  # month number from the start month
    month_of_year: np.ndarray  # 1..12
    prime_day: np.ndarray  # bool
    months: int
    month_start_epoch: np.ndarray  # first day of each month, days since epoch
    emails_per_month: np.ndarray  # weekly newsletter: Tuesdays in the month
    warp: dict[bool, np.ndarray]  # is_prime -> cumulative demand at day boundaries (len days+1)
    signup_cdf: np.ndarray


def _calendar(start: date, end: date) -> Calendar:
    n = (end - start).days + 1
    dates = [start + timedelta(days=i) for i in range(n)]
    year = np.array([d.year for d in dates])
    month = np.array([d.month for d in dates])
    dom = np.array([d.day for d in dates])
    weekday = np.array([d.weekday() for d in dates])
    month_idx = (year - start.year) * 12 + month - start.month
    months = int(month_idx[-1]) + 1

    # November/December peak, Black Friday week-end, quiet days after Christmas, July Prime event.
    demand = np.array(MONTH_DEMAND)[month - 1] * np.array(WEEKDAY_DEMAND)[weekday]
    demand = np.where((month == 12) & (dom >= 24), demand * 0.7, demand)
    thanksgiving = (month == 11) & (weekday == 3) & (dom >= 22) & (dom <= 28)
    for i in np.flatnonzero(thanksgiving):
        demand[i + 1:i + 5] *= BLACK_FRIDAY_MULT
    tuesday2 = (month == 7) & (weekday == 1) & (dom >= 8) & (dom <= 14)
    prime_day = tuesday2 | np.concatenate([[False], tuesday2[:-1]])  # Tuesday and Wednesday
    warp = {}
    early_deals = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(tuesday2):
        early_deals[max(i - 5, 0):i] = True
    for is_prime, mult in ((True, PRIME_DAY_MULT), (False, PRIME_DAY_MULT_NON_PRIME)):
        s = np.where(prime_day, demand * mult, demand)
        if is_prime:
            s = np.where(early_deals, s * PRIME_EARLY_DEALS_MULT, s)
        s = s * (n / s.sum())  # operational time ~ calendar days on average
        warp[is_prime] = np.concatenate([[0.0], np.cumsum(s)])
    growth = SIGNUP_GROWTH ** (np.arange(n) / 365.25)
    signup_w = growth * np.sqrt(demand)
    signup_cdf = np.cumsum(signup_w) / signup_w.sum()

    first = date(start.year, start.month, 1)
    month_starts = []
    emails = []
    for m in range(months):
        y, mo = first.year + (first.month - 1 + m) // 12, (first.month - 1 + m) % 12 + 1
        ms = date(y, mo, 1)
        nxt = date(y + (mo == 12), mo % 12 + 1, 1)
        month_starts.append((ms - _EPOCH).days)
        emails.append(sum(1 for k in range((nxt - ms).days) if (ms + timedelta(days=k)).weekday() == 1))
    return Calendar(
        start=start, days=n,
        epoch_day=(start - _EPOCH).days + np.arange(n),
        date_key=(year * 10000 + month * 100 + dom).astype(np.int32),
        weekday=weekday, month_idx=month_idx, month_of_year=month, prime_day=prime_day, months=months,
        month_start_epoch=np.array(month_starts), emails_per_month=np.array(emails),
        warp=warp, signup_cdf=signup_cdf,
    )


def _dim_date(cal: Calendar) -> pa.Table:
    dates = [cal.start + timedelta(days=i) for i in range(cal.days)]
    iso_week = np.array([d.isocalendar()[1] for d in dates], dtype=np.int32)
    year = cal.date_key // 10000
    return pa.Table.from_arrays([
        pa.array(cal.date_key, pa.int32()),
        pa.array(cal.epoch_day.astype(np.int32), pa.date32()),
        pa.array(year, pa.int32()),
        pa.array((cal.month_of_year - 1) // 3 + 1, pa.int32()),
        pa.array(cal.month_of_year, pa.int32()),
        _strings(MONTH_NAMES, cal.month_of_year - 1),
        pa.array(iso_week, pa.int32()),
        pa.array(cal.weekday, pa.int32()),
        pa.array(cal.weekday >= 5, pa.bool_()),
    ], schema=TABLES["dim_date"])


# ----- products ------------------------------------------------------------------------------------

_SYLLABLES = ("zen", "aer", "nova", "lum", "ter", "vex", "ora", "kin", "bolt", "pur", "sol", "vi", "max",
              "tek", "lin", "do", "ra", "mo", "qui", "zo", "fel", "cor", "ion", "ka", "lux", "bri", "tan")


@dataclass
class Catalogue:
    """dim_product plus the lookup arrays used to pick products for orders."""

    table: pa.Table
    price_cents: np.ndarray
    cdf: np.ndarray  # block (tier * n_categories + category) -> product position, see _pick
    block_products: np.ndarray


#: price sensitivity per spend tier: weight of a product ~ popularity * price ** -beta.
TIER_PRICE_BETA = (1.0, 0.7, 0.45, 0.2, -0.05)
TIER_CUTS = (-0.84, -0.25, 0.25, 0.84)


def _catalogue(rng: np.random.Generator, n_products: int) -> Catalogue:
    specs = list(CATEGORY_SPECS.values())
    share = np.array([s[1] for s in specs])
    counts = np.floor(share / share.sum() * n_products).astype(int)
    counts[: n_products - counts.sum()] += 1
    names, cats, subs, brands, prices = [], [], [], [], []
    used_brands: set[str] = set()
    for c, (cat, spec) in enumerate(CATEGORY_SPECS.items()):
        _, _, median, spread, _, _, subcats = spec
        cat_brands = []
        while len(cat_brands) < 10:
            k = rng.integers(2, 4)
            brand = "".join(rng.choice(_SYLLABLES, size=k)).capitalize()
            if brand not in used_brands and len(brand) <= 11:
                used_brands.add(brand)
                cat_brands.append(brand)
        brand_w = 1.0 / np.arange(1, 11) ** 0.8
        sub_mult = np.exp(np.linspace(-0.9 * spread, 0.9 * spread, len(subcats)))
        sub_idx = rng.integers(0, len(subcats), size=counts[c])
        brand_idx = _choice(rng, brand_w, counts[c])
        raw = median * sub_mult[sub_idx] * np.exp(rng.normal(0.0, 0.5 * spread, size=counts[c]))
        price = np.maximum(np.round(raw) - 0.01, 0.99)
        for j in range(counts[c]):
            model = f"{chr(65 + int(rng.integers(0, 26)))}{int(rng.integers(100, 1000))}"
            names.append(f"{cat_brands[brand_idx[j]]} {subcats[sub_idx[j]]} {model}")
            cats.append(cat)
            subs.append(subcats[sub_idx[j]])
            brands.append(cat_brands[brand_idx[j]])
        prices.append(price)
    price = np.concatenate(prices)
    category = np.repeat(np.arange(len(CATEGORIES)), counts)  # category index per product
    table = pa.Table.from_arrays([
        pa.array(np.arange(1, n_products + 1), pa.int64()), pa.array(names, pa.string()),
        pa.array(cats, pa.string()), pa.array(subs, pa.string()), pa.array(brands, pa.string()),
        pa.array(price, pa.float64()),
    ], schema=TABLES["dim_product"])
    popularity = np.exp(rng.normal(0.0, 1.0, size=n_products))
    weights, block_products = [], []
    for beta in TIER_PRICE_BETA:
        for c in range(len(CATEGORIES)):
            members = np.flatnonzero(category == c)
            weights.append(popularity[members] * price[members] ** -beta)
            block_products.append(members)
    return Catalogue(table=table, price_cents=np.round(price * 100).astype(np.int64),
                     cdf=_block_cdf(weights), block_products=np.concatenate(block_products))


# ----- name pools ----------------------------------------------------------------------------------

def _name_pools(seed: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """First and last names per country from Faker (seeded).

    Returns (first names, last names, first-name offsets [country, female/male] -> (start, size),
    last-name offsets [country] -> (start, size)).
    """
    from faker import Faker

    firsts: list[str] = []
    lasts: list[str] = []
    first_off = np.zeros((len(COUNTRIES), 2, 2), dtype=np.int64)
    last_off = np.zeros((len(COUNTRIES), 2), dtype=np.int64)
    for c, (_, _, locale, _, _) in enumerate(COUNTRIES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + c)
        roman = locale == "ja_JP"  # keep one script across the dashboard
        makers = (
            fake.first_romanized_name_female if roman else fake.first_name_female,
            fake.first_romanized_name_male if roman else fake.first_name_male,
        )
        for s, make in enumerate(makers):
            pool = list(dict.fromkeys(make() for _ in range(400)))[:120]
            first_off[c, s] = (len(firsts), len(pool))
            firsts.extend(pool)
        make_last = fake.last_romanized_name if roman else fake.last_name
        pool = list(dict.fromkeys(make_last() for _ in range(600)))[:200]
        last_off[c] = (len(lasts), len(pool))
        lasts.extend(pool)
    return firsts, lasts, first_off, last_off


# ----- customers -----------------------------------------------------------------------------------

@dataclass
class Customers:
    """Per-customer numeric attributes of everyone (cheap arrays); strings are built per chunk."""

    n: int
    signup_day: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    country: np.ndarray
    acquisition: np.ndarray
    is_prime: np.ndarray
    income: np.ndarray
    spending_score: np.ndarray
    preferred: np.ndarray
    tier: np.ndarray
    deal_seeker: np.ndarray
    is_buyer: np.ndarray
    first_t: np.ndarray  # calendar time (days from start, fractional) of the first order
    rate: np.ndarray  # purchases per operational day (after calibration)
    orders: np.ndarray  # number of orders
    dropped: np.ndarray  # dropped out before the end of the range


def _customers(rng: np.random.Generator, cal: Calendar, n: int, orders: int) -> Customers:
    """Everyone's attributes and exact order count, drawn before any order exists so chunks can be
    materialised independently and still add up to ``orders``."""
    signup_day = np.sort(np.searchsorted(cal.signup_cdf, rng.random(n), side="right"))
    signup_day = np.minimum(signup_day, cal.days - 1)
    gender = _choice(rng, GENDER_SHARES, n)
    age = (18 + np.floor(rng.beta(2.0, 3.5, size=n) * 63)).astype(np.int32)
    country = _choice(rng, [c[1] for c in COUNTRIES], n)
    acq_specs = list(ACQUISITION_SPECS.values())
    acquisition = _choice(rng, [a[0] for a in acq_specs], n)

    z_inc = rng.standard_normal(n)
    z_score = 0.35 * z_inc + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    median_income = np.array([c[3] for c in COUNTRIES])[country]
    age_curve = 0.6 + 0.4 * np.exp(-(((age - 47) / 18.0) ** 2))
    income = np.round(median_income * age_curve / 0.85 * np.exp(0.55 * z_inc - 0.15), -2)
    income = np.maximum(income, 1_000.0)
    spending_score = np.clip(np.ceil(_logistic(1.702 * z_score) * 100), 1, 100).astype(np.int32)
    z_spend = (0.6 * z_inc + 0.6 * z_score) / 0.986
    tier = np.searchsorted(np.array(TIER_CUTS), z_spend)

    base = np.array([s[0] for s in CATEGORY_SPECS.values()])
    pref_cdf = _block_cdf([base * np.array(GENDER_CATEGORY_TILT[g]) for g in GENDERS])
    preferred = _pick(pref_cdf, gender, rng.random(n)) - gender * len(CATEGORIES)

    is_buyer = np.zeros(n, dtype=bool)
    n_buyers = min(round(n * (1 - PROSPECT_SHARE)), orders)
    if orders > 0 and n_buyers == 0:
        n_buyers = 1
    is_buyer[rng.permutation(n)[:n_buyers]] = True

    prime_p = _logistic(-1.0 + 0.6 * z_inc + 0.3 * z_score) * np.where(is_buyer, 1.0, 0.35)
    is_prime = rng.random(n) < prime_p
    deal_p = np.array([a[2] for a in acq_specs])[acquisition] * np.where(is_prime, 0.9, 1.15)
    deal_seeker = rng.random(n) < deal_p

    # BG/NBD-like: a Gamma purchase rate and a Beta dropout probability per buyer.
    lam = rng.gamma(RATE_SHAPE, 1.0, size=n) * np.exp(0.45 * z_score)
    lam *= np.where(is_prime, PRIME_RATE_MULT, 1.0)
    p = rng.beta(DROPOUT_A, DROPOUT_B, size=n) * np.array([a[1] for a in acq_specs])[acquisition]
    p *= np.where(is_prime, PRIME_DROPOUT_MULT, 1.0) * np.where(deal_seeker, 1.25, 1.0)
    p = np.clip(p, 0.01, 0.95)

    delay = np.where(rng.random(n) < SAME_DAY_FIRST_ORDER, 0.0, rng.exponential(FIRST_ORDER_DELAY_DAYS, n))
    first_t = signup_day + rng.random(n) + delay
    # A buyer whose first purchase would come after the end of the range has not bought yet when the data
    # ends (right-censored): within the range they are a prospect who signed up and browses. Clipping such
    # first orders onto the last day instead piled ~10x a normal day's first-time buyers onto it.
    in_range = first_t < cal.days
    if orders > 0 and not (is_buyer & in_range).any() and is_buyer.any():
        # Orders were asked for but every buyer's first order falls after a very short range: keep the
        # earliest buyer, first order on the last day.
        in_range[np.flatnonzero(is_buyer)[np.argmin(first_t[is_buyer])]] = True
    is_buyer &= in_range
    first_t = np.minimum(first_t, cal.days - 1e-6)
    tau_end = np.where(is_prime, cal.warp[True][-1], cal.warp[False][-1])
    tau0 = np.where(is_prime, np.interp(first_t, np.arange(cal.days + 1), cal.warp[True]),
                    np.interp(first_t, np.arange(cal.days + 1), cal.warp[False]))
    exposure = np.maximum(tau_end - tau0, 0.0)

    # Scale the rates so the expected total hits the target: with G ~ Geometric(p) - 1 purchases before
    # dropping out and N ~ Poisson(mu) purchase opportunities in the window,
    # E[1 + min(G, N)] = 1 + (1 - p) / p * (1 - exp(-mu p)).
    b = np.flatnonzero(is_buyer)
    lam_b, p_b, exp_b = lam[b], p[b], exposure[b]

    def expected(scale: float) -> np.ndarray:
        return 1.0 + (1.0 - p_b) / p_b * -np.expm1(-scale * lam_b * exp_b * p_b)

    lo, hi = -12.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected(10**mid).sum() < orders else (lo, mid)
    scale = 10 ** ((lo + hi) / 2)
    rate = lam * scale
    g = rng.geometric(p_b) - 1
    opportunities = rng.poisson(rate[b] * exp_b)
    counts_b = 1 + np.minimum(g, opportunities)
    dropped = np.zeros(n, dtype=bool)
    dropped[b] = g < opportunities

    # Deterministic exact-total correction (a fraction of a percent): add orders in proportion to each
    # buyer's expected count, or remove repeat orders in proportion to how many each buyer has.
    diff = orders - int(counts_b.sum())
    if diff > 0:
        w = expected(scale)
        counts_b += rng.multinomial(diff, w / w.sum())
    elif diff < 0:
        counts_b -= rng.multivariate_hypergeometric(counts_b - 1, -diff, method="marginals")
    counts = np.zeros(n, dtype=np.int64)
    counts[b] = counts_b
    return Customers(
        n=n, signup_day=signup_day, gender=gender, age=age, country=country, acquisition=acquisition,
        is_prime=is_prime, income=income, spending_score=spending_score, preferred=preferred, tier=tier,
        deal_seeker=deal_seeker, is_buyer=is_buyer, first_t=first_t, rate=rate, orders=counts,
        dropped=dropped,
    )


def _dim_customer_chunk(rng: np.random.Generator, cust: Customers, lo: int, hi: int, pools,
                        start_epoch: int) -> pa.Table:
    firsts, lasts, first_off, last_off = pools
    m = hi - lo
    country, gender = cust.country[lo:hi], cust.gender[lo:hi]
    female = np.where(gender == 2, rng.random(m) < 0.5, gender == 0)
    sex = np.where(female, 0, 1)
    f_start, f_size = first_off[country, sex, 0], first_off[country, sex, 1]
    l_start, l_size = last_off[country, 0], last_off[country, 1]
    first_idx = f_start + np.floor(rng.random(m) ** 1.6 * f_size).astype(np.int64)
    last_idx = l_start + np.floor(rng.random(m) ** 1.6 * l_size).astype(np.int64)
    name = pc.binary_join_element_wise(_strings(firsts, first_idx), _strings(lasts, last_idx), " ")
    cities = [city for c in COUNTRIES for city in c[4]]
    city_cdf = _block_cdf([1.0 / np.arange(1, len(c[4]) + 1) ** 0.9 for c in COUNTRIES])
    city = _pick(city_cdf, country, rng.random(m))
    age = cust.age[lo:hi]
    return pa.Table.from_arrays([
        pa.array(np.arange(lo + 1, hi + 1), pa.int64()),
        name,
        _strings(GENDERS, gender),
        pa.array(age, pa.int32()),
        _strings(AGE_GROUPS, np.searchsorted(np.array([25, 35, 45, 55, 65]), age, side="right")),
        _strings([c[0] for c in COUNTRIES], country),
        _strings(cities, city),
        pa.array((start_epoch + cust.signup_day[lo:hi]).astype(np.int32), pa.date32()),
        pa.array(cust.is_prime[lo:hi], pa.bool_()),
        pa.array(cust.income[lo:hi], pa.float64()),
        pa.array(cust.spending_score[lo:hi], pa.int32()),
        _strings(CATEGORIES, cust.preferred[lo:hi]),
        _strings(ACQUISITION_CHANNELS, cust.acquisition[lo:hi]),
    ], schema=TABLES["dim_customer"])


# ----- orders --------------------------------------------------------------------------------------

def _hour_cdf() -> np.ndarray:
    rows = []
    for wd in range(7):
        w = np.array(HOURS_WEEKEND if wd >= 5 else HOURS_WEEKDAY)
        if wd == 4:  # Friday evenings out
            w[19:] *= 0.8
        if wd == 6:  # Sunday evening shopping
            w[18:23] *= 1.15
        rows.append(w)
    return _block_cdf(rows)


def _orders_chunk(rng: np.random.Generator, cal: Calendar, catalogue: Catalogue, cust: Customers,
                  lo: int, hi: int, order_offset: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Orders of customers ``lo:hi``; also returns each order's chunk-local customer and month index."""
    m = hi - lo
    n = cust.orders[lo:hi]
    total = int(n.sum())
    local = np.repeat(np.arange(m), n)
    starts = np.cumsum(n) - n

    # Purchase times in "operational time" (demand-weighted days), mapped back to calendar days through
    # the seasonal warp, so repeat purchases bunch in November-December and on the Prime event.
    gaps = rng.standard_exponential(total)
    cs = np.concatenate([[0.0], np.cumsum(gaps)])
    before = cs[:-1] - np.repeat(cs[starts], n)  # exposure used before this order
    span = cs[starts + n] - cs[starts]  # all n gaps (alive customers: n - 1 points + the tail)
    last_before = cs[np.maximum(starts + n - 1, 0)] - cs[starts]
    prime = cust.is_prime[lo:hi]
    grid = np.arange(cal.days + 1, dtype=np.float64)
    first_t = cust.first_t[lo:hi]
    tau0 = np.where(prime, np.interp(first_t, grid, cal.warp[True]),
                    np.interp(first_t, grid, cal.warp[False]))
    tau_end = np.where(prime, cal.warp[True][-1], cal.warp[False][-1])
    window = np.maximum(tau_end - tau0, 0.0)
    shrink = rng.uniform(0.6, 1.0, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Alive at the end: the repeat purchases are uniform order statistics over the whole window.
        # Dropped out: Poisson-process gaps at the buyer's rate, squeezed into the window if needed.
        scale = np.where(
            cust.dropped[lo:hi],
            np.minimum(1.0 / cust.rate[lo:hi], window * shrink / np.maximum(last_before, 1e-12)),
            window / np.maximum(span, 1e-12),
        )
    tau = np.repeat(tau0, n) + before * np.repeat(scale, n)
    prime_rows = prime[local]
    t = np.empty(total)
    t[prime_rows] = np.interp(tau[prime_rows], cal.warp[True], grid)
    t[~prime_rows] = np.interp(tau[~prime_rows], cal.warp[False], grid)
    day = np.clip(np.floor(t).astype(np.int64), cust.signup_day[lo:hi][local], cal.days - 1)  # float-safe

    weekday = cal.weekday[day]
    hour = _pick(_hour_cdf(), weekday, rng.random(total)) - weekday * 24
    seconds = np.floor(rng.random(total) * 3600).astype(np.int64)
    ts = (cal.epoch_day[day] * 86_400 + hour * 3_600 + seconds) * 1_000_000

    # What is bought: half the time from the preferred category; pricier products for richer, higher
    # spending-score customers (spend tiers with different price sensitivity).
    specs = list(CATEGORY_SPECS.values())
    category = np.where(rng.random(total) < PREFERRED_CATEGORY_SHARE, cust.preferred[lo:hi][local],
                        _choice(rng, [s[0] for s in specs], total))
    block = cust.tier[lo:hi][local] * len(CATEGORIES) + category
    product = catalogue.block_products[_pick(catalogue.cdf, block, rng.random(total))]
    unit_cents = np.maximum(np.round(catalogue.price_cents[product] * np.clip(
        1.0 + rng.normal(0.0, 0.02, total), 0.9, 1.1)), 1).astype(np.int64)
    score = cust.spending_score[lo:hi][local]
    extra_units = np.array([s[4] for s in specs])[category] * (0.6 + 0.8 * score / 100)
    quantity = np.minimum(1 + rng.poisson(extra_units), 20)
    gross = quantity * unit_cents

    deal = cust.deal_seeker[lo:hi][local]
    month_of_year = cal.month_of_year[day]
    promo_p = (np.where(deal, PROMO_PROB_DEAL_SEEKER, PROMO_PROB + 0.03 * prime_rows)
               + np.where(month_of_year >= 11, 0.06, 0.0) + np.where(cal.prime_day[day], 0.2, 0.0))
    promo = rng.random(total) < np.minimum(promo_p, 0.95)
    rate = np.where(deal, rng.uniform(*DISCOUNT_RANGE_DEAL_SEEKER, total),
                    rng.uniform(*DISCOUNT_RANGE, total))
    discount = np.where(promo, np.round(gross * rate), 0).astype(np.int64)
    net = gross - discount

    age = cust.age[lo:hi]
    u = rng.random(m)
    p_mobile = np.clip(0.65 - 0.008 * (age - 18), 0.15, 0.65)
    pref_channel = np.where(u < p_mobile, 1, np.where(rng.random(m) < 0.8, 0, 2))
    channel = np.where(rng.random(total) < 0.75, pref_channel[local], _choice(rng, CHANNEL_SHARES, total))
    pay_cdf = _block_cdf([PAYMENT_SHARES_BY_COUNTRY.get(c[0], PAYMENT_SHARES_DEFAULT) for c in COUNTRIES])
    country = cust.country[lo:hi]
    n_pay = len(PAYMENT_METHODS)
    pref_pay = _pick(pay_cdf, country, rng.random(m)) - country * n_pay
    any_pay = _pick(pay_cdf, country[local], rng.random(total)) - country[local] * n_pay
    payment = np.where(rng.random(total) < 0.8, pref_pay[local], any_pay)

    cancelled = rng.random(total) < CANCEL_PROB + CANCEL_PROB_COD_EXTRA * (payment == n_pay - 1)
    return_p = np.array([s[5] for s in specs])[category] * np.where(deal, 1.4, 1.0)
    returned = ~cancelled & (rng.random(total) < return_p)

    order = np.argsort(ts, kind="stable")
    table = pa.Table.from_arrays([
        pa.array(order_offset + 1 + np.arange(total), pa.int64()),
        pa.array(lo + 1 + local[order], pa.int64()),
        pa.array(product[order] + 1, pa.int64()),
        pa.array(cal.date_key[day[order]], pa.int32()),
        pa.array(ts[order], pa.timestamp("us")),
        pa.array(quantity[order], pa.int32()),
        pa.array(unit_cents[order] / 100, pa.float64()),
        pa.array(gross[order] / 100, pa.float64()),
        pa.array(discount[order] / 100, pa.float64()),
        pa.array(net[order] / 100, pa.float64()),
        _strings(PAYMENT_METHODS, payment[order]),
        _strings(CHANNELS, channel[order]),
        pa.array(promo[order], pa.bool_()),
        pa.array(returned[order], pa.bool_()),
        pa.array(cancelled[order], pa.bool_()),
    ], schema=TABLES["fact_orders"])
    return table, local[order], cal.month_idx[day[order]]


# ----- engagement ----------------------------------------------------------------------------------

def _engagement_chunk(rng: np.random.Generator, cal: Calendar, cust: Customers, lo: int, hi: int,
                      order_local: np.ndarray, order_month: np.ndarray) -> pa.Table:
    """One row per customer x month from the sign-up month to the end of the range (still buying),
    a few months after the last order (dropped out) or a few months after sign-up (prospects)."""
    m = hi - lo
    last_month = cal.months - 1
    m0 = cal.month_idx[cust.signup_day[lo:hi]]
    buyer = cust.orders[lo:hi] > 0
    dropped = cust.dropped[lo:hi] & buyer
    last_order = np.full(m, -1, dtype=np.int64)
    np.maximum.at(last_order, order_local, order_month)
    end_m = np.where(~buyer, np.minimum(last_month, m0 + rng.integers(1, 7, m)),
                     np.where(dropped, np.minimum(last_month, last_order + rng.integers(2, 7, m)),
                              last_month))
    length = end_m - m0 + 1
    rows = int(length.sum())
    row_c = np.repeat(np.arange(m), length)
    rstart = np.cumsum(length) - length
    month = m0[row_c] + np.arange(rows) - rstart[row_c]
    orders_m = np.bincount(rstart[order_local] + order_month - m0[order_local], minlength=rows)

    # Activity: steady while buying; for buyers who drop out it fades over the months before their last
    # order and keeps fading after it; prospects browse around sign-up and drift away.
    d = last_order[row_c] - month
    fade = np.where(d >= DECAY_MONTHS, 1.0,
                    np.where(d >= 0, DECAY_FLOOR + (1 - DECAY_FLOOR) * d / DECAY_MONTHS,
                             DECAY_FLOOR * AFTER_CHURN_DECAY ** np.minimum(-d, 60)))
    since_signup = month - m0[row_c]
    activity = np.where(buyer[row_c], np.where(dropped[row_c], fade, 1.0),
                        0.65 ** np.minimum(since_signup, 60))

    monthly_rate = 30.0 * cust.rate[lo:hi]
    visit_base = (np.where(buyer, 2.0 + 4.0 * np.minimum(monthly_rate, 5.0), 2.5)
                  * np.exp(rng.normal(0.0, 0.4, m) - 0.08))
    browse = rng.poisson(visit_base[row_c] * activity)
    abandon_p = np.where(buyer, rng.uniform(0.08, 0.25, m), rng.uniform(0.2, 0.45, m))
    abandons = rng.binomial(browse, abandon_p[row_c])
    sent = cal.emails_per_month[month]
    open_rate = rng.beta(OPEN_RATE_A, OPEN_RATE_B, m)
    opened = rng.binomial(sent, open_rate[row_c] * (0.55 + 0.45 * activity))
    return pa.Table.from_arrays([
        pa.array(lo + 1 + row_c, pa.int64()),
        pa.array(cal.month_start_epoch[month].astype(np.int32), pa.date32()),
        pa.array(browse + orders_m, pa.int32()),
        pa.array(sent, pa.int32()),
        pa.array(opened, pa.int32()),
        pa.array(abandons + orders_m, pa.int32()),
        pa.array(abandons, pa.int32()),
    ], schema=TABLES["fact_engagement"])


# ----- driver --------------------------------------------------------------------------------------

#: Rows per Parquet row group. DuckDB scans row groups in parallel and skips those whose date range misses
#: the filter (orders are written in time order), so several per file beat one big one (~8 % per page).
ROW_GROUP_ROWS = 131_072


def _write(table: pa.Table, folder: Path, part: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{part:05d}.parquet", compression="snappy", row_group_size=ROW_GROUP_ROWS)


def _publish(tmp: Path, out: Path) -> None:
    """Swap each finished table folder into ``out`` (rename, so readers never see half a table)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        dest = out / name
        if dest.exists():
            dest.rename(tmp / f".old-{name}")
        (tmp / name).rename(dest)
    shutil.rmtree(tmp)


def generate(out_dir: str | Path = "data", orders: int = 100_000, customers: int | None = None,
             start: str | date = "2021-01-01", end: str | date = "2024-12-31", seed: int = 42,
             chunk_customers: int = 200_000, progress: bool = True) -> dict[str, int]:
    """Write the five tables under ``out_dir`` and return their row counts.

    ``customers`` defaults to ``orders / 4`` people, ~15 % of them prospects who never buy (a little more:
    recent sign-ups whose first order would come after ``end`` have not bought within the range). Output is
    byte-identical for the same arguments. Tables are written to a ``<out>.tmp-<pid>`` sibling first and
    renamed into place at the end, so a crash never leaves a half-written dataset.
    """
    from tqdm import tqdm

    start_d, end_d = _as_date(start), _as_date(end)
    if end_d < start_d:
        raise ValueError(f"end {end_d} is before start {start_d}")
    if orders < 0 or seed < 0 or chunk_customers < 1:
        raise ValueError("orders and seed must be >= 0 and chunk_customers >= 1")
    n_customers = max(1, round(orders * CUSTOMERS_PER_ORDER)) if customers is None else int(customers)
    if n_customers < 1:
        raise ValueError("customers must be >= 1")

    cal = _calendar(start_d, end_d)
    n_products = int(np.clip(round(4 * np.sqrt(max(orders, 1))), 500, 2000))
    catalogue = _catalogue(np.random.default_rng([seed, 1]), n_products)
    cust = _customers(np.random.default_rng([seed, 2]), cal, n_customers, orders)
    pools = _name_pools(seed)
    start_epoch = (start_d - _EPOCH).days

    out = Path(out_dir)
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    counts = dict.fromkeys(TABLES, 0)
    try:
        _write(_dim_date(cal), tmp / "dim_date", 0)
        _write(catalogue.table, tmp / "dim_product", 0)
        counts["dim_date"], counts["dim_product"] = cal.days, catalogue.table.num_rows
        offset = 0
        with tqdm(total=n_customers, unit=" customers", unit_scale=True, disable=not progress,
                  file=sys.stderr, desc="generating") as bar:
            for part, lo in enumerate(range(0, n_customers, chunk_customers)):
                hi = min(lo + chunk_customers, n_customers)
                rng = np.random.default_rng([seed, 3, part])
                dim = _dim_customer_chunk(rng, cust, lo, hi, pools, start_epoch)
                facts, order_local, order_month = _orders_chunk(rng, cal, catalogue, cust, lo, hi, offset)
                engagement = _engagement_chunk(rng, cal, cust, lo, hi, order_local, order_month)
                for name, table in (("dim_customer", dim), ("fact_orders", facts),
                                    ("fact_engagement", engagement)):
                    _write(table, tmp / name, part)
                    counts[name] += table.num_rows
                offset += facts.num_rows
                bar.update(hi - lo)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python generate_data.py --orders 1000000 --out data``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000, help="exact number of orders")
    parser.add_argument("--customers", type=int, default=None,
                        help="number of people incl. ~15%% prospects (default: orders / 4)")
    parser.add_argument("--start", default="2021-01-01", help="first order date (YYYY-MM-DD)")
    parser.add_argument("--end", default="2024-12-31", help="last order date (YYYY-MM-DD)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    parser.add_argument("--out", default="data", help="output folder (one sub-folder per table)")
    parser.add_argument("--chunk-customers", type=int, default=200_000,
                        help="customers per Parquet part (bounds memory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    args = parser.parse_args(argv)
    try:
        counts = generate(args.out, orders=args.orders, customers=args.customers, start=args.start,
                          end=args.end, seed=args.seed, chunk_customers=args.chunk_customers,
                          progress=not args.quiet)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.quiet:
        for name, rows in counts.items():
            print(f"{name:16s} {rows:>12,d} rows")
        print(f"written to {Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
