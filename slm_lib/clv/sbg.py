"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, 2010).

At the end of each period an alive customer churns with probability ``theta``;
``theta ~ Beta(alpha, beta)`` across customers. With ``B`` the beta function:

- churn in period t: ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, t = 1, 2, ...
- survival: ``S(t) = B(alpha, beta + t) / B(alpha, beta)``
- retention rate: ``r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1)``
- discounted expected residual lifetime of a customer who has made ``n - 1`` renewals
  (Fader & Hardie 2010): ``DERL(d, n) = sum_{t >= n} S(t)/S(n-1) / (1+d)^(t-n)
  = B(alpha, beta + n) / B(alpha, beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1/(1+d))``.

Fitted to survivors ``n_0, ..., n_k`` (customers alive at the start of periods 0..k):
``LL = sum_t (n_{t-1} - n_t) log P(T = t) + n_k log S(k)``. On Fader & Hardie's (2007)
cohorts, years 0-7, it gives regular alpha = 0.704, beta = 1.182 (LL -1680.27) and high
end alpha = 0.668, beta = 3.806 (LL -1611.16).

Several cohorts share one (alpha, beta): the log-likelihood is the sum over cohorts, each
right-censored at its own last observed period. A cohort first observed at period
``k0 > 0`` (left-truncated: customers who left before ``k0`` were never recorded) enters
conditionally on survival to ``k0``, i.e. its terms are divided by ``S(k0)``. All of this
reduces to three tallies by period (churn events, censored survivors, entrants), so one
cohort is simply the one-element case.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, hyp2f1, polygamma

from slm_lib.clv.compress import weighted_sum
from slm_lib.clv.mle import PositiveMLEModel, fit_positive_mle
from slm_lib.clv.rfm import as_array
from slm_lib.config import CONFIDENCE
from slm_lib.errors import DataValidationError, InsufficientDataError, ModelFitError

PARAMS = ("alpha", "beta")


def sbg_loglik(params: Any, survivors: np.ndarray) -> float:
    """sBG log-likelihood of one cohort's survivor counts ``n_0 >= n_1 >= ... >= n_k``.

    Examples
    --------
    >>> round(sbg_loglik([1.0, 1.0], np.array([100.0, 50.0])), 3)
    -69.315
    """
    n = np.asarray(survivors, dtype=float)
    return tallies_loglik(params, *cohort_tallies([0], [len(n) - 1], n))


