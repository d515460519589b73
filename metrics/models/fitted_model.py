"""What the customer-base models (:mod:`metrics.models.bgnbd`, :mod:`metrics.models.gamma_gamma`) share once fitted.

* :class:`FitResult` -- what a fit produced (parameters, log-likelihood, standard errors) and how far
  it can be trusted (convergence, message, customer counts);
* :class:`ModelFitError` -- the data cannot support a fit;
* :class:`FittedModel` -- the bookkeeping of a model class: the fitted parameters as ``params``, the
  fit's ``result``, ``log_likelihood`` and ``converged``, ``from_params`` / ``from_array`` for known
  parameters, and ``param_covariance`` (the fit's uncertainty, for intervals by drawing parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["FitResult", "FittedModel", "ModelFitError"]


class ModelFitError(ValueError):
    """The data cannot support a model fit (too few customers, too few repeat buyers, bad input)."""


P = TypeVar("P")


@dataclass(frozen=True)
class FitResult(Generic[P]):
    """What a fit produced and how trustworthy it is.

    ``converged`` is true only when the optimiser reported success (or ended with a negligible
    gradient) and no parameter sits on its search bound. ``std_errors`` are asymptotic standard
    errors from the observed information matrix (``None`` when the Hessian is not positive definite).
    ``n_customers`` and ``n_repeat_buyers`` are sums of weights, so they count customers even when the
    data were grouped with :func:`metrics.models.bgnbd.group_customers`. ``log_param_covariance`` is
    the covariance matrix of the log-parameters (inverse observed information, in ``param_names``
    order; ``None`` when the Hessian is not positive definite); it is left out of comparisons.
    """

    params: P
    log_likelihood: float
    converged: bool
    n_customers: float
    n_repeat_buyers: float
    message: str
    iterations: int
    std_errors: P | None = None
    log_param_covariance: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)


class ModelParams(Protocol):
    """A model's parameters: a frozen dataclass that lists its values in a fixed order."""

    def as_array(self) -> NDArray[np.float64]: ...


Params = TypeVar("Params", bound=ModelParams)


class FittedModel(Generic[Params]):
    """Base of a model class: holds the fitted (or given) parameters and the fit's :class:`FitResult`.

    A subclass names itself, its parameters and their dataclass (``model_name``, ``param_names`` in
    ``as_array`` order, ``params_type``), may add checks on known parameters in :meth:`_check_params`,
    and ends its ``fit`` with :meth:`_record_fit`.
    """

    #: The model's name in messages, e.g. "BG/NBD".
    model_name: ClassVar[str]
    #: The parameter names, in the order of ``params.as_array()``.
    param_names: ClassVar[tuple[str, ...]]
    #: The parameters' dataclass; built from values in ``param_names`` order.
    params_type: ClassVar[Any]

    def __init__(self) -> None:
        self._params: Params | None = None
        self.result: FitResult[Params] | None = None

    @classmethod
    def from_params(cls, params: Params) -> Self:
        """A model with known parameters (e.g. published ones, or loaded from storage)."""
        for name, value in zip(cls.param_names, params.as_array(), strict=True):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{cls.model_name} parameter {name} must be a positive number, got {value}")
        cls._check_params(params)
        model = cls()
        model._params = params
        return model

    @classmethod
    def from_array(cls, values: Any) -> Self:
        """A model with the parameter values ``values``, in ``param_names`` order (e.g. one draw of
        ``exp(mvn(log params, param_covariance()))`` for an interval); checked like :meth:`from_params`."""
        arr = np.asarray(values, dtype=float).ravel()
        if arr.size != len(cls.param_names):
            raise ValueError(
                f"{cls.model_name} takes {len(cls.param_names)} parameters ({', '.join(cls.param_names)}); "
                f"got {arr.size} values"
            )
        return cls.from_params(cls.params_type(*(float(v) for v in arr)))

    @classmethod
    def _check_params(cls, params: Params) -> None:
        """Further conditions known parameters must meet (raise ``ValueError``); none by default."""

    @property
    def params(self) -> Params:
        if self._params is None:
            raise RuntimeError(f"the {self.model_name} model has not been fitted yet; call fit() first")
        return self._params

    @property
    def log_likelihood(self) -> float:
        if self.result is None:
            raise RuntimeError(f"the {self.model_name} model has not been fitted yet; call fit() first")
        return self.result.log_likelihood

    @property
    def converged(self) -> bool:
        return self.result is not None and self.result.converged

    def param_covariance(self) -> NDArray[np.float64] | None:
        """Covariance matrix of the log-parameters, ``log(params.as_array())``, from the fit's Hessian.

        Drawing ``exp(N(log params, covariance))`` gives plausible parameter sets for an interval (e.g.
        of CLV) that reflects how well the data pin the parameters down. ``None`` when the model was
        not fitted here (known parameters) or the Hessian was not positive definite. A copy.
        """
        if self.result is None or self.result.log_param_covariance is None:
            return None
        return np.array(self.result.log_param_covariance, dtype=float)

    def _record_fit(self, params: Params, std_errors: Params | None, *, log_likelihood: float, converged: bool,
                    n_customers: float, n_repeat_buyers: float, message: str, iterations: int,
                    log_param_covariance: NDArray[np.float64] | None = None) -> Self:
        """Keep a fit's parameters and result on the model; returns the model (for ``fit``)."""
        self._params = params
        self.result = FitResult(params=params, log_likelihood=log_likelihood, converged=converged,
                                n_customers=n_customers, n_repeat_buyers=n_repeat_buyers, message=message,
                                iterations=iterations, std_errors=std_errors,
                                log_param_covariance=log_param_covariance)
        return self
