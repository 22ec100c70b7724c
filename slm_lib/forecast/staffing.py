"""Agents needed for a service-level target: the Erlang C queueing model.

A model, not a measurement: it holds when its assumptions do, and its figures are agents
answering contacts, before shrinkage (breaks, training, absence) and before any rostering.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from slm_lib.errors import ConfigError, DataValidationError

#: The ``model`` column of :func:`erlang_c_staffing`: what the figures assume.
ERLANG_C_MODEL: str = ("Erlang C model (M/M/N queue): Poisson arrivals at a steady rate over the period, exponential "
                       "handle times, one contact per agent at a time, nobody abandons; agents on contacts, "
                       "before shrinkage")


def erlang_c_staffing(volume: pd.Series | ArrayLike, handle_time_s: float, target_answer_s: float = 60.0,
                      target_share: float = 0.8, *, period_s: float) -> pd.DataFrame:
    """Agents needed per period to answer ``target_share`` of contacts within ``target_answer_s`` (Erlang C).

    Assumptions (the ``model`` column says them too): contacts arrive as a Poisson process at a
    constant rate ``volume / period_s`` over the period; handle times are exponential with
    mean ``handle_time_s``; each agent handles one contact at a time; contacts wait in one
    first-come-first-served queue and never abandon; the period is long against the handle
    time (steady state). Real queues with abandonment need fewer agents than this, bursty
    arrivals more. For a daily volume set ``period_s`` to the hours the desk is open, not
    86,400 (contacts do not arrive evenly round the clock); better, staff each hour from its
    own volume. Contacts answered later in bulk (e-mail, web forms) do not queue this way.

    With traffic ``A = volume * handle_time_s / period_s`` erlangs and ``N > A`` agents, the
    Erlang B blocking probability follows the stable recursion ``B(0) = 1,
    B(n) = A B(n-1) / (n + A B(n-1))`` (values stay in [0, 1]: no factorials or powers), the
    probability of waiting is ``C = N B / (N - A (1 - B))``, the service level is
    ``1 - C exp(-(N - A) t / h)`` for target ``t`` and handle time ``h``, and the average
    speed of answer is ``C h / (N - A)``. ``agents`` is the smallest ``N > A`` meeting the target.

    Parameters
    ----------
    volume : Series or array-like
        Contacts arriving per period (e.g. a forecast); the Series index is kept. Missing
        volumes give missing rows.
    handle_time_s : float
        Mean handle time in seconds (talk/chat plus wrap-up).
    target_answer_s : float
        Answer within this many seconds...
    target_share : float
        ...for this share of contacts (0 < share < 1).
    period_s : float
        Seconds over which each period's volume arrives (keyword only: there is no safe default).

    Returns
    -------
    pandas.DataFrame
        ``volume, traffic_erlangs, agents, service_level, prob_wait, asa_s, occupancy, model``:
        shares in [0, 1], ``asa_s`` in seconds, ``occupancy = traffic / agents``. A volume of 0
        needs 0 agents (the other figures are missing).

    Raises
    ------
    ConfigError
        A non-positive handle time or period, a negative target time or a share outside (0, 1).
    DataValidationError
        A negative or infinite volume.

    Examples
    --------
    Call Centre Helper's worked example: 100 calls in 30 minutes, 180 s handle time, 80% in 20 s
    (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm):

    >>> s = erlang_c_staffing([100], handle_time_s=180, target_answer_s=20, period_s=1800)
    >>> int(s.at[0, "agents"]), s[["traffic_erlangs", "service_level", "prob_wait", "occupancy"]].round(3).iloc[0].tolist()
    (14, [10.0, 0.888, 0.174, 0.714])
    """
    for name, value, ok in (("handle_time_s", handle_time_s, handle_time_s > 0), ("period_s", period_s, period_s > 0),
                            ("target_answer_s", target_answer_s, target_answer_s >= 0),
                            ("target_share", target_share, 0 < target_share < 1)):
        if not (np.isfinite(value) and ok):
            raise ConfigError(f"erlang_c_staffing: {name} out of range: {value!r}")
    index = volume.index if isinstance(volume, pd.Series) else None
    v = np.asarray(volume, dtype=np.float64).ravel()
    bad = (v < 0) | np.isinf(v)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataValidationError(f"erlang_c_staffing: volume must be a finite count >= 0: {len(rows)} value(s), "
                                  f"e.g. positions {rows[:5].tolist()}")
    traffic = v * handle_time_s / period_s
    agents, level, wait = _erlang_c_agents(traffic, target_answer_s / handle_time_s, target_share)
    with np.errstate(invalid="ignore", divide="ignore"):
        asa = np.where(agents > traffic, wait * handle_time_s / (agents - traffic), np.nan)
        occupancy = np.where(agents > 0, traffic / agents, np.nan)
    out = pd.DataFrame({"volume": v, "traffic_erlangs": traffic, "agents": agents, "service_level": level,
                        "prob_wait": wait, "asa_s": asa, "occupancy": occupancy, "model": ERLANG_C_MODEL},
                       index=index)
    out["agents"] = pd.array(agents, dtype="Int64")
    out["model"] = out["model"].astype("str")
    return out


def _erlang_c_agents(traffic: np.ndarray, target_in_handle_times: float,
                     target_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest agents N > A with service level >= target, its service level and waiting probability.

    One pass of the Erlang B recursion over n = 1, 2, ... for every row at once, until every
    row has its N (zero traffic needs none; missing traffic stays missing).
    """
    m = len(traffic)
    agents, level, wait = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    agents[traffic == 0] = 0.0
    todo = np.flatnonzero(traffic > 0)
    a = traffic[todo]
    blocking = np.ones(len(todo))
    n = 0
    while len(todo):
        n += 1
        blocking = a * blocking / (n + a * blocking)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = n * blocking / (n - a * (1.0 - blocking))
            sl = 1.0 - c * np.exp(-np.maximum(n - a, 0.0) * target_in_handle_times)   # judged only where n > a
        done = (n > a) & (sl >= target_share)
        agents[todo[done]], level[todo[done]], wait[todo[done]] = n, sl[done], c[done]
        todo, a, blocking = todo[~done], a[~done], blocking[~done]
    return agents, level, wait
