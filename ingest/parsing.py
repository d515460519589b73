"""Reading values (vectorised; every parser returns the values plus a mask of the unreadable ones):
numbers in common notations, dates and times in many formats, yes/no flags, and the stable integer ids
given to customer, order and product keys."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime

import numpy as np
import pandas as pd

NULL_TOKENS = ("", "nan", "null", "none", "n/a", "na", "-", "#n/a", "nat")
TRUE_TOKENS = (
    "1",
    "true",
    "t",
    "yes",
    "y",
    "x",
    "prime",
    "member",
    "returned",
    "cancelled",
    "canceled",
    "ja",
    "oui",
    "si",
    "sí",
    "1.0",
)
FALSE_TOKENS = ("0", "false", "f", "no", "n", "non-prime", "nonprime", "non prime", "not prime", "nein", "non", "0.0")
#: Ids must stay exact in the browser, where numbers are doubles (integers exact below 2**53): plain numbers
#: below 10**15 are kept, every other key is hashed into [10**15, 2**53).
HASHED_ID_BASE = 10**15
HASHED_ID_SPAN = 2**53 - HASHED_ID_BASE


def _text(values: pd.Series) -> pd.Series:
    """Stripped text with NULL_TOKENS as missing (NaN)."""
    s = values.astype("str").str.strip()
    return s.mask(s.str.lower().isin(NULL_TOKENS))


_CURRENCY = r"[\s\u00a0\u202f$€£¥₹₽₩₺₪฿₫₴₦₱]"
_NUMBER_DOT = r"[+-]?(?:\d+|\d{1,3}(?:[,']\d{3})+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+(?:[eE][+-]?\d+)?"
_NUMBER_COMMA = r"[+-]?(?:\d+|\d{1,3}(?:[.']\d{3})+)(?:,\d*)?|[+-]?,\d+"


def parse_numbers(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Numbers such as ``1234.5``, ``"1,234.50"``, ``"€12,50"`` (decimal ``,``), ``"(12.00)"``, ``"12 USD"``.

    Returns (float values, NaN where missing or unreadable; mask of present-but-unreadable cells).
    A thousands separator must group digits by three, so ``"12,50"`` is not read as 1250 with the
    default decimal point: it is unreadable (use ``decimal=","``). Infinite values are unreadable.
    """
    if pd.api.types.is_bool_dtype(values):
        values = values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        out = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = pd.Series(np.isinf(out.to_numpy()), index=values.index)
        return out.mask(bad), bad
    text = _text(values)
    present = text.notna()
    s = text.fillna("").str.replace(_CURRENCY, "", regex=True)
    s = s.str.replace(r"^[A-Z]{3}|[A-Z]{3}$", "", regex=True)
    negative = s.str.startswith("(") & s.str.endswith(")")
    s = s.mask(negative, s.str.slice(1, -1))
    if decimal == ".":
        ok = s.str.fullmatch(_NUMBER_DOT)
        s = s.str.replace(r"[,']", "", regex=True)
    else:
        ok = s.str.fullmatch(_NUMBER_COMMA)
        s = s.str.replace(r"[.']", "", regex=True).str.replace(",", ".", regex=False)
    ok = ok.fillna(False).astype(bool) & present
    out = pd.to_numeric(s.where(ok), errors="coerce").astype("float64")
    out = out.mask(negative, -out)
    bad = present & (out.isna() | np.isinf(out.fillna(0.0)))
    return out.mask(bad), bad


_TZ_SUFFIX = r"(\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
_TZ_SUFFIX_TEST = _TZ_SUFFIX.replace("(", "(?:", 1)  # the same without the capturing group
_DATE_FORMATS_DMY = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%y")
_DATE_FORMATS_MDY = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m-%d-%y")
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
_OTHER_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y %H:%M",
    "%b %d %Y",
    "%d-%b-%Y %H:%M:%S",
    "%a, %d %b %Y %H:%M:%S",
)


def _drop_offsets(text: pd.Series) -> pd.Series:
    """Remove time-zone offsets after a time. Only rows that have one go through the (slower, Python)
    back-reference replace."""
    has_offset = text.str.contains(_TZ_SUFFIX_TEST, regex=True).fillna(False).astype(bool)
    if not has_offset.any():
        return text
    text = text.copy()
    text[has_offset] = text[has_offset].str.replace(_TZ_SUFFIX, r"\1", regex=True)
    return text


