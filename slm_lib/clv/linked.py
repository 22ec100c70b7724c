"""Covariates in the CLV models: positive parameters linked log-linearly to customer features.

A model parameter ``p`` (e.g. BG/NBD's drop-out ``a`` and ``b``, sBG's ``alpha`` and
``beta``) becomes per customer ``p_i = p0 * exp(z_i' gamma_p)``, the definition of
pymc-marketing's ``BetaGeoModel`` with dropout covariates (``a_i = a_scale exp(z_i'
gamma_a)``, ``b_i = b_scale exp(z_i' gamma_b)``, one coefficient vector per parameter).
With one ``gamma`` shared by ``a`` and ``b`` the mean drop-out ``a / (a + b)`` would not move,
so each gets its own; the effect on the mean drop-out (or churn) probability is
``log(a_i / b_i) - log(a0 / b0) = z_i' (gamma_a - gamma_b)``: an odds ratio
``exp(gamma_a - gamma_b)`` per stated unit of the covariate (:func:`dropout_effects`).

Covariates are numeric columns entered per stated unit (``units={"median_frt_h": 10}``:
per +10 h; ``"sd"``: per standard deviation) or categorical ones by treatment coding, as
the service models (:func:`slm_lib.models._design.build_design`), so the labels read the
same: "median first response (per +10 h)". ``z = 0`` is the reference customer: a
covariate of 0 h, or the reference level; centre a covariate (``units="sd"`` does not) to
make the baseline the average customer.

Estimation: the unconstrained vector ``theta`` holds ``log p0`` and ``gamma_p`` of each
linked parameter (``log`` of the others); each model gives every row's score and Hessian in
its natural parameters, :func:`linked_score_information` carries them to ``theta`` (chain
rule through ``p_i = exp(D_i' theta_p)``), and :func:`slm_lib.clv.mle.newton_minimise`
maximises the likelihood with the usual checks. Standard errors are observed-information.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slm_lib.clv.compress import weighted_sum
from slm_lib.clv.mle import MLEResult
from slm_lib.config import CONFIDENCE
from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.models._design import Design, build_design
from slm_lib.stats import normal_interval, two_sample_z
from slm_lib.wording import term_label


@dataclass(frozen=True)
class LinkedMLEResult(MLEResult):
    """An :class:`MLEResult` whose ``log_params`` mix log-scale parameters and linear coefficients.

    ``log_scale[k]`` tells whether entry k is ``log(parameter)`` (shown as ``exp``) or a
    coefficient (shown as is); ``labels`` are the rows' words in ``summary``.
    """

    log_scale: tuple[bool, ...] = ()
    labels: tuple[str, ...] = ()

    def natural(self, theta: np.ndarray) -> np.ndarray:
        """Parameters from ``theta``: ``exp`` of the log-scale entries, coefficients as they are."""
        return np.where(np.asarray(self.log_scale), np.exp(theta), theta)

    @property
    def params(self) -> dict[str, float]:
        """Baseline parameters (at ``z = 0``) and coefficients, by name."""
        return {n: float(v) for n, v in zip(self.names, self.natural(self.log_params))}

    @property
    def cov(self) -> np.ndarray:
        """Covariance of :attr:`params` (delta method for the log-scale ones)."""
        jac = np.where(np.asarray(self.log_scale), np.exp(self.log_params), 1.0)
        return self.cov_log * np.outer(jac, jac)

    @property
    def summary(self) -> pd.DataFrame:
        """parameter, label, estimate, std_error, ci_low, ci_high (coefficients: Wald; others: log-scale Wald)."""
        se = np.sqrt(np.diag(self.cov_log))
        lo, hi = normal_interval(self.log_params, se, CONFIDENCE)
        logs = np.asarray(self.log_scale)
        est = self.natural(self.log_params)
        return pd.DataFrame({
            "parameter": list(self.names), "label": list(self.labels), "estimate": est,
            "std_error": np.where(logs, est * se, se),
            "ci_low": np.where(logs, np.exp(lo), lo), "ci_high": np.where(logs, np.exp(hi), hi),
        })


def covariate_design(covariates: pd.DataFrame, columns: Sequence[str], n_rows: int,
                     units: Mapping[str, float | str] | None = None,
                     references: Mapping[str, str] | None = None) -> Design:
    """The covariate matrix (no intercept) of ``columns``, rows with a missing value dropped.

    Parameters
    ----------
    covariates : pandas.DataFrame
        One row per customer, in the order of the model's other inputs (``n_rows`` rows).
    columns : sequence of str
        Covariate columns.
    units, references : mapping, optional
        Stated unit of numeric columns (number or ``"sd"``) and reference level of
        categorical ones (as :func:`slm_lib.models.churn_model`).

    Returns
    -------
    Design
        ``X`` (rows kept, positional index), ``terms`` (labels and units), ``n_dropped``.

    Raises
    ------
    DataValidationError
        ``covariates`` is not a frame of ``n_rows`` rows.
    ConfigError
        No covariate column, or an unknown one.
    ModelFitError
        A constant covariate, or one that is a linear combination of the others.

    Examples
    --------
    >>> d = covariate_design(pd.DataFrame({"median_frt_h": [5.0, 25.0, None]}), ["median_frt_h"], 3,
    ...                      units={"median_frt_h": 10})
    >>> d.X["median_frt_h"].tolist(), d.terms[0].unit, d.n_dropped
    ([0.5, 2.5], '+10 h', 1)
    """
    if not isinstance(covariates, pd.DataFrame) or len(covariates) != n_rows:
        raise DataValidationError(f"covariates: need a DataFrame with one row per customer ({n_rows:,} rows), "
                                  f"got {type(covariates).__name__} of {len(covariates):,} rows")
    if not list(columns):
        raise ConfigError("covariates: name at least one covariate column")
    return build_design(covariates.reset_index(drop=True), columns, (), None, units, references, intercept=False)


def term_scales(covariates: pd.DataFrame, design: Design) -> dict[str, float]:
    """What one unit of each numeric term is in its column's units (10 for "+10 h", the SD for "+1 SD")."""
    raw = covariates.reset_index(drop=True).loc[design.X.index]
    out = {}
    for t in design.terms:
        if t.level is None:
            unit, value = design.X[t.name].to_numpy(float), raw[t.source].to_numpy(float)
            nonzero = unit != 0                     # a constant column was refused by the design
            out[t.name] = float(np.median(value[nonzero] / unit[nonzero]))
    return out


