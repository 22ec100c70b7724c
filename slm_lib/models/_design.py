"""Shared machinery of the models: design matrices with stated units, fit checks, tidy tables.

A driver is either numeric, entered per stated unit (``units={"median_frt_h": 10}`` divides
the column by 10 so its coefficient is "per +10 h"; ``"sd"`` standardises it), or categorical
(str / category / bool), entered by treatment coding against a stated reference level
(``last_nps_category`` -> ``promoter``; otherwise the most frequent level).
"""
from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import (ConvergenceWarning, HessianInversionWarning,
                                             PerfectSeparationError, PerfectSeparationWarning)

from slm_lib.errors import ConfigError, ModelFitError
from slm_lib.stats import holm_adjusted, z_critical
from slm_lib.wording import feature_label, format_p, interval_texts, outcome_label, term_label

#: Reference level of known categorical features (treatment coding).
DEFAULT_REFERENCES: dict[str, str] = {"last_nps_category": "promoter", "segment": "smb"}

Z = z_critical()


@dataclass
class Term:
    """One design column: where it comes from and what one unit of it means."""

    name: str          # column name in the design (e.g. "median_frt_h", "segment[mid]")
    source: str        # feature column
    role: str          # "driver" or "control"
    unit: str          # e.g. "+10 h", "detractor vs promoter", "+1 SD (12.3)"
    level: str | None = None
    reference: str | None = None  # the reference level of a categorical term
    scale: float = 1.0  # a numeric term's column is the feature divided by this (its stated unit)


