"""Readers and adapters for the public reference data sets used by the example notebooks.

Two public data sets let analysts see slm's functions work on data nobody here made
(``data_samples/public/README.md`` gives source and licence):

- **CDNOW** purchases (Fader & Hardie; redistributed in ``lifetimes`` 0.11.3):
  :func:`read_cdnow` gives one row per purchase line, ready for
  :func:`slm_lib.clv.rfm.rfm_summary` and :mod:`slm_lib.clv.holdout`.
- **IBM Telco customer churn** (7,043 customers): :func:`read_telco` gives a tidy customer
  frame with snake_case columns and real dtypes; :func:`telco_features` adapts it to the
  columns :func:`slm_lib.models.churn_model`, :func:`slm_lib.models.churn_hazard_model` and
  :func:`slm_lib.survival.survival_curves` take (``duration``, ``event``, ``churned`` and
  driver columns), so the same functions used on slm's own tables run unchanged.

Problems with a file (missing, empty, wrong layout, unparseable values) raise
:class:`~slm_lib.errors.DataValidationError` naming the file, the column, the number of rows
and example row numbers (1-based data rows, as in :class:`~slm_lib.errors.Problem`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import DataValidationError, Problem

__all__ = ["TELCO_SERVICES", "read_cdnow", "read_telco", "telco_features"]

#: Telco add-on service columns (after :func:`read_telco` renaming); each is "Yes", "No" or
#: "No internet service" (``multiple_lines``: "No phone service").
TELCO_SERVICES: tuple[str, ...] = ("multiple_lines", "online_security", "online_backup", "device_protection",
                                   "tech_support", "streaming_tv", "streaming_movies")

_TELCO_RENAME: dict[str, str] = {
    "customerID": "customer_id", "gender": "gender", "SeniorCitizen": "senior", "Partner": "partner",
    "Dependents": "dependents", "tenure": "tenure_months", "PhoneService": "phone_service",
    "MultipleLines": "multiple_lines", "InternetService": "internet_service", "OnlineSecurity": "online_security",
    "OnlineBackup": "online_backup", "DeviceProtection": "device_protection", "TechSupport": "tech_support",
    "StreamingTV": "streaming_tv", "StreamingMovies": "streaming_movies", "Contract": "contract",
    "PaperlessBilling": "paperless_billing", "PaymentMethod": "payment_method",
    "MonthlyCharges": "monthly_charges", "TotalCharges": "total_charges", "Churn": "churned",
}
_TELCO_SOURCE: dict[str, str] = {v: k for k, v in _TELCO_RENAME.items()}   # for messages naming file columns
_TELCO_YES_NO = ("partner", "dependents", "phone_service", "paperless_billing", "churned")
_CDNOW_COLUMNS = {5: ["customer_id", "sample_id", "date", "cds", "amount"],
                  4: ["customer_id", "date", "cds", "amount"]}


def _problem(file: Path, column: str, rule: str, mask: np.ndarray) -> Problem:
    rows = tuple(int(r) for r in np.flatnonzero(mask)[:5] + 1)
    return Problem(str(file), column, rule, int(mask.sum()), rows)


def _read_text(path: str | os.PathLike, **kwargs: Any) -> tuple[Path, pd.DataFrame]:
    file = Path(path)
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, **kwargs)
    except FileNotFoundError:
        raise DataValidationError(f"{file}: file not found") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{file}: unreadable ({exc})") from None
    if frame.empty:
        raise DataValidationError(f"{file}: no data rows")
    return file, frame


def read_cdnow(path: str | os.PathLike) -> pd.DataFrame:
    """Read CDNOW purchase lines (whitespace-separated text) into a transactions frame.

    Both layouts of the public files are recognised: the 1/10 sample (``CDNOW_sample.txt``,
    no header; customer id, id within the sample, date, CDs, dollars) and the master file
    (``CDNOW_master.txt``, a header line; customer id, date, CDs, dollars).

    Parameters
    ----------
    path : str or path-like
        The text file.

    Returns
    -------
    pandas.DataFrame
        One row per purchase line, file order: ``customer_id`` (str, the master-file id,
        zero-padded as in the file, so ids agree between the two files), ``date`` (naive
        datetime64, the purchase day), ``cds`` (int64), ``amount`` (float64, dollars). The
        sample layout adds ``sample_id`` (str, 1..2357, the ``ID`` of the published
        calibration summaries).

    Raises
    ------
    DataValidationError
        Missing or empty file, a column count other than 4 or 5, unparseable dates or
        numbers; the message names the file, column, row count and example rows.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "cdnow.txt"
    ...     _ = p.write_text(" 00004 0001 19970101  2   29.33\\n 00004 0001 19970118  2   29.73\\n")
    ...     tx = read_cdnow(p)
    >>> tx[["customer_id", "cds", "amount"]].values.tolist()
    [['00004', 2, 29.33], ['00004', 2, 29.73]]
    >>> str(tx["date"].iloc[1].date())
    '1997-01-18'
    """
    file, raw = _read_text(path, sep=r"\s+", header=None)
    if raw.shape[1] not in _CDNOW_COLUMNS:
        raise DataValidationError(f"{file}: expected 5 columns (sample layout) or 4 (master layout), "
                                  f"found {raw.shape[1]}")
    raw.columns = _CDNOW_COLUMNS[raw.shape[1]]
    if raw.shape[1] == 4 and not raw["date"].iloc[0].isdigit():    # master file: header line
        raw = raw.iloc[1:].reset_index(drop=True)
    date = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    cds = pd.to_numeric(raw["cds"], errors="coerce")
    amount = pd.to_numeric(raw["amount"], errors="coerce")
    checks = [("date", date.isna().to_numpy(), "not a YYYYMMDD date"),
              ("cds", (cds.isna() | (cds < 0) | (cds != cds.round())).to_numpy(), "not a whole number >= 0"),
              ("amount", amount.isna().to_numpy(), "not a number")]
    problems = [_problem(file, col, rule, mask) for col, mask, rule in checks if mask.any()]
    if problems:
        raise DataValidationError(problems)
    out = pd.DataFrame({"customer_id": raw["customer_id"], "date": date,
                        "cds": cds.astype("int64"), "amount": amount.astype("float64")})
    if "sample_id" in raw:
        out.insert(1, "sample_id", raw["sample_id"])
    return out


def read_telco(path: str | os.PathLike) -> pd.DataFrame:
    """Read the IBM Telco customer-churn CSV into a tidy customer frame.

    Parameters
    ----------
    path : str or path-like
        ``telco_customer_churn.csv`` (IBM sample, 21 columns, one row per customer).

    Returns
    -------
    pandas.DataFrame
        One row per customer with snake_case columns: ``customer_id`` (str), ``gender``,
        ``senior`` (bool), ``partner``, ``dependents``, ``phone_service``,
        ``paperless_billing`` and ``churned`` (bool), ``tenure_months`` (int64, whole
        months as a customer), the service columns of :data:`TELCO_SERVICES` and
        ``internet_service``, ``contract``, ``payment_method`` (str, labels as in the file),
        ``monthly_charges`` and ``total_charges`` (float64, dollars).

        ``total_charges`` is blank in the file for the customers with ``tenure_months == 0``
        (11 in the public file: signed up, not billed yet); they are kept, with NaN.

    Raises
    ------
    DataValidationError
        Missing file or columns, duplicate customer ids, values that are not numbers,
        yes/no flags with other values, or a blank ``total_charges`` for a customer with
        tenure > 0.

    Examples
    --------
    >>> import tempfile
    >>> header = ",".join(_TELCO_RENAME)
    >>> row = "7590-VHVEG,Female,0,Yes,No,0,No,No phone service,DSL,No,Yes,No,No,No,No,Month-to-month,Yes,"
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "telco.csv"
    ...     _ = p.write_text(header + "\\n" + row + "Electronic check,29.85, ,No\\n")
    ...     t = read_telco(p)
    >>> t[["tenure_months", "churned", "senior"]].values.tolist()
    [[0, False, False]]
    >>> bool(t["total_charges"].isna().iloc[0])
    True
    """
    file, raw = _read_text(path, encoding="utf-8-sig")
    missing = [c for c in _TELCO_RENAME if c not in raw.columns]
    if missing:
        raise DataValidationError(f"{file}: column(s) {missing} not found; columns: {list(raw.columns)}")
    frame = raw[list(_TELCO_RENAME)].rename(columns=_TELCO_RENAME).apply(lambda s: s.str.strip())
    problems: list[Problem] = []
    dup = frame["customer_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(_problem(file, "customerID", "duplicate customer id", dup))
    numbers = {}
    for col, whole in (("senior", True), ("tenure_months", True), ("monthly_charges", False),
                       ("total_charges", False)):
        numbers[col] = pd.to_numeric(frame[col].replace("", np.nan), errors="coerce")
        bad = (numbers[col].isna() & frame[col].ne("")) | (numbers[col] < 0)
        if col != "total_charges":            # the only column allowed to be blank (checked below)
            bad |= numbers[col].isna()
        if whole:
            bad |= numbers[col] != numbers[col].round()
        if bad.any():
            rule = "not a whole number >= 0" if whole else "not a number >= 0"
            problems.append(_problem(file, _TELCO_SOURCE[col], rule, bad.to_numpy()))
    unbilled = (numbers["total_charges"].isna() & frame["total_charges"].eq("") & numbers["tenure_months"].gt(0))
    if unbilled.any():
        problems.append(_problem(file, "TotalCharges", "blank although tenure > 0", unbilled.to_numpy()))
    flags = {"senior": numbers["senior"].isin([0, 1]),
             **{col: frame[col].isin(["Yes", "No"]) for col in _TELCO_YES_NO}}
    for col, ok in flags.items():
        if not ok.all():
            problems.append(_problem(file, _TELCO_SOURCE[col], "must be Yes/No (SeniorCitizen 0/1)",
                                     (~ok).to_numpy()))
    if problems:
        raise DataValidationError(problems)
    out = frame.assign(**{col: frame[col].eq("Yes") for col in _TELCO_YES_NO})
    return out.assign(senior=numbers["senior"].eq(1), tenure_months=numbers["tenure_months"].astype("int64"),
                      monthly_charges=numbers["monthly_charges"].astype("float64"),
                      total_charges=numbers["total_charges"].astype("float64"))


def telco_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Adapt :func:`read_telco` output to the columns of slm's churn and survival functions.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`read_telco`.

    Returns
    -------
    pandas.DataFrame
        One row per customer (same order), columns:

        - ``customer_id``;
        - ``churned`` (bool; the outcome of :func:`slm_lib.models.churn_model`);
        - ``duration`` (tenure in months) and ``event`` (1 = churned, 0 = still a customer,
          censored), as :func:`slm_lib.survival.survival_curves` and
          :func:`slm_lib.models.churn_hazard_model` (``duration="duration"``) take them;
        - ``tenure_years`` (tenure / 12, a control for the Logit);
        - drivers: ``contract``, ``internet_service``, ``payment_method`` (str, labels of the
          file), ``monthly_charges`` (dollars), and the add-on services of
          :data:`TELCO_SERVICES` plus ``senior``, ``partner``, ``dependents``,
          ``paperless_billing`` as ``"yes"``/``"no"`` (str).

        A service is ``"yes"`` only when the customer has it: "No internet service" and
        "No phone service" become ``"no"``. Keeping them as a third level would duplicate
        ``internet_service == "No"`` (and ``phone_service``) and make any model with both
        columns singular; with yes/no, an add-on's effect is estimated beside
        ``internet_service``.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a", "b"], "tenure_months": [12, 0], "churned": [True, False],
    ...                   "contract": ["Month-to-month", "Two year"], "internet_service": ["DSL", "No"],
    ...                   "payment_method": ["Mailed check", "Mailed check"], "monthly_charges": [50.0, 20.0],
    ...                   "tech_support": ["Yes", "No internet service"], "senior": [False, True]})
    >>> f = telco_features(t)
    >>> f[["duration", "event", "tech_support", "senior"]].values.tolist()
    [[12.0, 1, 'yes', 'no'], [0.0, 0, 'no', 'yes']]
    """
    need = ["customer_id", "tenure_months", "churned"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataValidationError(f"telco_features: column(s) {missing} not in the frame; "
                                  f"pass the output of read_telco (columns: {list(frame.columns)})")
    churned = frame["churned"].astype(bool)
    out = pd.DataFrame({"customer_id": frame["customer_id"], "churned": churned,
                        "duration": frame["tenure_months"].astype("float64"), "event": churned.astype("int64"),
                        "tenure_years": frame["tenure_months"] / 12.0}, index=frame.index)
    for col in ("contract", "internet_service", "payment_method", "monthly_charges"):
        if col in frame.columns:
            out[col] = frame[col]
    yes_no = [c for c in (*TELCO_SERVICES, "senior", "partner", "dependents", "paperless_billing")
              if c in frame.columns]
    for col in yes_no:
        has = frame[col].eq("Yes") if frame[col].dtype != bool else frame[col]
        out[col] = np.where(has, "yes", "no")
    return out
