"""Contact volume ahead and the agents it needs (SPEC §9 ``forecast_volume``).

* :mod:`slm_lib.forecast.volume`: :func:`forecast_volume`, tickets created per day or week
  ahead with 80% and 95% prediction intervals, per group, and its backtest.
* :mod:`slm_lib.forecast.model`: the model of one count series and the seasonal naive rule.
* :mod:`slm_lib.forecast.backtest`: rolling-origin scores (MASE, interval coverage).
* :mod:`slm_lib.forecast.staffing`: :func:`erlang_c_staffing`, agents for a service-level
  target from a volume (Erlang C, a queueing model).

Why this model. Candidates were compared by rolling-origin backtests (6 origins, MASE
against the seasonal naive rule, 80/95% coverage) on ``data_samples/`` (two years of days
with a weekly pattern and growth) and on simulated Poisson counts with a weekly and a yearly
pattern, a level shift, low volumes (0.3 to 4 a day) and a short history, at 28 and 91 days
and 13 weeks ahead: ETS (additive damped trend and weekly season, on counts and on
``log(1 + counts)``), SARIMAX(1,1,1)(0,1,1)7 with and without yearly Fourier terms, and
structural models (local level, local linear trend, smooth trend, deterministic trend) with
the same Fourier terms. On ``log(1 + counts)`` every candidate reached near-nominal coverage
(counts on their own scale: 93% for 95% intervals; low volumes below). ETS cannot take a
yearly pattern of 365.25 days, SARIMAX was the slowest (up to 20 s a fit), and among the
structural models the local linear trend was never far from the best where another won
(daily MASE 0.78 vs 0.72-0.84 at 28 days, 0.75-1.27 at 91 days; weekly 0.35 where the
yearly pattern is planted, against 0.57 for a local level), while the local level lost
badly on trending weekly data and the smooth trend on level shifts. Yearly Fourier terms
lowered MASE from 0.97 to 0.80 on a simulated yearly pattern and cost nothing without one.
``statsforecast`` was not needed.
"""
from slm_lib.forecast.staffing import ERLANG_C_MODEL, erlang_c_staffing
from slm_lib.forecast.volume import VolumeForecast, forecast_volume

__all__ = ["forecast_volume", "VolumeForecast", "erlang_c_staffing", "ERLANG_C_MODEL"]
