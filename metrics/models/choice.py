"""Which purchase model a filter state uses: chosen once on the data by a holdout test, or picked by the user.

**The criterion.** On the whole customer base (every country, Prime and non-Prime) at an as-of date (the
data's last order date by default), the history is split in time: the last :data:`CHOICE_HOLDOUT_MONTHS`
months are the holdout, everything before is the calibration. A whole year, so that seasonality favours no
model: on the default data a July–December holdout (the holiday peak) is under-predicted by every model
(−4 % to −14 %) and a January–June one over-predicted (+31 % to +47 %), and the two half-years pick
different models. Every model of the family (BG/NBD,
MBG/NBD, Pareto/NBD) is fitted on the calibration history and predicts each calibration customer's
holdout purchases; the model with the smallest error of the **conditional expectations by calibration
frequency** (``ce_error`` of :mod:`metrics.models.quality`: customer-weighted mean absolute error of mean
predicted vs mean actual holdout purchases per frequency 0, 1, …, 7+, one-time buyers included) is the
default. Ties (within 1e-9) go to the smaller error of the holdout total, then to the family's order.

**Fallback.** When the calibration would be shorter than :data:`MIN_CALIBRATION_DAYS` (or no model fits
it), the models are fitted on the whole history instead and the one with the highest log-likelihood wins
(the three have four parameters each, so this is the AIC and BIC order too).

The choice depends only on the data and the as-of date, so it is memoised per engine (and kept in the
shared disk cache, whose fingerprint covers the data files): a filter change fits one model, not three.
A state's ``model`` (from the URL, ``model=…``) overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.models.inputs import DEFAULT_TIME_UNIT, PurchaseModelFit, fit_model, model_population, months_back
from metrics.models.purchase_models import PURCHASE_MODELS
from metrics.models.quality import HoldoutResult, evaluate_holdout, holdout_end_for

#: The holdout of the model choice: a whole seasonal cycle.
CHOICE_HOLDOUT_MONTHS = 12

#: The calibration part of the split must be at least this long, else the information criterion decides.
MIN_CALIBRATION_DAYS = 365
#: Model used when nothing can be fitted at all (every figure then says why there is no model).
FALLBACK_MODEL = "bgnbd"

HOLDOUT_METHOD = "holdout"
LIKELIHOOD_METHOD = "log-likelihood"


@dataclass(frozen=True)
class ModelChoice:
    """The default purchase model of the data and why (see the module docstring).

    ``results`` has one :class:`~metrics.models.quality.HoldoutResult` per model when ``method`` is
    ``"holdout"`` (empty otherwise); ``fits`` the whole-history fits the fallback compared.
    """
    plain_data: ClassVar[bool] = True
    chosen: str
    method: str
    reason: str
    as_of: date
    calibration: Filters | None
    holdout_end: date | None
    results: tuple[HoldoutResult, ...] = ()
    fits: tuple[PurchaseModelFit, ...] = ()

    def result(self, key: str) -> HoldoutResult | None:
        return next((r for r in self.results if r.model_key == key), None)


def _name(key: str) -> str:
    return str(PURCHASE_MODELS[key].model_name)


def _by_likelihood(engine: Engine, scope: Filters, why: str) -> ModelChoice:
    fits = tuple(fit_model(engine, model_population(engine, scope), key) for key in PURCHASE_MODELS)
    fitted = [f for f in fits if f.model is not None]
    if not fitted:
        return ModelChoice(FALLBACK_MODEL, LIKELIHOOD_METHOD, f"{why} No purchase model could be fitted "
                           f"({fits[0].message}).", scope.as_of, None, None, fits=fits)
    best = max(fitted, key=lambda f: f.model.log_likelihood if f.model is not None else float("-inf"))
    lls = ", ".join(f"{_name(f.model_key)} {f.model.log_likelihood:,.1f}" for f in fitted if f.model is not None)
    reason = (f"{why} Chosen by the highest log-likelihood on the whole history (all three models have four "
              f"parameters, so this is the AIC/BIC order): {lls}.")
    return ModelChoice(best.model_key, LIKELIHOOD_METHOD, reason, scope.as_of, None, None, fits=fits)


@memoized
def model_choice(engine: Engine, as_of: date | None = None) -> ModelChoice:
    """The default purchase model for data up to ``as_of`` (the data's last order date when None), by the
    holdout criterion of the module docstring; memoised per engine and date."""
    first, last = engine.date_bounds()
    as_of = last if as_of is None else min(as_of, last)
    base = Filters(first, as_of)
    calibration_end = months_back(as_of, CHOICE_HOLDOUT_MONTHS)
    if (calibration_end - first).days + 1 < MIN_CALIBRATION_DAYS:
        return _by_likelihood(engine, base, f"The history before the {CHOICE_HOLDOUT_MONTHS}-month holdout is "
                                            f"shorter than {MIN_CALIBRATION_DAYS} days, so no holdout test was run.")
    calibration = Filters(first, calibration_end)
    results = evaluate_holdout(engine, calibration, as_of)
    usable = [r for r in results if r.ok]
    if not usable:
        return _by_likelihood(engine, base, "No model could be fitted on the calibration history.")
    best = min(usable, key=lambda r: (round(r.ce_error, 9), abs(r.predicted - r.actual)))
    others = ", ".join(f"{_name(r.model_key)} {r.ce_error:.3f}" for r in usable if r is not best)
    reason = (f"{_name(best.model_key)} predicted the {CHOICE_HOLDOUT_MONTHS}-month holdout "
              f"({calibration_end + timedelta(days=1):%d %b %Y} – {as_of:%d %b %Y}) best per customer: mean "
              f"error of the expected purchases by calibration frequency {best.ce_error:.3f} per customer"
              + (f" (vs {others})" if others else "")
              + f"; holdout total predicted {best.predicted:,.0f} vs actual {best.actual:,.0f}.")
    return ModelChoice(best.model_key, HOLDOUT_METHOD, reason, as_of, calibration, as_of, results=results)


def purchase_model_key(engine: Engine, filters: Filters) -> str:
    """The purchase model of a filter state: its ``model`` when set, else the data's :func:`model_choice`."""
    return filters.model if filters.model is not None else model_choice(engine).chosen


def fit_purchase_model(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> PurchaseModelFit:
    """The purchase model of the state (:func:`purchase_model_key`) fitted on its
    :func:`~metrics.models.inputs.model_population` (memoised in :func:`metrics.models.inputs.fit_model`);
    a focus does not refit, and states with the same end and customer choices share the fit."""
    return fit_model(engine, model_population(engine, filters), purchase_model_key(engine, filters), time_unit)




MODEL_FIT_PARAMS = ("r", "alpha", "a", "b", "s", "beta")


def model_fit(engine: Engine, filters: Filters) -> pd.DataFrame:
    """The model choice at the state's as-of date (its end) as a table, one row per purchase model:
    ``model`` (key), ``model_name``, ``time_unit``, the parameters ``r``, ``alpha`` and ``a``, ``b``
    (BG/NBD, MBG/NBD) or ``s``, ``beta`` (Pareto/NBD) of the calibration fit (empty where a model has no
    such parameter), ``log_likelihood``, ``converged``, ``holdout_predicted`` and ``holdout_actual``
    (holdout purchase days of the calibration customers), ``ce_error`` (the criterion), ``chosen`` and
    ``method``. The whole customer base is used whatever the other filters say: the choice is one per
    data and date. Under the log-likelihood fallback the fits are on the whole history and the holdout
    columns are empty."""
    choice = model_choice(engine, filters.end)
    rows = []
    for key in PURCHASE_MODELS:
        result = choice.result(key)
        fit = result.fit if result is not None else next((f for f in choice.fits if f.model_key == key), None)
        row: dict[str, object] = {"model": key, "model_name": _name(key),
                                  "time_unit": fit.time_unit if fit is not None else DEFAULT_TIME_UNIT}
        row.update(dict.fromkeys(MODEL_FIT_PARAMS, np.nan))
        row.update(log_likelihood=np.nan, converged=False)
        if fit is not None and fit.model is not None:
            names = PURCHASE_MODELS[key].param_names
            row.update(zip(names, map(float, fit.model.params.as_array()), strict=True))
            row.update(log_likelihood=fit.model.log_likelihood, converged=fit.model.converged)
        ok = result is not None and result.ok
        row.update(holdout_predicted=result.predicted if result is not None and ok else np.nan,
                   holdout_actual=result.actual if result is not None else np.nan,
                   ce_error=result.ce_error if result is not None and ok else np.nan,
                   chosen=key == choice.chosen, method=choice.method)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["message"] = "; ".join(f.message for f in (r.fit for r in choice.results) if f.message)
    return frame


HOLDOUT_CHECK_COLUMNS = ("model", "model_name", "calibration_start", "calibration_end", "holdout_end", "customers",
                         "predicted", "actual", "error_pct", "ce_error", "chosen")


def holdout_check(engine: Engine, filters: Filters, holdout_end: date | str | None = None) -> pd.DataFrame:
    """Every purchase model fitted on the state's scope as the dashboard fits it (customers with a valid
    order in the range, their whole history up to its end, nothing later), predicting their purchase days
    from the day after the end to ``holdout_end`` (default :data:`HOLDOUT_MONTHS` months later, at most the
    data's last date). One row per model: ``model``, ``model_name``, the periods, ``customers``,
    ``predicted``, ``actual``, ``error_pct`` ((predicted − actual) / actual), ``ce_error`` (the
    per-frequency criterion) and ``chosen``: the model the criterion picks from data up to the end
    (:func:`metrics.models.choice.model_choice` at that date). A segment focus is ignored (models are
    fitted on the scope)."""
    end = holdout_end_for(engine, filters.end, None if holdout_end is None else _as_day(holdout_end))
    if end <= filters.end:
        raise ValueError(f"no data after {filters.end} to check a holdout on (the data end on "
                         f"{engine.date_bounds()[1]}); choose an earlier --end")
    chosen = model_choice(engine, filters.end).chosen
    rows = []
    results = evaluate_holdout(engine, filters.data_scope, end)
    for result in results:
        rows.append({"model": result.model_key, "model_name": PURCHASE_MODELS[result.model_key].model_name,
                     "calibration_start": filters.start, "calibration_end": filters.end, "holdout_end": end,
                     "customers": result.customers, "predicted": result.predicted if result.ok else np.nan,
                     "actual": result.actual, "error_pct": result.error_pct if result.ok else np.nan,
                     "ce_error": result.ce_error if result.ok else np.nan, "chosen": result.model_key == chosen})
    frame = pd.DataFrame(rows, columns=list(HOLDOUT_CHECK_COLUMNS))
    frame.attrs["message"] = "; ".join(r.fit.message for r in results if r.fit.message)
    return frame


def _as_day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])