@dataclass
class Design:
    """Outcome, design matrix (with ``const``) and bookkeeping of dropped rows."""

    y: pd.Series
    X: pd.DataFrame
    terms: list[Term]
    n_dropped: int
    dropped_by: dict[str, int]
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class ModelResult:
    """A fitted model: the tidy ``table`` (also ``.summary``), the statsmodels ``result`` and notes.

    In JupyterLab a result shows itself as its :meth:`readable` driver table under a
    :attr:`caption` (model, outcome, ``n``, events, controls).

    ``table`` holds one row per driver/control term with ``term, role, unit, label, estimate,
    std_error, ci_low, ci_high, p_value, effect, effect_ci_low, effect_ci_high, effect_type,
    n, events`` (plus model-specific columns such as ``ame_pp``); ``label`` is the term in
    plain words (:func:`slm_lib.wording.term_label`). ``n_dropped`` rows had a
    missing value in a model column (``dropped_by`` counts them per column).
    """

    table: pd.DataFrame
    result: object
    kind: str
    outcome: str
    n: int
    n_dropped: int
    dropped_by: dict[str, int]
    _sentence: Callable[[pd.Series], str] | None = None
    design: Design | None = None  # the fitted design, to encode new rows (:func:`design_rows`)

    def _rows(self, role: str, terms: str | None) -> pd.DataFrame:
        rows = self.table if role == "all" else self.table.loc[self.table["role"] == role]
        return rows if terms is None else rows.loc[rows["term"].str.startswith(terms)]

    def sentences(self, role: str = "driver", terms: str | None = None) -> list[str]:
        """One plain-words sentence per term of ``role`` (``"driver"``, ``"control"`` or ``"all"``).

        ``terms`` keeps the terms whose name starts with it (e.g. ``"theme_"``).
        """
        return [self._sentence(r) for _, r in self._rows(role, terms).iterrows()] if self._sentence else []

    def readable(self, role: str = "driver", terms: str | None = None, adjust: bool = False) -> pd.DataFrame:
        """The table as a reader sees it: one row per term, the effect in business units and its interval.

        Indexed by the term's label (:func:`slm_lib.wording.term_label`, as the forest plot
        and the sentences: "median first response (per +10 h)", "last NPS answer: detractor
        (vs promoter)", with the lag for lagged models). Columns: the effect (its type in the
        header, e.g. "odds ratio"), ``95% CI``, ``p``, ``n`` (rows fitted), ``events``
        (churned customers, for churn models) and, for Logit, the average marginal effect in
        percentage points. Numbers are rounded to what their interval supports.

        ``terms`` keeps the terms whose name starts with it; ``adjust=True`` adds ``p (Holm)``,
        the p-values adjusted for testing the shown terms together (Holm), to judge a family
        of terms such as one share per comment theme.
        """
        rows = self._rows(role, terms)
        kind = rows["effect_type"].iloc[0] if len(rows) else "effect"
        effect, ci = interval_texts(rows["effect"], rows["effect_ci_low"], rows["effect_ci_high"], "ratio" not in kind)
        out = pd.DataFrame({"term": rows["label"].to_numpy(), kind: effect, "95% CI": ci,
                            "p": [format_p(p, bare=True) for p in rows["p_value"]]})
        out["n"] = [f"{v:,}" for v in rows["n"]]
        if "events" in rows:
            out["events"] = [f"{v:,}" for v in rows["events"]]
        if "ame_pp" in rows:
            ame, ame_ci = interval_texts(rows["ame_pp"], rows["ame_ci_low"], rows["ame_ci_high"], True)
            out["churn probability (pp)"] = [f"{v} ({c})" for v, c in zip(ame, ame_ci)]
        if adjust:
            out.insert(out.columns.get_loc("p") + 1, "p (Holm)",
                       [format_p(p, bare=True) for p in holm_adjusted(rows["p_value"].to_numpy(np.float64))])
        return out.set_index("term")

    @property
    def summary(self) -> pd.DataFrame:
        """The tidy parameter table (a copy of ``table``), under the name every slm model shares.

        CLV models (``BetaGeoModel``, ``GammaGammaModel``, ``ShiftedBetaGeoModel``) expose
        their parameters as ``.summary`` too: ``estimate, std_error, ci_low, ci_high`` and more.
        """
        return self.table.copy()

    @property
    def caption(self) -> str:
        """One line naming the model, its outcome, ``n``, events, controls and rows left out."""
        words = outcome_label(self.outcome)[0]
        events = ""
        if "events" in self.table and len(self.table):
            events = f", {int(self.table['events'].iloc[0]):,} {'churned' if words == 'churn' else 'events'}"
        controls = self.table.loc[self.table["role"] == "control", "term"].str.replace(r"\[.*\]$", "", regex=True)
        adjusted = ", ".join(dict.fromkeys(feature_label(c)[0] for c in controls))
        return (f"{MODEL_WORDS.get(self.kind, self.kind)} of {words}: n = {self.n:,}{events}; drivers below"
                + (f", adjusted for {adjusted}" if adjusted else "")
                + (f"; {self.n_dropped:,} rows left out" if self.n_dropped else "") + ".")

    def _repr_html_(self) -> str:
        """The readable driver table with :attr:`caption` (JupyterLab shows a result this way)."""
        table = self.readable().to_html()  # escapes labels and levels; no random ids
        return table.replace(">", f">\n<caption>{html.escape(self.caption)}</caption>", 1)

    def __repr__(self) -> str:
        return (f"ModelResult({self.kind}, outcome={self.outcome!r}, n={self.n:,}, "
                f"dropped={self.n_dropped:,}, terms={len(self.table)})")


#: The model behind each ``ModelResult.kind``, for captions.
MODEL_WORDS: dict[str, str] = {
    "logit": "Logistic regression", "cox": "Cox proportional-hazards model", "gamma": "Gamma GLM (log link)",
    "log_ols": "OLS of the log (HC3 errors)", "ols": "OLS (HC3 errors)", "ols_hac": "Distributed-lag OLS (HAC errors)",
}