def cohort_tallies(starts: Any, lasts: Any, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sufficient statistics of several cohorts: churn events, censored and entrants by period.

    Parameters
    ----------
    starts, lasts : array-like of int
        First and last observed period of each cohort.
    counts : numpy.ndarray
        Survivor counts of every cohort concatenated, periods ``starts[j]..lasts[j]`` each.

    Returns
    -------
    tuple of numpy.ndarray
        ``churned[t]`` (left between the starts of t-1 and t), ``censored[t]`` (still alive
        at a cohort's last period t) and ``entered[t]`` (alive at a cohort's first period
        t), each of length ``max(lasts) + 1``.

    Examples
    --------
    >>> [a.tolist() for a in cohort_tallies([0, 1], [2, 2], np.array([10., 6., 5., 8., 7.]))]
    [[0.0, 4.0, 2.0], [0.0, 0.0, 12.0], [10.0, 8.0, 0.0]]
    """
    starts, lasts = np.asarray(starts, dtype=int), np.asarray(lasts, dtype=int)
    lengths = lasts - starts + 1
    cohort = np.repeat(np.arange(len(starts)), lengths)
    period = np.arange(len(counts)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + starts[cohort]
    size = int(lasts.max()) + 1
    first = np.r_[True, cohort[1:] != cohort[:-1]]
    drop = np.r_[0.0, -np.diff(counts)]
    churned = np.bincount(period[~first], weights=drop[~first], minlength=size)
    ends = np.cumsum(lengths) - 1
    censored = np.bincount(lasts, weights=counts[ends], minlength=size)
    entered = np.bincount(starts, weights=counts[first], minlength=size)
    return churned, censored, entered


def _beta_terms(params: Any, churned: np.ndarray, censored: np.ndarray,
                entered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log-likelihood as ``sum_k w_k betaln(u_k, v_k)``: weights and arguments.

    ``log P(T = t) = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)`` and
    ``log S(t) = betaln(alpha, beta + t) - betaln(alpha, beta)``.
    """
    alpha, beta = params
    t = np.arange(len(churned), dtype=float)
    change = censored - entered
    w = np.r_[churned[1:], change, -(churned[1:].sum() + change.sum())]
    u = np.r_[np.full(len(t) - 1, alpha + 1.0), np.full(len(t), alpha), alpha]
    v = np.r_[beta + t[1:] - 1, beta + t, beta]
    return w, u, v


def tallies_loglik(params: Any, churned: np.ndarray, censored: np.ndarray, entered: np.ndarray) -> float:
    """sBG log-likelihood from the tallies of :func:`cohort_tallies`.

    ``sum_t churned_t log P(T = t) + censored_t log S(t) - entered_t log S(t)``.

    Examples
    --------
    >>> round(tallies_loglik([1.0, 1.0], np.array([0.0, 50.0]), np.array([0.0, 50.0]),
    ...                      np.array([100.0, 0.0])), 3)
    -69.315
    """
    w, u, v = _beta_terms(params, churned, censored, entered)
    return float(weighted_sum(w, betaln(u, v)))


def tallies_score_information(params: Any, churned: np.ndarray, censored: np.ndarray,
                              entered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and minus the Hessian of :func:`tallies_loglik` in ``(alpha, beta)``.

    ``d betaln(u, v) / du = psi(u) - psi(u + v)`` (and likewise in ``v``), second
    derivatives with the trigamma function.

    Examples
    --------
    >>> score, info = tallies_score_information([0.704, 1.182], *cohort_tallies([0], [7], np.array(
    ...     [1000., 631, 468, 382, 326, 289, 262, 241])))
    >>> bool(np.abs(score).max() < 0.1 and np.all(np.linalg.eigvalsh(info) > 0))   # at the published maximum
    True
    """
    w, u, v = _beta_terms(params, churned, censored, entered)
    grad, hess = betaln_derivatives(u, v)
    return weighted_sum(w, grad), -weighted_sum(w, hess)


def betaln_derivatives(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (n x 2) and Hessian (n x 2 x 2) of ``betaln(u, v)`` in ``(u, v)``, elementwise.

    ``d/du = psi(u) - psi(u + v)``, ``d2/du dv = -psi'(u + v)``, likewise in ``v``.

    Examples
    --------
    >>> grad, hess = betaln_derivatives(np.array([1.0]), np.array([1.0]))   # betaln(u, v) at (1, 1)
    >>> np.round(grad, 6).tolist(), np.round(hess, 6).tolist()
    ([[-1.0, -1.0]], [[[1.0, -0.644934], [-0.644934, 1.0]]])
    """
    both, tri_both = digamma(u + v), polygamma(1, u + v)
    grad = np.stack([digamma(u) - both, digamma(v) - both], axis=-1)
    hess = np.stack([np.stack([polygamma(1, u) - tri_both, -tri_both], axis=-1),
                     np.stack([-tri_both, polygamma(1, v) - tri_both], axis=-1)], axis=-2)
    return grad, hess


def _validate_survivors(survivors: Any, where: str = "survivors") -> np.ndarray:
    n = as_array(survivors, where)
    if len(n) < 1:
        raise InsufficientDataError(f"{where}: no counts")
    for mask, rule in ((n < 0, "must be >= 0"), (n != np.round(n), "must be whole counts"),
                       (np.r_[False, np.diff(n) > 0], "must not increase from one period to the next")):
        if mask.any():
            raise DataValidationError(f"{where}: {rule}: {int(mask.sum())} value(s) "
                                      f"(e.g. periods {np.flatnonzero(mask)[:5].tolist()})")
    if n[0] <= 0:
        raise DataValidationError(f"{where}: the cohort is empty at its first period")
    return n


def _frame_cohorts(frame: pd.DataFrame, cohort_col: str | list[str]) -> dict[Any, tuple[int, Any]]:
    keys = [cohort_col] if isinstance(cohort_col, str) else list(cohort_col)
    missing = [c for c in (*keys, "period", "survivors") if c not in frame]
    if missing:
        raise DataValidationError(f"survivors: column(s) {missing} not found; available: {list(frame.columns)}")
    dup = frame.duplicated(keys + ["period"])
    if dup.any():
        raise DataValidationError(f"survivors: {int(dup.sum())} duplicated ({', '.join(keys)}, period) row(s) "
                                  f"(e.g. rows {(np.flatnonzero(dup)[:5] + 1).tolist()}); fit one group at a time "
                                  "or pass every identifying column as cohort_col")
    ordered = frame.sort_values(keys + ["period"])
    period = as_array(ordered["period"], "period")
    new = ~ordered.duplicated(keys).to_numpy()  # sorted by cohort: first row of each cohort
    gap = ~new & (np.r_[np.nan, np.diff(period)] != 1)
    if (period < 0).any() or (period != np.round(period)).any() or gap.any():
        raise DataValidationError("survivors: column 'period' must be whole periods >= 0, consecutive "
                                  f"within each cohort: {int(gap.sum() + (period < 0).sum())} row(s) break this")
    return {name: (int(g["period"].iloc[0]), g["survivors"])
            for name, g in ordered.groupby(keys[0] if len(keys) == 1 else keys, sort=False)}


def as_cohorts(survivors: Any, cohort_col: str | list[str] = "cohort") -> dict[Any, tuple[int, np.ndarray]]:
    """Normalise survivor input to ``{cohort: (first_period, counts)}``, validated.

    Accepted: one array of counts (periods 0, 1, ...), a list of such arrays, a dict of
    them, or a tidy frame ``<cohort_col>, period, survivors`` whose periods may start
    after 0 (left-truncated cohorts) but must be consecutive.

    Examples
    --------
    >>> {k: (s, n.tolist()) for k, (s, n) in as_cohorts({"a": [10, 6], "b": [5, 5, 4]}).items()}
    {'a': (0, [10.0, 6.0]), 'b': (0, [5.0, 5.0, 4.0])}
    """
    if isinstance(survivors, pd.DataFrame):
        raw = _frame_cohorts(survivors, cohort_col)
    elif isinstance(survivors, dict):
        raw = {k: (0, v) for k, v in survivors.items()}
    elif isinstance(survivors, (list, tuple)) and len(survivors) and np.ndim(survivors[0]) > 0:
        raw = {k: (0, v) for k, v in enumerate(survivors)}
    else:
        raw = {0: (0, survivors)}
    if not raw:
        raise InsufficientDataError("survivors: no cohorts given")
    single = len(raw) == 1
    return {k: (start, _validate_survivors(v, "survivors" if single else f"survivors (cohort {k!r})"))
            for k, (start, v) in raw.items()}


class ShiftedBetaGeoModel(PositiveMLEModel):
    """sBG model of contractual retention fitted by maximum likelihood.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"alpha", "beta"}``.
    log_likelihood_ : float
    survivors_ : numpy.ndarray or None
        The survivor counts fitted when one cohort from period 0 was given, else None.
    cohorts_ : pandas.DataFrame
        Every cohort fitted, tidy: ``cohort, period, survivors``.
    result_ : MLEResult
        ``n_obs`` is the number of customers entering the fit.

    Examples
    --------
    >>> sbg = ShiftedBetaGeoModel().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> {k: round(v, 3) for k, v in sbg.params_.items()}
    {'alpha': 0.704, 'beta': 1.182}
    >>> round(float(sbg.survival(12)), 3)
    0.17
    """

    name, param_names, usage = "sBG", PARAMS, ".fit(survivors)"

    def __init__(self) -> None:
        super().__init__()
        self.survivors_: np.ndarray | None = None
        self.cohorts_: pd.DataFrame | None = None

    def fit(self, survivors: Any, initial: dict[str, float] | None = None,
            cohort_col: str | list[str] = "cohort") -> "ShiftedBetaGeoModel":
        """Fit to the survivor counts of one or several cohorts sharing (alpha, beta).

        Parameters
        ----------
        survivors : array-like, list or dict of array-like, or pandas.DataFrame
            Customers alive at the start of periods 0, 1, 2, ... of one cohort; or several
            such cohorts (a list or dict), each observed for its own number of periods; or
            a tidy frame ``<cohort_col>, period, survivors`` (as :func:`survivor_counts`
            and :func:`slm_lib.clv.contractual.cohort_survivors` return), where a cohort
            whose periods start after 0 is left-truncated.
        initial : dict, optional
            Starting values for ``alpha`` and ``beta`` (default 1, 1).
        cohort_col : str or list of str, default "cohort"
            Column(s) identifying a cohort in a tidy frame.

        Raises
        ------
        DataValidationError
            Negative, fractional or increasing counts; gaps or duplicates in a frame.
        InsufficientDataError
            No cohort observed over two periods or more.
        ModelFitError
            No churn at all, nobody left, or the optimiser does not converge.

        Examples
        --------
        >>> sbg = ShiftedBetaGeoModel().fit({"2024": [1000, 631, 468, 382], "2025": [900, 570]})
        >>> sorted(sbg.cohorts_["cohort"].unique().tolist())
        ['2024', '2025']
        """
        cohorts = as_cohorts(survivors, cohort_col)
        starts = np.array([start for start, _ in cohorts.values()])
        counts = [n for _, n in cohorts.values()]
        lasts = starts + np.array([len(n) for n in counts]) - 1
        if (lasts == starts).all():
            n_values = len(counts[0]) if len(counts) == 1 else 1
            raise InsufficientDataError(
                f"survivors: {n_values} value(s); need counts at the start of at least periods 0 and 1"
                if len(counts) == 1 else "survivors: every cohort has a single period; need at least one "
                "cohort observed over two periods or more")
        tallies = cohort_tallies(starts, lasts, np.concatenate(counts))
        if tallies[0].sum() == 0:
            raise ModelFitError("sBG: nobody churned, so the churn-rate distribution cannot be "
                                "estimated; observe the cohort for longer")
        init = {"alpha": 1.0, "beta": 1.0, **(initial or {})}
        self.result_ = fit_positive_mle(
            lambda p: -tallies_loglik(p, *tallies), [init[k] for k in PARAMS], PARAMS, self.name,
            int(tallies[2].sum()), score_information=lambda p: tallies_score_information(p, *tallies),
            hint="the retention curve may be flat or drop to 0 in one step; use more periods or "
                 "other starting values via initial={...}")
        self.survivors_ = counts[0] if len(counts) == 1 and starts[0] == 0 else None
        labels = np.empty(len(cohorts), dtype=object)
        labels[:] = list(cohorts)                     # tuples stay whole with several cohort columns
        self.cohorts_ = pd.DataFrame({
            "cohort": np.repeat(labels, lasts - starts + 1),
            "period": np.concatenate([np.arange(s0, s1 + 1) for s0, s1 in zip(starts, lasts)]),
            "survivors": np.concatenate(counts).astype("int64")})
        return self

    def _ab(self, params: dict[str, float] | None) -> tuple[Any, Any]:
        p = params if params is not None else self.params_
        return p["alpha"], p["beta"]

    def survival(self, t: Any, params: dict[str, float] | None = None) -> Any:
        """Share of the cohort alive at the start of period ``t`` (``S(0) = 1``)."""
        a, b = self._ab(params)
        return np.exp(betaln(a, b + np.asarray(t, dtype=float)) - betaln(a, b))

    def retention_rate(self, t: Any, params: dict[str, float] | None = None) -> Any:
        """Share of those alive at period ``t - 1`` still alive at ``t`` (t >= 1)."""
        a, b = self._ab(params)
        tt = np.asarray(t, dtype=float)
        if np.any(tt < 1):
            raise DataValidationError("t: retention_rate is defined for periods t >= 1")
        return (b + tt - 1) / (a + b + tt - 1)

    def residual_lifetime(self, n: Any = 1, params: dict[str, float] | None = None) -> Any:
        """Undiscounted expected further renewals after ``n - 1`` renewals: ``DERL(0, n)``.

        ``(beta + n - 1) / (alpha - 1)``; infinite when ``alpha <= 1`` (too many customers with
        churn rates near 0 for the mean to exist).

        Examples
        --------
        >>> float(ShiftedBetaGeoModel().residual_lifetime(3, params={"alpha": 2.0, "beta": 4.0}))
        6.0
        """
        n = _renewal_index(n)
        a, b = self._ab(params)
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(a > 1, (b + n - 1) / np.where(a > 1, a - 1, 1.0), np.inf)

    def derl(self, discount_rate: float, n: Any = 1, params: dict[str, float] | None = None) -> Any:
        """Discounted expected residual lifetime after ``n - 1`` renewals (F&H 2010).

        ``sum_{t >= n} S(t)/S(n-1) / (1+d)^(t-n)`` in closed form with the Gauss
        hypergeometric function. Infinite for ``d = 0`` when ``alpha <= 1``. ``n`` and the
        parameters broadcast (arrays of renewals, arrays of parameter draws).

        Examples
        --------
        >>> sbg = ShiftedBetaGeoModel()
        >>> round(float(sbg.derl(0.1, 1, params={"alpha": 0.704, "beta": 1.182})), 3)
        2.965
        """
        if discount_rate < 0:
            raise DataValidationError(f"discount_rate: must be >= 0, got {discount_rate}")
        n = _renewal_index(n)
        a, b = self._ab(params)
        ratio = np.exp(betaln(a, b + n) - betaln(a, b + n - 1))
        return ratio * hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate))

    def contractual_clv(self, margin: float, discount_rate: float, n: Any = 1,
                        n_draws: int = 2000, seed: int = 0) -> pd.Series:
        """Expected residual value ``margin * DERL`` with a parametric-bootstrap interval.

        With an array ``n`` (renewals + 1 of each customer of a group) the DERL is the mean
        over those customers. The interval draws (alpha, beta) from the asymptotic normal of
        the log-scale MLE (``n_draws``, seeded) and takes the central
        :data:`slm_lib.config.CONFIDENCE` share of ``margin * DERL``; it reflects parameter
        uncertainty only.

        Returns
        -------
        pandas.Series
            ``derl, clv, ci_low, ci_high``.

        Examples
        --------
        >>> sbg = ShiftedBetaGeoModel.from_params({"alpha": 0.704, "beta": 1.182})
        >>> round(float(sbg.contractual_clv(100.0, 0.1, n=[1, 1])["clv"]), 1)
        296.5
        """
        levels, weight = np.unique(_renewal_index(n), return_counts=True)
        weight = weight / weight.sum()
        draws = self._fitted().draw(n_draws, seed)
        per_draw = self.derl(discount_rate, levels[None, :],
                             params={"alpha": draws[:, :1], "beta": draws[:, 1:]}) @ weight
        derl = float(self.derl(discount_rate, levels) @ weight)
        lo, hi = np.quantile(margin * per_draw, [0.5 - CONFIDENCE / 2, 0.5 + CONFIDENCE / 2])
        return pd.Series({"derl": derl, "clv": margin * derl, "ci_low": lo, "ci_high": hi})

    def projection(self, periods: int, actual: Any = None) -> pd.DataFrame:
        """Projected survival for periods 0..``periods`` beside the fitted and actual counts.

        Parameters
        ----------
        periods : int
            Last period to project.
        actual : array-like, optional
            Actual survivors for periods 0, 1, ... (any length; missing periods are NaN).

        Returns
        -------
        pandas.DataFrame
            ``period, fitted`` (True where the period was used in the fit), ``survival``,
            ``retention_rate``, ``expected_survivors``, ``actual_survivors``,
            ``actual_share`` and ``error_pct`` (projection vs actual share, in % of actual).
        """
        n0 = self.survivors_[0] if self.survivors_ is not None else np.nan
        last = int(self.cohorts_["period"].max()) if self.cohorts_ is not None else 0
        t = np.arange(periods + 1)
        surv = self.survival(t)
        act = np.full(len(t), np.nan)
        if actual is not None:
            values = as_array(actual, "actual")[: len(t)]
            act[: len(values)] = values
        share = act / act[0] if actual is not None else act
        return pd.DataFrame({
            "period": t, "fitted": t <= last, "survival": surv,
            "retention_rate": np.r_[np.nan, self.retention_rate(t[1:])] if periods >= 1 else [np.nan],
            "expected_survivors": n0 * surv, "actual_survivors": act, "actual_share": share,
            "error_pct": 100 * (surv - share) / share,
        })


