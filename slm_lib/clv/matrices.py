"""The BG/NBD's view of a customer base on a grid of histories: P(alive) and expected purchases by (frequency, recency).

For customers of one age ``T``, every combination of repeat purchases ``x = 0..max`` and
recency ``t_x`` (time of the last purchase, ``0..T``): the probability of being alive at
``T`` and the expected purchases in the next ``horizon`` (Fader, Hardie & Lee 2005, eq. 10),
as a tidy table for :func:`slm_lib.plots.frequency_recency_heatmap` (the "frequency/recency
matrix" plots of ``lifetimes``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import (BetaGeoModel, alive_probability, conditional_expected_purchases)
from slm_lib.errors import DataValidationError


def frequency_recency_matrix(bg: BetaGeoModel, T: float, horizon: float = 1.0, max_frequency: int | None = None,
                             recency_steps: int = 20) -> pd.DataFrame:
    """P(alive) and expected purchases on a grid of frequency x recency, for customers of age ``T``.

    Parameters
    ----------
    bg : BetaGeoModel
        Fitted (or :meth:`~slm_lib.clv.mle.PositiveMLEModel.from_params`) model.
    T : float
        Age of the customers (time since first purchase), in the model's time unit.
    horizon : float, default 1.0
        Length of the period of ``expected_purchases`` (one time unit).
    max_frequency : int, optional
        Highest repeat-purchase count on the grid; default ``ceil(T)`` capped at 50.
    recency_steps : int, default 20
        Recency values ``0, T/steps, ..., T``.

    Returns
    -------
    pandas.DataFrame
        ``frequency, recency, probability_alive, expected_purchases, T, horizon, n`` (customers
        the model was fitted on; 0 for a model built from parameters). Cells with
        ``frequency > 0`` and ``recency = 0`` are kept (a purchase at the first instant).

    Examples
    --------
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> m = frequency_recency_matrix(bg, T=39.0, max_frequency=2, recency_steps=3)
    >>> m.loc[(m["frequency"] == 2) & (m["recency"] == 13.0), "probability_alive"].round(3).tolist()
    [0.358]
    """
    if not T > 0 or recency_steps < 1 or horizon <= 0:
        raise DataValidationError(f"frequency_recency_matrix: need T > 0, horizon > 0 and recency_steps >= 1, "
                                  f"got T={T}, horizon={horizon}, recency_steps={recency_steps}")
    top = int(min(np.ceil(T), 50)) if max_frequency is None else int(max_frequency)
    x, t_x = np.meshgrid(np.arange(top + 1, dtype=float), np.linspace(0.0, T, recency_steps + 1), indexing="ij")
    x, t_x = x.ravel(), t_x.ravel()            # with x = 0 recency does not enter (P(alive) = 1)
    params = tuple(bg.params_[k] for k in bg.param_names)
    big_t = np.full(len(x), float(T))
    return pd.DataFrame({
        "frequency": x.astype("int64"), "recency": t_x,
        "probability_alive": alive_probability(x, t_x, big_t, params),
        "expected_purchases": conditional_expected_purchases(float(horizon), x, t_x, big_t, params),
        "T": float(T), "horizon": float(horizon), "n": int(bg.result_.n_obs),
    })
