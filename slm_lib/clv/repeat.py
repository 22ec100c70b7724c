"""What the continuous-time repeat-purchase models (Pareto/NBD, MBG/NBD) share: fit and predictions.

A model here is a likelihood of one customer's ``(x, t_x, T)`` (repeat purchases, time of
the last one, age) and three predictions: ``E[X(t)]`` for a new customer, ``E[Y(t) | x,
t_x, T]`` in the next ``t`` and P(alive at T). :class:`RepeatPurchaseModel` fits the
likelihood on the distinct rows weighted by how many customers they stand for
(:func:`slm_lib.clv.compress.weighted_rows`) with the shared engine
(:func:`slm_lib.clv.mle.fit_positive_mle`), and gives the predictions the same way
:class:`slm_lib.clv.bgnbd.BetaGeoModel` does, so the models are interchangeable in
:func:`slm_lib.clv.holdout.holdout_errors` and :func:`slm_lib.clv.compare.compare_clv_models`.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from slm_lib.clv.compress import validate_weights, weighted_rows
from slm_lib.clv.mle import PositiveMLEModel, ScoreInformation, fit_positive_mle
from slm_lib.clv.rfm import as_array, like_input, validate_rfm
from slm_lib.errors import ModelFitError

#: Per-customer log-likelihood ``(params, x, t_x, T) -> array``.
LogLik = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class RepeatPurchaseModel(PositiveMLEModel):
    """Base of a continuous-time model of repeat purchases fitted by maximum likelihood.

    Subclasses set ``name``, ``param_names``, the per-customer ``loglik`` and optional
    ``score_information`` (``(params, x, t_x, T, weights) -> (score, information)``;
    numerical derivatives without it), ``start`` (starting values from the distinct rows and
    their weights) and the predictions ``unconditional``, ``conditional``, ``alive`` and
    ``alive_purchases`` (expected purchases of a customer alive at T, for
    :func:`slm_lib.clv.predictive.predictive_clv`), functions of the parameter tuple in
    ``param_names`` order.
    """

    usage = ".fit(frequency, recency, T)"
    loglik: ClassVar[LogLik]
    score_information: ClassVar[Callable[..., tuple[np.ndarray, np.ndarray]] | None] = None
    unconditional: ClassVar[Callable[[Any, tuple], np.ndarray]]
    conditional: ClassVar[Callable[[Any, Any, Any, Any, tuple], np.ndarray]]
    alive: ClassVar[Callable[[Any, Any, Any, tuple], np.ndarray]]
    alive_purchases: ClassVar[Callable[[Any, Any, Any, tuple], np.ndarray]]

    @staticmethod
    def start(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, counts: np.ndarray) -> dict[str, float]:
        """Starting values from the distinct rows and their weights (overridden per model)."""
        raise NotImplementedError

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None,
            initial: dict[str, float] | None = None) -> "RepeatPurchaseModel":
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Per-customer repeat purchases, time of the last purchase since the first, and
            age (same time unit), e.g. the columns of :func:`slm_lib.clv.rfm.rfm_summary`.
        weights : array-like, optional
            Number of customers each row stands for (default 1 each): a summary with one
            row per distinct history and its count fits like the customers one by one.
        initial : dict, optional
            Starting values by parameter name.

        Returns
        -------
        RepeatPurchaseModel
            ``self``, fitted.

        Raises
        ------
        DataValidationError
            Invalid inputs (negative or too large recency, non-integer frequency, bad weights).
        ModelFitError
            No repeat purchases at all, or the optimiser does not converge.
        """
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        w = validate_weights(weights, len(x))
        if not np.any((x > 0) & (w > 0)):
            raise ModelFitError(f"{self.name}: no customer has a repeat purchase (frequency > 0), so the "
                                "purchase and drop-out processes cannot be told apart; use a longer "
                                "calibration period")
        rows, counts = weighted_rows(x, t_x, big_t, weights=w)
        init = {**self.start(*rows, counts), **(initial or {})}
        loglik, derivs = type(self).loglik, type(self).score_information
        info: ScoreInformation | None = (None if derivs is None else lambda p: derivs(p, *rows, counts))
        # np.sum adds pairwise: near the optimum of a million customers the Newton steps gain less
        # than the rounding of a running sum (weighted_sum), and the optimiser would stall
        self.result_ = fit_positive_mle(
            lambda p: -np.sum(counts * loglik(p, *rows)), [init[k] for k in self.param_names],
            self.param_names, self.name, int(round(counts.sum())), score_information=info,
            hint="check that recency and T use the same time unit, try another time unit "
                 "(weeks) or other starting values via initial={...}")
        return self

    def _p(self, params: dict[str, float] | None) -> tuple[float, ...]:
        p = params if params is not None else self.params_
        return tuple(p[k] for k in self.param_names)

    def expected_purchases(self, t: Any, frequency: Any = None, recency: Any = None, T: Any = None,
                           params: dict[str, float] | None = None) -> Any:
        """Expected number of purchases in a period of length ``t``.

        Without history: ``E[X(t)]`` for a new customer from her first purchase (float for
        scalar ``t``). With ``frequency, recency, T``: ``E[Y(t) | x, t_x, T]``, expected
        purchases in ``(T, T + t]`` per customer (array, or Series indexed like
        ``frequency``). ``params`` overrides the fitted parameters.
        """
        p = self._p(params)
        if frequency is None:
            val = np.asarray(type(self).unconditional(np.asarray(t, dtype=float), p))
            return float(val) if val.ndim == 0 else val
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        tt = as_array(t, "t") if np.ndim(t) else float(t)
        return like_input(type(self).conditional(tt, x, t_x, big_t, p), frequency, "expected_purchases")

    def probability_alive(self, frequency: Any, recency: Any, T: Any,
                          params: dict[str, float] | None = None) -> Any:
        """P(alive at T | x, t_x, T) per customer (array, or Series indexed like ``frequency``)."""
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        return like_input(type(self).alive(x, t_x, big_t, self._p(params)), frequency, "probability_alive")