def _fmt(x: float) -> str:
    return f"{x:g}"


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def build_design(features: pd.DataFrame, drivers: Iterable[str], controls: Iterable[str], outcome: str | None,
                 units: Mapping[str, float | str] | None = None, references: Mapping[str, str] | None = None,
                 extra: Iterable[str] = (), intercept: bool = True, binary_outcome: bool = False) -> Design:
    """Select, clean and encode the model columns.

    Rows with a missing value in any used column are dropped and counted. Raises
    :class:`ConfigError` for unknown columns and :class:`ModelFitError` for a driver or control
    that is constant (or has a single level) after dropping, and for an outcome that is not
    numeric (not 0/1 or bool when ``binary_outcome``).
    """
    drivers, controls, extra = list(drivers), list(controls), list(extra)
    if not drivers:
        raise ConfigError("model: give at least one driver")
    both = set(drivers) & set(controls)
    if both:
        raise ConfigError(f"model: {sorted(both)} given both as driver and control")
    units = dict(units or {})
    refs = {**DEFAULT_REFERENCES, **(references or {})}
    used = drivers + controls + ([outcome] if outcome else []) + extra
    missing = [c for c in used if c not in features.columns]
    if missing:
        raise ConfigError(f"model: column(s) {missing} not in the features (columns: {list(features.columns)})")
    unknown_units = set(units) - set(drivers) - set(controls)
    if unknown_units:
        raise ConfigError(f"model: units given for {sorted(unknown_units)}, which are not drivers or controls")

    data = features[list(dict.fromkeys(used))]
    na = data.isna()
    dropped_by = {c: int(v) for c, v in na.sum().items() if v}
    keep = ~na.any(axis=1)
    data = data.loc[keep]

    cols: dict[str, np.ndarray] = {"const": np.ones(len(data))} if intercept else {}
    terms: list[Term] = []
    for col in drivers + controls:
        role = "driver" if col in drivers else "control"
        s = data[col]
        if _is_categorical(s):
            s = s.astype(str)
            levels = s.value_counts()
            if len(levels) < 2:
                raise ModelFitError(f"model: {role} '{col}' has a single level {list(levels.index)} "
                                    f"in the {len(s):,} usable rows; it cannot be estimated")
            ref = refs.get(col)
            if ref not in levels.index:
                ref = str(levels.index[0])
            for lev in sorted(levels.index.drop(ref)):
                name = f"{col}[{lev}]"
                cols[name] = (s == lev).to_numpy(float)
                terms.append(Term(name, col, role, f"{lev} vs {ref}", lev, ref))
            continue
        x = s.to_numpy(float)
        sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
        if not sd > 0:
            raise ModelFitError(f"model: {role} '{col}' is constant ({x[0] if len(x) else 'no rows'}) "
                                f"in the {len(x):,} usable rows; it cannot be estimated")
        u = units.get(col, 1.0)
        sym = feature_label(col)[1]
        if u == "sd":
            cols[col] = x / sd
            terms.append(Term(col, col, role, f"+1 SD ({_fmt(round(sd, 4))}{sym})", scale=sd))
        else:
            if not (isinstance(u, (int, float)) and u > 0):
                raise ConfigError(f"model: unit of '{col}' must be a positive number or 'sd', got {u!r}")
            cols[col] = x / float(u)
            one = float(u) == 1.0 and sym.endswith("s")  # "+1 point", "+1 ticket", but "+10 points"
            terms.append(Term(col, col, role, f"+{_fmt(float(u))}{sym[:-1] if one else sym}", scale=float(u)))
    X = pd.DataFrame(cols, index=data.index)
    check_rank(X)
    y = model_values(data[outcome], "outcome", "model", binary_outcome) if outcome else pd.Series(dtype=float)
    return Design(y, X, terms, int((~keep).sum()), dropped_by, data[extra])


def design_rows(design: Design, frame: pd.DataFrame) -> pd.DataFrame:
    """The fitted design's columns for new rows of features (the same units and dummy coding).

    A numeric term is its feature divided by the term's ``scale``; a level term is 1 where the
    feature equals the level. A row with a missing feature, or a level the model never saw,
    is NaN in that feature's columns (it cannot be scored). ``const`` is 1 when the design has one.

    Raises :class:`ConfigError` naming the feature columns ``frame`` lacks.

    Examples
    --------
    >>> d = build_design(pd.DataFrame({"median_frt_h": [1.0, 30.0, 8.0], "y": [0, 1, 0],
    ...                  "last_nps_category": ["promoter", "detractor", "promoter"]}),
    ...                  ["median_frt_h", "last_nps_category"], (), "y", units={"median_frt_h": 10})
    >>> design_rows(d, pd.DataFrame({"median_frt_h": [20.0], "last_nps_category": ["detractor"]})).values.tolist()
    [[1.0, 2.0, 1.0]]
    """
    sources = list(dict.fromkeys(t.source for t in design.terms))
    missing = [c for c in sources if c not in frame.columns]
    if missing:
        raise ConfigError(f"model: new rows lack column(s) {missing} of the fitted model")
    cols: dict[str, np.ndarray] = {"const": np.ones(len(frame))} if "const" in design.X.columns else {}
    levels = {t.source: {u.level for u in design.terms if u.source == t.source} | {t.reference}
              for t in design.terms if t.level is not None}
    for t in design.terms:
        s = frame[t.source]
        if t.level is None:
            cols[t.name] = pd.to_numeric(s, errors="coerce").to_numpy(float) / t.scale
        else:
            text = s.astype(str)
            known = s.notna() & text.isin(levels[t.source])
            cols[t.name] = np.where(known, (text == t.level).to_numpy(float), np.nan)
    return pd.DataFrame(cols, index=frame.index)[list(design.X.columns)]