def covariate_matrix(covariates: pd.DataFrame, design: Design, scales: Mapping[str, float]) -> np.ndarray:
    """The fitted design's terms computed on new rows (same units and levels); NaN rows where a value is missing.

    Examples
    --------
    >>> fit = pd.DataFrame({"median_frt_h": [5.0, 25.0], "segment": ["smb", "mid"]})
    >>> d = covariate_design(fit, ["median_frt_h", "segment"], 2, units={"median_frt_h": 10})
    >>> covariate_matrix(pd.DataFrame({"median_frt_h": [30.0], "segment": ["mid"]}), d,
    ...                  term_scales(fit, d)).tolist()
    [[3.0, 1.0]]
    """
    cols = []
    for t in design.terms:
        s = covariates[t.source]
        if t.level is None:
            cols.append(s.to_numpy(float) / scales[t.name])
        else:
            cols.append(np.where(s.isna(), np.nan, (s.astype(str) == t.level).to_numpy(float)))
    return np.column_stack(cols) if cols else np.zeros((len(covariates), 0))


def customer_values(params: Mapping[str, float], names: Sequence[str], design: Design,
                    scales: Mapping[str, float], covariates: pd.DataFrame) -> list[np.ndarray]:
    """Each named parameter per customer, ``p0 exp(z_i' gamma_p)``, from fitted ``params`` (NaN where z is missing).

    Examples
    --------
    >>> fit = pd.DataFrame({"x": [0.0, 2.0]})
    >>> d = covariate_design(fit, ["x"], 2)
    >>> [v.round(3).tolist() for v in customer_values({"a": 1.0, "a:x": 0.5, "b": 2.0}, ["a", "b"], d,
    ...                                              term_scales(fit, d), pd.DataFrame({"x": [0.0, 1.0]}))]
    [[1.0, 1.649], [2.0, 2.0]]
    """
    z = covariate_matrix(covariates, design, scales)
    return [params[p] * np.exp(z @ np.array([params.get(f"{p}:{t.name}", 0.0) for t in design.terms]))
            for p in names]


