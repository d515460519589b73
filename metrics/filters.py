"""The one filter value that flows from the URL to every query: a *scope* plus an optional *focus*.

- The **scope** is the date range, the Prime choice and the countries: the population whose customers are
  counted, scored and segmented. :mod:`metrics.selection` and the customer mart see only the scope.
- The **segment focus** (:class:`SegmentFocus`: a scheme and one of its labels) narrows what every view
  counts to the scope's customers holding that label. Segments are always assigned on the scope's
  population, never recomputed inside the focus; :mod:`metrics.population` is the one place that labels
  the scope and narrows it to the focus.

A :class:`Filters` is immutable and hashable (it is the memoisation key). It is built from a URL query
string with :meth:`Filters.from_query`, which never raises: invalid values are replaced by defaults and
reported as notices the app shows. In a URL the focus is ``scheme=…&segment=…``.

A state also carries the **purchase-model choice** (``model``: one of :data:`MODEL_CHOICES`, or None for
the model chosen on the data, see :mod:`metrics.models.choice`); every churn and CLV figure follows it. It
is ``model=…`` in a URL. Data-only results (the mart, the model inputs) do not depend on it: they are
keyed on :attr:`Filters.data_scope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import parse_qs, urlencode

from metrics.segments.labels import SCHEME_LABELS, SCHEME_TITLES

PRIME_CHOICES: tuple[str, ...] = ("All", "Prime", "Non-Prime")
MAX_COUNTRIES = 50
MAX_QUERY_LENGTH = 4000
#: Keys of the purchase-model family (metrics.models.purchase_models.PURCHASE_MODELS has the same keys).
MODEL_CHOICES: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto_nbd")


class FilterError(ValueError):
    """A filter value that cannot be used as given."""


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise FilterError(f"not a date (expected YYYY-MM-DD): {str(value)[:40]!r}") from exc


@dataclass(frozen=True)
class SegmentFocus:
    """One label of one segmentation scheme, e.g. ``SegmentFocus("loyalty", "Top Tier")``."""

    scheme: str
    label: str

    def __post_init__(self) -> None:
        labels = SCHEME_LABELS.get(self.scheme)
        if labels is None:
            raise FilterError(f"unknown segment scheme {self.scheme!r}")
        if self.label not in labels:
            raise FilterError(f"{self.label!r} is not a label of the {self.scheme} scheme")

    @classmethod
    def of(cls, scheme: str | None, label: str | None) -> SegmentFocus | None:
        """The focus of a scheme and label, or None when both are missing (one alone is an error)."""
        if scheme is None and label is None:
            return None
        if scheme is None or label is None:
            raise FilterError("a segment focus needs both a scheme and a label")
        return cls(scheme, label)


@dataclass(frozen=True)
class Filters:
    """Scope (date range, both ends included; Prime choice; countries, empty = all) and an optional
    segment focus.

    The as-of date of every recency-based metric is ``end``.
    """

    start: date
    end: date
    prime: str = "All"
    countries: tuple[str, ...] = field(default=())
    focus: SegmentFocus | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_date(self.start))
        object.__setattr__(self, "end", _as_date(self.end))
        countries = self.countries
        if isinstance(countries, str):
            countries = (countries,)
        object.__setattr__(self, "countries", tuple(sorted(set(countries))))
        if self.start > self.end:
            raise FilterError(f"start date {self.start} is after end date {self.end}")
        if self.prime not in PRIME_CHOICES:
            raise FilterError(f"prime must be one of {', '.join(PRIME_CHOICES)}, got {self.prime!r}")
        if len(self.countries) > MAX_COUNTRIES:
            raise FilterError(f"at most {MAX_COUNTRIES} countries can be selected")
        if any(not isinstance(c, str) or not c or len(c) > 60 for c in self.countries):
            raise FilterError("country names must be non-empty text of at most 60 characters")
        if self.focus is not None and not isinstance(self.focus, SegmentFocus):
            raise FilterError("focus must be a SegmentFocus or None")
        if self.model is not None and self.model not in MODEL_CHOICES:
            raise FilterError(f"model must be one of {', '.join(MODEL_CHOICES)} or None, got {self.model!r}")

    # ----- derived values -------------------------------------------------------------------------
    @property
    def as_of(self) -> date:
        return self.end

    @property
    def days(self) -> int:
        """Length of the range in days, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def scope(self) -> Filters:
        """The same filters without the focus: the population segments are assigned on."""
        return self if self.focus is None else replace(self, focus=None)

    @property
    def data_scope(self) -> Filters:
        """The scope without the model choice: what data-only results (the mart, model inputs) depend on."""
        return self if self.focus is None and self.model is None else replace(self, focus=None, model=None)

    def with_model(self, model: str | None) -> Filters:
        """These filters with purchase model ``model`` (None: the model chosen on the data)."""
        return replace(self, model=model)

    def previous(self) -> Filters:
        """The immediately preceding range of equal length, same other filters (for deltas). A focus is
        kept: its previous figures are those of the customers holding the label in the previous scope."""
        end = self.start - timedelta(days=1)
        return replace(self, start=end - timedelta(days=self.days - 1), end=end)

    def with_focus(self, scheme: str | None, label: str | None) -> Filters:
        """These filters focused on ``label`` of ``scheme`` (both None: no focus)."""
        return replace(self, focus=SegmentFocus.of(scheme, label))

    def describe(self) -> str:
        """Short text for file names and titles, e.g. ``2024-01-01_2024-12-31_Prime_DE-FR``."""
        parts = [self.start.isoformat(), self.end.isoformat(), self.prime.replace("-", "")]
        if self.countries:
            parts.append("-".join(c.replace(" ", "")[:12] for c in self.countries[:5]))
        if self.focus is not None:
            parts.append(self.focus.label.replace(" ", "").replace("/", "").replace("'", ""))
        if self.model is not None:
            parts.append(self.model)
        return "_".join(parts)

    def summary(self) -> str:
        """One line in words for printed pages and chart images, e.g. ``1 Jan 2024 – 31 Dec 2024 · Prime
        customers · Germany, France · Loyalty: At-Risk``."""
        def day(d: date) -> str:
            return f"{d.day} {d:%b %Y}"

        parts = [f"{day(self.start)} – {day(self.end)}",
                 {"All": "all customers", "Prime": "Prime customers", "Non-Prime": "Non-Prime customers"}[self.prime],
                 ", ".join(self.countries) if self.countries else "all countries"]
        if self.focus is not None:
            parts.append(f"{SCHEME_TITLES.get(self.focus.scheme, self.focus.scheme)}: {self.focus.label}")
        if self.model is not None:
            parts.append(f"purchase model {self.model}")
        return " · ".join(parts)

    # ----- URL round trip -------------------------------------------------------------------------
    def to_query(self) -> str:
        """URL query string (without '?') that :meth:`from_query` turns back into this value."""
        pairs: list[tuple[str, str]] = [("start", self.start.isoformat()), ("end", self.end.isoformat())]
        if self.prime != "All":
            pairs.append(("prime", self.prime))
        pairs.extend(("country", c) for c in self.countries)
        if self.focus is not None:
            pairs += [("scheme", self.focus.scheme), ("segment", self.focus.label)]
        if self.model is not None:
            pairs.append(("model", self.model))
        return urlencode(pairs)

    @classmethod
    def from_query(
        cls,
        query: str | None,
        default: Filters,
        known_countries: Iterable[str] | None = None,
        date_bounds: tuple[date, date] | None = None,
    ) -> tuple[Filters, list[str]]:
        """Parse a query string; never raises. Returns the filters and notices about corrected values."""
        notices: list[str] = []
        if query is not None and not isinstance(query, str):  # a hostile client can send any JSON value
            notices.append("The link's filters could not be read; defaults are shown.")
            return default, notices
        query = (query or "").lstrip("?")
        if len(query) > MAX_QUERY_LENGTH:
            notices.append("The link was too long; its filters were reset to the defaults.")
            return default, notices
        try:
            params = parse_qs(query, keep_blank_values=False, max_num_fields=200)
        except ValueError:
            notices.append("The link's filters could not be read; defaults are shown.")
            return default, notices
        return cls.from_params(params, default, known_countries, date_bounds, notices)

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Sequence[str]],
        default: Filters,
        known_countries: Iterable[str] | None = None,
        date_bounds: tuple[date, date] | None = None,
        notices: list[str] | None = None,
    ) -> tuple[Filters, list[str]]:
        """Like :meth:`from_query` for already split parameters (lists of strings per key)."""
        notices = [] if notices is None else notices

        def first(key: str) -> str | None:
            values = params.get(key) or []
            if isinstance(values, str):
                values = [values]
            return str(values[0]) if values else None

        start, end = default.start, default.end
        for key in ("start", "end"):
            raw = first(key)
            if raw is None:
                continue
            try:
                value = _as_date(raw)
            except FilterError:
                notices.append(f"Ignored an invalid {key} date {raw[:40]!r}.")
                continue
            if key == "start":
                start = value
            else:
                end = value
        if date_bounds is not None:
            lo, hi = date_bounds
            clamped = (min(max(start, lo), hi), min(max(end, lo), hi))
            if clamped != (start, end):
                notices.append(f"Dates were limited to the data's range {lo} to {hi}.")
                start, end = clamped
        if start > end:
            notices.append("The start date was after the end date; the two were swapped.")
            start, end = end, start

        prime = first("prime") or "All"
        if prime not in PRIME_CHOICES:
            notices.append(f"Ignored an unknown Prime choice {prime[:40]!r}.")
            prime = "All"

        raw_countries = params.get("country") or []
        if isinstance(raw_countries, str):
            raw_countries = [raw_countries]
        countries = [str(c) for c in raw_countries]
        if known_countries is not None:
            known = set(known_countries)
            unknown = [c for c in countries if c not in known]
            if unknown:
                notices.append(f"Ignored unknown countries: {', '.join(c[:40] for c in unknown[:5])}.")
            countries = [c for c in countries if c in known]
        if len(countries) > MAX_COUNTRIES:
            notices.append(f"Only the first {MAX_COUNTRIES} countries were kept.")
            countries = countries[:MAX_COUNTRIES]
        countries = [c for c in countries if c and len(c) <= 60]

        scheme, label = first("scheme"), first("segment")
        known_segment = scheme in SCHEME_LABELS and label in SCHEME_LABELS.get(scheme or "", ())
        if (scheme is not None or label is not None) and not known_segment:
            notices.append("Ignored an unknown segment selection.")
            scheme = label = None
        model = first("model")
        if model is not None and model not in MODEL_CHOICES:
            notices.append(f"Ignored an unknown purchase model {model[:40]!r}.")
            model = None
        try:
            return cls(start, end, prime, tuple(countries), SegmentFocus.of(scheme, label), model), notices
        except FilterError as exc:  # defensive: every value was checked above
            notices.append(f"Filters reset to defaults ({exc}).")
            return default, notices