TRACKING_EXPORT_COLUMNS = ("model", "model_name", "in_use", "week", "date", "period", "actual_cumulative",
                           "predicted_cumulative")
CE_EXPORT_COLUMNS = ("model", "model_name", "in_use", "frequency", "customers", "actual_mean", "predicted_mean",
                     "actual_total", "predicted_total")


def _results_frame(engine: Engine, filters: Filters, part: str, columns: tuple[str, ...]) -> pd.DataFrame:
    choice = model_choice(engine)
    in_use = purchase_model_key(engine, filters)
    frames = [getattr(r, part).assign(model=r.model_key, model_name=_name(r.model_key), in_use=r.model_key == in_use)
              for r in choice.results if r.ok]
    if not frames:
        frame = pd.DataFrame({c: [] for c in columns})
        frame.attrs["message"] = choice.reason
        return frame
    frame = pd.concat(frames, ignore_index=True)
    if "date" in frame and choice.calibration is not None:
        frame["period"] = np.where(frame.date <= pd.Timestamp(choice.calibration.end), "calibration", "holdout")
    frame = frame[list(columns)]
    frame.attrs["message"] = ""
    return frame


def holdout_tracking(engine: Engine, filters: Filters) -> pd.DataFrame:
    """The tracking chart of the data's model choice, one row per model and week: cumulative repeat
    purchases of the calibration customers, ``actual_cumulative`` vs ``predicted_cumulative``, over the
    calibration (``period`` "calibration") and the holdout ("holdout"); ``in_use`` marks the state's model."""
    return _results_frame(engine, filters, "tracking", TRACKING_EXPORT_COLUMNS)


def conditional_expectations(engine: Engine, filters: Filters) -> pd.DataFrame:
    """The holdout test's conditional expectations, one row per model and calibration frequency (0 … 6,
    7+): ``customers``, mean and total actual vs predicted holdout purchases; ``in_use`` marks the state's
    model."""
    return _results_frame(engine, filters, "by_frequency", CE_EXPORT_COLUMNS)

__all__ = [
    "MIN_CALIBRATION_DAYS",
    "ModelChoice",
    "conditional_expectations",
    "fit_purchase_model",
    "holdout_check",
    "holdout_tracking",
    "model_choice",
    "model_fit",
    "purchase_model_key",
]