def reference_row(design: Design) -> pd.Series:
    """The reference profile in design units: numeric terms at their mean in the fitted rows, levels at 0.

    Examples
    --------
    >>> d = build_design(pd.DataFrame({"x": [1.0, 3.0, 8.0], "g": ["a", "b", "a"], "y": [0, 1, 0]}), ["x", "g"], (), "y")
    >>> reference_row(d).to_dict()
    {'const': 1.0, 'x': 4.0, 'g[b]': 0.0}
    """
    numeric = {t.name for t in design.terms if t.level is None}
    return pd.Series({c: float(design.X[c].mean()) if c in numeric or c == "const" else 0.0 for c in design.X.columns})


def model_values(values: pd.Series, role: str, what: str, binary: bool = False) -> pd.Series:
    """A model column as floats: numbers (bool as 0/1), or only 0/1 and bool when ``binary``.

    Raises :class:`ModelFitError` naming the column, how many rows hold other values and
    (up to three of) those values.

    Examples
    --------
    >>> model_values(pd.Series([True, False], name="churned"), "outcome", "churn_model", binary=True).tolist()
    [1.0, 0.0]
    >>> model_values(pd.Series(["yes", "no", "1"], name="churned"), "outcome", "m")
    Traceback (most recent call last):
    ...
    slm_lib.errors.ModelFitError: m: outcome 'churned' must be numeric; 2 of 3 rows hold other values ('no', 'yes')
    """
    numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    number = values.astype(float) if numeric else pd.to_numeric(values, errors="coerce").astype(float)
    bad = number.isna() & values.notna()
    if binary:
        bad |= number.notna() & ~number.isin([0.0, 1.0])
    if bad.any():
        shown = ", ".join(sorted({repr(v) if isinstance(v, str) else str(v) for v in values[bad].unique()})[:3])
        raise ModelFitError(f"{what}: {role} '{values.name}' must be {'0/1 or bool' if binary else 'numeric'}; "
                            f"{int(bad.sum()):,} of {len(values):,} rows hold other values ({shown})")
    return number


def check_rank(X: pd.DataFrame) -> None:
    """Raise :class:`ModelFitError` naming the first design column that is a linear combination of earlier ones."""
    arr = X.to_numpy(float)
    if np.linalg.matrix_rank(arr) == arr.shape[1]:
        return
    for j in range(1, arr.shape[1] + 1):  # one rank check per column, not per row
        if np.linalg.matrix_rank(arr[:, :j]) < j:
            raise ModelFitError(f"model: singular design: term '{X.columns[j - 1]}' is a linear combination "
                                f"of {list(X.columns[:j - 1])}; drop it or one of those")


def check_events(events: int, n_terms: int, min_events_per_term: float, what: str) -> None:
    """Raise :class:`ModelFitError` when there are fewer than ``min_events_per_term`` events per term."""
    if events < min_events_per_term * n_terms:
        raise ModelFitError(f"{what}: too few events: {events} for {n_terms} term(s); need at least "
                            f"{min_events_per_term:g} per term ({min_events_per_term * n_terms:g})")


