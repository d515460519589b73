"""The purchase-model family: BG/NBD, MBG/NBD and Pareto/NBD, one record each, and what they share.

All three read a customer's history the same way -- frequency ``x`` (repeat purchases), recency
``t_x`` (time of the last purchase, from the first) and age ``T`` -- and assume the same buying while
active (a steady personal rate, gamma distributed across customers). They differ in how customers
drop out:

* **BG/NBD** -- a customer may drop out only right after a repeat purchase;
* **MBG/NBD** -- also right after the first purchase, so one-time buyers age as well;
* **Pareto/NBD** -- at any moment, whether or not they buy.

:data:`PURCHASE_MODELS` maps each model's stable key (used in URLs and exports) to its class;
:data:`PURCHASE_MODEL_INFO` holds, per key, the display name and a plain-words description (for
labels, the glossary and the model choice); :class:`PurchaseModel` is what every class offers, so
callers never need to know which one they hold. :func:`fit_purchase_models` fits several on the same
customers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from metrics.models.bgnbd import BGNBDModel
from metrics.models.fitted_model import FitResult, ModelParams
from metrics.models.mbgnbd import MBGNBDModel
from metrics.models.pareto_nbd import ParetoNBDModel

__all__ = [
    "PURCHASE_MODELS",
    "PURCHASE_MODEL_INFO",
    "PurchaseModel",
    "PurchaseModelInfo",
    "fit_purchase_models",
]


class PurchaseModel(Protocol):
    """What every purchase model class offers (times in one unit chosen by the caller).

    ``fit`` takes customer (or grouped, with ``weights`` = customer counts) frequency, recency and age
    and returns the fitted model (each class's ``fit`` also takes ``initial=``, its own parameters, to
    start the search from, e.g. the previous fit's). ``from_array`` builds a model from a parameter
    vector in ``param_names`` order; ``param_covariance`` is the fit's covariance of the
    log-parameters (None without a fit or with a singular Hessian), for intervals by drawing parameters.
    """

    #: Display name, e.g. "MBG/NBD".
    model_name: ClassVar[str]
    #: Parameter names in ``params.as_array()`` order; ``r`` and ``alpha`` come first in every model
    #: (while active, the purchase rate is Gamma(r, alpha) distributed).
    param_names: ClassVar[tuple[str, ...]]
    #: The fit's result (log-likelihood, convergence, message, standard errors); None before a fit.
    result: FitResult[Any] | None

    @property
    def params(self) -> ModelParams: ...

    @property
    def converged(self) -> bool: ...

    @property
    def log_likelihood(self) -> float: ...

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None,
            ) -> Self: ...

    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]: ...

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]: ...

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                           ) -> NDArray[np.float64]: ...

    def expected_purchases_population(self, t: ArrayLike) -> NDArray[np.float64]: ...

    def param_covariance(self) -> NDArray[np.float64] | None: ...

    @classmethod
    def from_array(cls, values: Any) -> Self: ...


@dataclass(frozen=True)
class PurchaseModelInfo:
    """One purchase model: its stable ``key``, the class, and how to present it."""

    key: str
    model: type[PurchaseModel]
    #: What it assumes about dropout, in one plain sentence.
    description: str

    @property
    def label(self) -> str:
        """Display name (the class's ``model_name``), e.g. "Pareto/NBD"."""
        return str(self.model.model_name)


_INFO: tuple[PurchaseModelInfo, ...] = (
    PurchaseModelInfo(
        "bgnbd", BGNBDModel,
        "Customers can only drop out right after a repeat purchase, so a customer who never came back "
        "counts as still active however long ago they bought.",
    ),
    PurchaseModelInfo(
        "mbgnbd", MBGNBDModel,
        "Customers can drop out right after any purchase, the first one included, so one-time buyers "
        "become less likely to be active the longer they stay away.",
    ),
    PurchaseModelInfo(
        "pareto_nbd", ParetoNBDModel,
        "Customers can drop out at any moment, whether or not they buy, after a lifetime that differs "
        "from customer to customer.",
    ),
)

#: Key -> display name and description, in the family's order (BG/NBD first: the long-standing default).
PURCHASE_MODEL_INFO: dict[str, PurchaseModelInfo] = {info.key: info for info in _INFO}
#: Key -> model class; the keys are stable (URLs, exports).
PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {info.key: info.model for info in _INFO}


def fit_purchase_models(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    keys: Iterable[str] | None = None,
) -> dict[str, PurchaseModel]:
    """Fit the purchase models ``keys`` (default: all, in family order) on the same customers.

    Each fit is standalone (a large data set is first searched on a random subsample, see
    :func:`metrics.models.btyd_common._warm_start`), so a model that cannot be fitted raises its
    :class:`~metrics.models.fitted_model.ModelFitError` without the others being affected: callers who
    want the rest should fit one key at a time.
    """
    chosen = list(PURCHASE_MODELS) if keys is None else list(keys)
    unknown = [k for k in chosen if k not in PURCHASE_MODELS]
    if unknown:
        raise ValueError(f"unknown purchase model(s) {unknown}; choose from {', '.join(PURCHASE_MODELS)}")
    return {key: PURCHASE_MODELS[key]().fit(frequency, recency, T, weights) for key in chosen}