class DateParser:
    """Parses date/time text in many formats; remembers which formats hit, so later chunks try them first.

    ISO 8601 (with or without time, ``T`` or space, fractions), then numeric dates in the order chosen
    by ``dayfirst`` only (``13/01/2024`` is unreadable without ``dayfirst``: a file cannot mix the two
    orders, and guessing per row would silently misread every day up to 12), named months,
    ``yyyymmdd`` and Unix epoch seconds/milliseconds. A time-zone offset is dropped: the wall-clock
    time as written is kept.
    """

    def __init__(self, dayfirst: bool = False) -> None:
        first, second = (_DATE_FORMATS_DMY, _DATE_FORMATS_MDY) if dayfirst else (_DATE_FORMATS_MDY, _DATE_FORMATS_DMY)
        numeric = [f + t for f in first for t in _TIME_SUFFIXES]
        self.formats: list[str] = ["ISO8601", *numeric, *_OTHER_FORMATS]
        self.other_order = [f + t for f in second for t in _TIME_SUFFIXES]
        self.hits: Counter = Counter()

    def __call__(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(datetime64[us] values, NaT where missing or unreadable; mask of present-but-unreadable)."""
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(values):
            out = values.astype("datetime64[us]")
            return out, pd.Series(False, index=values.index)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return self._from_numbers(pd.to_numeric(values, errors="coerce"))
        if values.dtype == object and len(values) and values.map(lambda v: isinstance(v, (date, datetime))).any():
            values = values.map(lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v)
        text = _text(values)
        present = text.notna()
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        todo = present.copy()
        if todo.any():
            s = _drop_offsets(text[todo])
            digits = s.str.fullmatch(r"\d{10}|\d{13}").fillna(False).astype(bool)
            if digits.any():
                parsed, _ = self._from_numbers(pd.to_numeric(s[digits], errors="coerce"))
                out.loc[parsed.index] = parsed
            remaining = s[~digits]
            for fmt in sorted(self.formats, key=lambda f: -self.hits[f]):
                if remaining.empty:
                    break
                parsed = pd.to_datetime(remaining, format=fmt, errors="coerce")
                hit = parsed.notna()
                if hit.any():
                    self.hits[fmt] += int(hit.sum())
                    out.loc[parsed.index[hit]] = parsed[hit].astype("datetime64[us]")
                    remaining = remaining[~hit]
        bad = present & out.isna()
        return out, bad

    @staticmethod
    def _from_numbers(numbers: pd.Series) -> tuple[pd.Series, pd.Series]:
        """yyyymmdd integers, else Unix epoch seconds (< 1e11) or milliseconds."""
        out = pd.Series(pd.NaT, index=numbers.index, dtype="datetime64[us]")
        n = numbers.astype("float64")
        ymd = n.between(19000101, 21001231) & (n % 1 == 0)
        if ymd.any():
            out.loc[ymd] = pd.to_datetime(n[ymd].astype("int64").astype(str), format="%Y%m%d", errors="coerce").astype(
                "datetime64[us]"
            )
        secs = ~ymd & n.notna() & (n.abs() < 1e11)
        millis = ~ymd & n.notna() & (n.abs() >= 1e11) & (n.abs() < 1e14)
        with np.errstate(invalid="ignore"):
            if secs.any():
                out.loc[secs] = pd.to_datetime(n[secs] * 1e6, unit="us", errors="coerce")
            if millis.any():
                out.loc[millis] = pd.to_datetime(n[millis] * 1e3, unit="us", errors="coerce")
        return out, numbers.notna() & out.isna()

    def would_parse_other_order(self, values: pd.Series) -> int:
        """How many of these (unreadable) values the other day/month order would read."""
        s = _drop_offsets(_text(values).dropna())
        count = 0
        for fmt in self.other_order:
            if s.empty:
                break
            hit = pd.to_datetime(s, format=fmt, errors="coerce").notna()
            count += int(hit.sum())
            s = s[~hit]
        return count


def parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """yes/no values → (bool values with missing as False, mask present, mask unreadable)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        present = numbers.notna()
        return (numbers.fillna(0) != 0).astype(bool), present, pd.Series(False, index=values.index)
    text = _text(values)
    present = text.notna()
    lower = text.fillna("").str.lower()
    true = lower.isin(TRUE_TOKENS)
    false = lower.isin(FALSE_TOKENS)
    bad = present & ~true & ~false
    return true.astype(bool), present & ~bad, bad


def surrogate_ids(keys: pd.Series) -> np.ndarray:
    """Stable int64 ids for customer/order/product keys (``keys`` has no missing values).

    A plain positive number of at most 15 digits without leading zeros is kept as it is (so
    ``"12345"`` and ``12345`` both give 12345). Anything else (``"C-001"``, ``"007"``, ``"0"``, a 16-digit
    number) gets 10**15 + (its 64-bit BLAKE2b hash modulo 2**53 - 10**15), a range no kept number
    reaches and below 2**53, so ids survive the browser's JavaScript numbers exactly. The same key gives
    the same id in every import; the import checks that no two keys met the same id.
    """
    codes, uniques = pd.factorize(keys, sort=False)
    uniq = pd.Series(uniques).astype("str")
    plain = uniq.str.fullmatch(r"[1-9]\d{0,14}").fillna(False).astype(bool).to_numpy()
    ids = np.empty(len(uniq), dtype=np.int64)
    if plain.any():
        ids[plain] = uniq[plain].astype("int64").to_numpy()
    texts = uniq.to_numpy(dtype=object)
    for i in np.flatnonzero(~plain):
        digest = hashlib.blake2b(texts[i].encode("utf-8"), digest_size=8).digest()
        ids[i] = HASHED_ID_BASE + int.from_bytes(digest, "big") % HASHED_ID_SPAN
    return ids[codes]


def key_text(values: pd.Series) -> pd.Series:
    """Customer, order and product keys as text, the same for every file type: stripped, NULL_TOKENS
    missing, and a whole number written with decimals (``12346.0``: a spreadsheet's float in a CSV, a
    float column of a Parquet file) read as the number (``12346``), so it keeps its number in
    :func:`surrogate_ids` whether it came as text, integer or float."""
    s = _text(_numeric_key_text(values))
    return s.str.replace(r"^([1-9]\d{0,14})\.0+$", r"\1", regex=True)


def _numeric_key_text(values: pd.Series) -> pd.Series:
    """Keys as text; whole floats (1234.0 from a spreadsheet) become '1234'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & (values % 1 == 0) & (values.abs() < 1e18)
        out = values.astype("str")
        out = out.mask(whole, values[whole].astype("int64").astype("str") if whole.any() else out)
        return out.mask(values.isna())
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str")
    return values