def check_separation(design: Design, what: str, numeric: bool = True) -> None:
    """Raise :class:`ModelFitError` when a term separates a binary outcome (perfectly or quasi-perfectly).

    Numeric terms (when ``numeric``): all events lie above (or below) all non-events. 0/1 terms:
    every row with the term equal to 1 has the same outcome.
    """
    X = design.X.drop(columns="const", errors="ignore")
    y = design.y.to_numpy(bool)
    lo1, hi1 = X[y].min(), X[y].max()
    lo0, hi0 = X[~y].min(), X[~y].max()
    binary = X.isin([0.0, 1.0]).all()
    numeric_sep = ~binary & ((hi0 < lo1) | (hi1 < lo0)) & numeric
    ones = X.eq(1.0)
    ones_y = ones[y].sum()
    ones_all = ones.sum()
    dummy_sep = binary & (ones_all > 0) & ((ones_y == 0) | (ones_y == ones_all))
    bad = X.columns[(numeric_sep | dummy_sep).to_numpy()]
    if len(bad):
        term = bad[0]
        if dummy_sep[term]:
            detail = f"all {int(ones_all[term])} rows with {term}=1 have {design.y.name}={int(ones_y[term] > 0)}"
        else:
            detail = f"'{term}' perfectly separates {design.y.name}=1 from {design.y.name}=0"
        raise ModelFitError(f"{what}: perfect separation by driver '{term}': {detail}; "
                            "its effect is not estimable (merge levels or drop it)")


def fit_checked(fit: Callable[[], object], what: str, design: Design) -> object:
    """Run a statsmodels fit, turning separation and non-convergence into :class:`ModelFitError`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fit()
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError) as err:  # ValueError: e.g. no covariance
            raise ModelFitError(f"{what}: fit failed ({err}); terms {list(design.X.columns)}") from err
    kinds = {type(w.message) for w in caught}
    if PerfectSeparationWarning in kinds:
        params = getattr(res, "params", pd.Series(dtype=float)).drop("const", errors="ignore")
        worst = params.abs().idxmax() if len(params) else "?"
        raise ModelFitError(f"{what}: perfect separation detected while fitting; largest coefficient on '{worst}'")
    retvals = getattr(res, "mle_retvals", None) or {}
    if retvals.get("converged") is False or ConvergenceWarning in kinds:
        raise ModelFitError(f"{what}: the fit did not converge (terms {list(design.X.columns)}); "
                            "check for separation, extreme values or too many terms")
    if HessianInversionWarning in kinds:
        raise ModelFitError(f"{what}: the information matrix is singular (terms {list(design.X.columns)})")
    return res


def coef_table(res: object, design: Design, names: list[str] | None = None) -> pd.DataFrame:
    """Tidy rows term, role, unit, label, estimate, std_error, ci_low, ci_high, p_value for the design terms."""
    params = pd.Series(np.asarray(res.params), index=getattr(res.params, "index", design.X.columns))
    bse = pd.Series(np.asarray(res.bse), index=params.index)
    pv = pd.Series(np.asarray(res.pvalues), index=params.index)
    terms = [t for t in design.terms if names is None or t.name in names]
    idx = [t.name for t in terms]
    est, se = params[idx].to_numpy(), bse[idx].to_numpy()
    return pd.DataFrame({
        "term": idx, "role": [t.role for t in terms], "unit": [t.unit for t in terms],
        "label": [term_label(t.source, "" if t.level is not None else t.unit, t.level, t.reference) for t in terms],
        "estimate": est, "std_error": se, "ci_low": est - Z * se, "ci_high": est + Z * se,
        "p_value": pv[idx].to_numpy(),
    })


def change_in(outcome: str) -> str:
    """The effect type of a model whose effect is a change of ``outcome`` in its own units.

    Examples
    --------
    >>> change_in("churn_rate"), change_in("historical_clv")
    ('change in the monthly churn rate (pp)', 'change in historical CLV')
    """
    words, unit = outcome_label(outcome)
    return f"change in {words}" + (f" ({unit})" if unit else "")


def describe_term(row: pd.Series, terms: list[Term]) -> str:
    """The subject of a term's sentence: "Each +10 h of median first response", "Segment mid (vs smb)"."""
    term = next(t for t in terms if t.name == row["term"])
    words = feature_label(term.source)[0]
    if term.level is not None:
        return f"{words[:1].upper()}{words[1:]} {term.level} (vs {term.reference})"
    return f"Each {term.unit} of {words}"