def _renewal_index(n: Any) -> np.ndarray:
    """``n`` (renewals + 1) as an int array, checked to be whole and >= 1."""
    arr = np.asarray(n, dtype=float)
    if np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise DataValidationError(f"n: must be an integer >= 1, got {n if arr.ndim == 0 else arr[arr < 1][:5]}")
    return arr.astype(int)


def survivor_counts(customers: pd.DataFrame, recency_col: str = "recency", T_col: str = "T",
                    by: str | None = "cohort") -> pd.DataFrame:
    """Survivors at the start of each period from one row per customer.

    Layout of Fader & Hardie's cohorts (``sbg_cohorts.csv``): ``recency`` is the last
    period a customer was active (1..T); a customer with ``recency == T`` is still alive
    (censored), one with ``recency = t < T`` churned at the end of period t. Survivors at
    the start of period t = number of customers with ``recency > t``, t = 0..T-1.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``<by>, period, survivors``.

    Raises
    ------
    DataValidationError
        T differing within a group (survivor counts need a common observation window),
        recency outside 1..T or not whole.

    Examples
    --------
    >>> df = pd.DataFrame({"recency": [1, 2, 3, 3], "T": 3, "cohort": "a"})
    >>> survivor_counts(df)["survivors"].tolist()
    [4, 3, 2]
    """
    for col in (recency_col, T_col) + ((by,) if by else ()):
        if col not in customers:
            raise DataValidationError(f"customers: column '{col}' not found; available: {list(customers.columns)}")
    frame = customers.assign(_g="all") if by is None else customers
    key = by or "_g"
    rec, big_t = as_array(frame[recency_col], recency_col), as_array(frame[T_col], T_col)
    bad = (rec < 1) | (rec > big_t) | (rec != np.round(rec)) | (big_t != np.round(big_t))
    if bad.any():
        raise DataValidationError(f"customers: column '{recency_col}': must be a whole period in 1..{T_col}: "
                                  f"{int(bad.sum())} row(s) (e.g. rows {(np.flatnonzero(bad)[:5] + 1).tolist()})")
    spread = frame.groupby(key)[T_col].nunique()
    if (spread > 1).any():
        raise DataValidationError(f"customers: column '{T_col}' differs within group(s) "
                                  f"{spread[spread > 1].index.tolist()[:5]}; survivor counts need one "
                                  "observation window per group")
    t_max = int(big_t.max())
    periods = np.arange(t_max)
    alive = rec[:, None] > periods[None, :]           # customers x periods
    counts = pd.DataFrame(alive, columns=periods).groupby(frame[key].to_numpy()).sum()
    group_t = frame.groupby(key)[T_col].first().astype(int)
    tidy = counts.stack().rename("survivors").reset_index()
    tidy.columns = [key, "period", "survivors"]
    tidy = tidy[tidy["period"] < tidy[key].map(group_t)]
    tidy["survivors"] = tidy["survivors"].astype("int64")
    out = tidy.reset_index(drop=True)
    return out.drop(columns="_g") if by is None else out