def linked_score_information(values: np.ndarray, grad: np.ndarray, hess: np.ndarray,
                             designs: Sequence[np.ndarray], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score and observed information in ``theta`` from each row's derivatives in its natural parameters.

    Row i's parameter j is ``p_ij = exp(designs[j][i] @ theta_j)``; with ``g`` and ``H`` its
    gradient and Hessian in ``p``, the chain rule gives ``dl/deta_j = p_j g_j`` and
    ``d2l/deta_j deta_k = p_j p_k H_jk + [j = k] p_j g_j``, and ``eta_j = D_j theta_j``.

    Parameters
    ----------
    values : numpy.ndarray
        ``n x m`` natural parameters of every row.
    grad, hess : numpy.ndarray
        ``n x m`` gradients and ``n x m x m`` Hessians of each row's log-likelihood.
    designs : sequence of numpy.ndarray
        ``m`` design matrices ``n x k_j`` (a column of ones for a parameter without covariates).
    weights : numpy.ndarray
        Customers each row stands for.

    Returns
    -------
    tuple of numpy.ndarray
        Score and information (minus the Hessian), in ``theta`` order (blocks by parameter).

    Examples
    --------
    >>> ones = np.ones((2, 1))   # one parameter p, no covariate: l = log p - p at p = 1
    >>> score, info = linked_score_information(np.ones((2, 1)), np.zeros((2, 1)), -np.ones((2, 1, 1)),
    ...                                        [ones], np.ones(2))
    >>> score.tolist(), info.tolist()
    ([0.0], [[2.0]])
    """
    eta_grad = values * grad
    eta_hess = values[:, :, None] * values[:, None, :] * hess
    m = values.shape[1]
    eta_hess[:, np.arange(m), np.arange(m)] += eta_grad
    score = np.concatenate([weighted_sum(weights, eta_grad[:, j, None] * designs[j]) for j in range(m)])
    blocks = [[weighted_sum(weights, eta_hess[:, j, k, None, None] * designs[j][:, :, None] * designs[k][:, None, :])
               for k in range(m)] for j in range(m)]   # m <= 4 parameters, not rows
    return score, -np.block(blocks)


def dropout_effects(result: LinkedMLEResult, design: Design, up: str, down: str,
                    n: int, events: int | None = None) -> pd.DataFrame:
    """Odds ratio of the mean drop-out (churn) probability per stated unit of each covariate.

    The mean of ``Beta(u_i, v_i)`` is ``u_i / (u_i + v_i)``, so its odds are ``u_i / v_i``
    and move by ``exp(gamma_u - gamma_v)`` per unit of a covariate; its standard error
    comes from the covariance of the two coefficients.

    Parameters
    ----------
    result : LinkedMLEResult
        Fitted, with coefficients named ``"<up>:<term>"`` and ``"<down>:<term>"``.
    design : Design
        The covariate design (terms, units, labels).
    up, down : str
        Parameters raising and lowering the mean (BG/NBD ``"a"``, ``"b"``; sBG ``"alpha"``, ``"beta"``).
    n : int
        Customers fitted; ``events`` the number who dropped out or churned, when known.

    Returns
    -------
    pandas.DataFrame
        term, unit, label, log_odds, std_error, odds_ratio, ci_low, ci_high, p_value, n
        (and events).
    """
    names = list(result.names)
    theta, cov = np.r_[result.log_params, 0.0], np.pad(result.cov_log, (0, 1))   # last: an unlinked 0
    at = {p: [names.index(f"{p}:{t.name}") if f"{p}:{t.name}" in names else -1 for t in design.terms]
          for p in (up, down)}
    u, v = at[up], at[down]
    diff = theta[u] - theta[v]
    se = np.sqrt(np.clip(np.diag(cov)[u] + np.diag(cov)[v] - 2 * cov[u, v], 0.0, None))
    lo, hi = normal_interval(diff, se, CONFIDENCE)
    out = pd.DataFrame({
        "term": [t.name for t in design.terms], "unit": [t.unit for t in design.terms],
        "label": term_labels(design), "log_odds": diff, "std_error": se, "odds_ratio": np.exp(diff),
        "ci_low": np.exp(lo), "ci_high": np.exp(hi), "p_value": two_sample_z(diff, se)[1], "n": n})
    if events is not None:
        out["events"] = events
    return out


def term_labels(design: Design) -> list[str]:
    """Each covariate term in plain words (:func:`slm_lib.wording.term_label`)."""
    return [term_label(t.source, "" if t.level is not None else t.unit, t.level, t.reference) for t in design.terms]


def linked_names(params: Sequence[str], linked: Sequence[str],
                 design: Design) -> tuple[list[str], list[bool], list[str]]:
    """Names, log-scale flags and labels of ``theta``: each parameter, followed by its coefficients if linked.

    Examples
    --------
    >>> d = covariate_design(pd.DataFrame({"x": [0.0, 1.0, 3.0]}), ["x"], 3)
    >>> linked_names(["r", "a"], ["a"], d)[0]
    ['r', 'a', 'a:x']
    """
    labels = term_labels(design)
    names, logs, words = [], [], []
    for p in params:
        more = p in linked
        names += [p] + ([f"{p}:{t.name}" for t in design.terms] if more else [])
        logs += [True] + [False] * (len(design.terms) if more else 0)
        words += [f"{p} at the reference customer" if more else p] + ([f"{p}: {w}" for w in labels] if more else [])
    return names, logs, words


def as_theta(values: Mapping[str, float], params: Sequence[str], linked: Sequence[str], k: int) -> np.ndarray:
    """Starting ``theta`` in :func:`linked_names` order: logs of the starting values, coefficients 0."""
    return np.concatenate([np.r_[np.log(values[p]), np.zeros(k if p in linked else 0)] for p in params])


def param_designs(dz: np.ndarray, params: Sequence[str], linked: Sequence[str]) -> list[np.ndarray]:
    """Design of each parameter: ``dz`` (ones then covariates) if linked, else its column of ones."""
    return [dz if p in linked else dz[:, :1] for p in params]


def row_values(theta: np.ndarray, designs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each parameter per row, ``exp(D_j theta_j)``, from ``theta`` in :func:`linked_names` order.

    Examples
    --------
    >>> dz = np.column_stack([np.ones(2), [0.0, 1.0]])
    >>> [np.round(v, 3).tolist() for v in row_values(np.array([0.0, 0.0, 0.5]), [dz[:, :1], dz])]
    [[1.0, 1.0], [1.0, 1.649]]
    """
    ends = np.cumsum([d.shape[1] for d in designs])
    return [np.exp(d @ theta[e - d.shape[1]:e]) for d, e in zip(designs, ends)]
