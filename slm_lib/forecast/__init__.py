"""Contact volume ahead and the agents it needs (SPEC §9 ``forecast_volume``).

* :mod:`slm_lib.forecast.staffing`: :func:`erlang_c_staffing`, agents for a service-level
  target from a volume (Erlang C, a queueing model).
"""
from slm_lib.forecast.staffing import ERLANG_C_MODEL, erlang_c_staffing

__all__ = ["erlang_c_staffing", "ERLANG_C_MODEL"]
