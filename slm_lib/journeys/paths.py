"""Paths before churn: the last touchpoints of customers who left, against retained customers of the same tenure.

**Touchpoints** of a customer: each ticket (``ticket:<channel>`` at ``created_at``), each
NPS answer (``survey:promoter|passive|detractor``), each CSAT answer (``survey:csat_good``
for top-2-box on the data set's scale, else ``survey:csat_bad``; CES answers are left
out), each payment (``payment``; a negative amount is ``refund``). At the same instant
they go ticket, survey, payment.

**Reference date and groups.** Churned customers (``churned_at`` by ``as_of``) are seen at
their churn. Retained customers (not churned by ``as_of``) get a *matched* reference date,
so that both groups are seen at the same tenures: each retained customer, in customer_id
order, draws (seeded) one tenure from the churned customers' tenures at churn among those
that put its reference date in the observed data, and is seen at ``signup_at + tenure``.
Observed means the whole window lies in the data: the reference is no later than
``as_of`` and at least ``window_days`` after the first touchpoint on record (customers
often signed up long before the help desk and billing exports begin; a window before
that would look empty). Churned customers whose churn is earlier, and retained ones
with no such tenure, are left out. The retained tenures therefore follow the churned
ones where the data can show them (``.churned`` and ``.retained`` count who was kept).

**Paths.** The last ``length`` touchpoints in the ``window_days`` before the reference
(``(reference - window_days, reference]``), oldest first, joined by ``" > "``; a customer
with fewer has a shorter path, one with none the path ``"(none)"``. Per path: customers in
each group, their share of the group, ``lift = share_churned / share_retained`` with a 95%
Katz log interval (:func:`slm_lib.stats.risk_ratio_interval`), ``small_n`` when fewer than
``min_n`` customers of both groups together have the path. Deterministic for a ``seed``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N, NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, csat_cutoffs
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.keys import lookup_positions
from slm_lib.periods import NAT_NS, epoch_ns, utc_instant
from slm_lib.stats import risk_ratio_interval

PATH_COLUMNS: tuple[str, ...] = ("path", "n_churned", "share_churned", "n_retained", "share_retained", "lift",
                                 "ci_low", "ci_high", "small_n")
NO_TOUCHPOINTS = "(none)"
#: The kinds of touchpoint (module docstring).
TOUCHPOINT_KINDS: tuple[str, ...] = ("ticket", "survey", "payment")
_NS_PER_DAY = 86_400 * 10**9
_SEP = " > "


@dataclass(frozen=True)
class PathsBeforeChurn:
    """Result of :func:`paths_before_churn` (module docstring).

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`PATH_COLUMNS`, most frequent paths (both groups together) first.
    churned, retained : int
        Customers in each group.
    window_days : float
    length : int
    """

    table: pd.DataFrame
    churned: int
    retained: int
    window_days: float
    length: int


def _touchpoints(ds: Any, customer_ids: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Every touchpoint: customer position in ``customer_ids``, instant (ns), token code, and the token names."""
    t, s, r = ds.tickets, ds.surveys, ds.revenue
    names: list[str] = []
    parts = []

    def add(customer: pd.Series, at: pd.Series, labels: np.ndarray, keep: np.ndarray) -> None:
        codes, uniques = pd.factorize(pd.Series(labels[keep], dtype=object), sort=True)
        parts.append((lookup_positions(customer_ids, customer[keep]), epoch_ns(at[keep]),
                      codes.astype(np.int64) + len(names)))
        names.extend(uniques)

    channel = t["channel"].astype(object).where(t["channel"].notna(), "unknown").to_numpy(dtype=object)
    add(t["customer_id"], t["created_at"], "ticket:" + channel.astype(str), np.ones(len(t), bool))
    score = s["score"].to_numpy(dtype=np.float64)
    kind = s["type"].to_numpy(dtype=object)
    top2, _ = csat_cutoffs(ds.scales["csat"])
    label = np.select([(kind == "nps") & (score >= NPS_PROMOTER_MIN), (kind == "nps") & (score > NPS_DETRACTOR_MAX),
                       kind == "nps", (kind == "csat") & (score >= top2), kind == "csat"],
                      ["survey:promoter", "survey:passive", "survey:detractor", "survey:csat_good",
                       "survey:csat_bad"], "")
    add(s["customer_id"], s["submitted_at"], label, (label != "") & ~np.isnan(score))
    amount = r["amount"].to_numpy(dtype=np.float64)
    add(r["customer_id"], r["paid_at"], np.where(amount < 0, "refund", "payment").astype(object),
        np.ones(len(r), bool))
    customer, at, token = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return customer, at, token, names


def _matched_references(signup: np.ndarray, churned: np.ndarray, order: np.ndarray, earliest: int, end: int,
                        seed: int) -> np.ndarray:
    """Reference instants (module docstring): churn for churned customers, a matched tenure for retained ones.

    Only references in ``[earliest, end]`` are kept (``earliest`` = data start + window).
    """
    ok = signup != NAT_NS
    is_churned = ok & (churned != NAT_NS) & (churned <= end)
    ref = np.where(is_churned & (churned >= earliest), churned, NAT_NS)
    tenures = np.sort((ref - signup)[ref != NAT_NS])
    retained = order[(ok & ~is_churned)[order]]           # customer_id order: independent of row order
    low = np.searchsorted(tenures, earliest - signup[retained], side="left")
    high = np.searchsorted(tenures, end - signup[retained], side="right")
    draw = np.random.default_rng(seed).random(len(retained))
    pick = np.minimum(low + (draw * (high - low)).astype(np.int64), np.maximum(high - 1, 0))
    matched = high > low
    ref[retained[matched]] = signup[retained[matched]] + tenures[pick[matched]]
    return ref


def paths_before_churn(ds: Any, window_days: float = 90, length: int = 3, as_of: Any = None, seed: int = 0,
                       min_n: int = DEFAULT_MIN_N, kinds: Sequence[str] = TOUCHPOINT_KINDS) -> PathsBeforeChurn:
    """Most common last touchpoints before churn, against retained customers of the same tenure.

    Parameters
    ----------
    ds : Dataset
        Customers (``signup_at``, ``churned_at``), tickets, surveys, revenue.
    window_days : float
        Touchpoints in the days before the reference date count.
    length : int
        A path is the last ``length`` touchpoints.
    as_of : timestamp, optional
        Observation end (default ``ds.observation_end()``); later data are not read.
    seed : int
        Seed of the retained customers' matched tenures.
    min_n : int
        Paths held by fewer customers (both groups) are ``small_n``.
    kinds : sequence of str
        Touchpoints to use, of :data:`TOUCHPOINT_KINDS` (e.g. ``("ticket", "survey")``:
        service paths without the regular payments). The data start is still the first
        touchpoint of any kind.

    Returns
    -------
    PathsBeforeChurn
        ``.table`` (:data:`PATH_COLUMNS`, shares in %), ``.churned``, ``.retained``.

    Raises
    ------
    InsufficientDataError
        No churned customer by ``as_of`` (nothing to compare).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> c = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": at("2023-10-01", "2023-10-01"),
    ...                   "churned_at": at("2024-03-01", None)})
    >>> t = pd.DataFrame({"ticket_id": ["t0", "t1", "t2"], "customer_id": ["a", "a", "b"],
    ...                   "channel": ["web", "phone", "chat"], "created_at": at("2023-10-15", "2024-02-20", "2024-02-20")})
    >>> p = paths_before_churn(Dataset(customers=c, tickets=t, as_of="2024-06-01"), min_n=1)
    >>> p.table[["path", "n_churned", "n_retained"]].values.tolist()
    [['ticket:chat', 0, 1], ['ticket:phone', 1, 0]]
    """
    hook = getattr(ds, "engine_paths_before_churn", None)
    if hook is not None:
        return hook(window_days=window_days, length=length, as_of=as_of, seed=seed, min_n=min_n, kinds=kinds)
    if as_of is not None:
        ds = ds.until(utc_instant(as_of))
    end = ds.observation_end().value
    c = ds.customers
    signup, churned = epoch_ns(c["signup_at"]), epoch_ns(c["churned_at"])
    is_churned = churned_by(churned, end, kinds)
    window = int(round(window_days * _NS_PER_DAY))
    customer, at, token, names = _touchpoints(ds, c["customer_id"])
    known = at[at != NAT_NS]
    ref = reference_instants(c["customer_id"], signup, churned, is_churned, end,
                             int(known.min()) if len(known) else None, window, seed)
    cref = np.where(customer >= 0, ref[np.maximum(customer, 0)], NAT_NS)
    kind = np.array([TOUCHPOINT_KINDS.index(n.split(":")[0]) if ":" in n else 2 for n in names])
    wanted = np.isin(kind, [TOUCHPOINT_KINDS.index(k) for k in kinds])
    keep = wanted[token] & (cref != NAT_NS) & (at != NAT_NS) & (at <= cref) & (at > cref - window)
    kept = np.flatnonzero(keep)
    kept = kept[np.lexsort((kind[token[kept]], at[kept], customer[kept]))]
    cust, tok = customer[kept], token[kept]
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = cust[1:] != cust[:-1]
    end_pos = np.flatnonzero(last)
    from_end = end_pos[np.searchsorted(end_pos, np.arange(len(cust)))] - np.arange(len(cust))
    tail = from_end < length
    return path_table(cust[tail], from_end[tail], np.asarray(names, dtype=object)[tok[tail]], ref, is_churned,
                      window_days, length, min_n)


def churned_by(churned: np.ndarray, end: int, kinds: Sequence[str]) -> np.ndarray:
    """Which customers churned by ``end`` (int64 ns); raises when none did or ``kinds`` are unknown."""
    is_churned = (churned != NAT_NS) & (churned <= end)
    if not is_churned.any():
        raise InsufficientDataError("paths_before_churn: no customer churned by as_of, so there is nothing to compare")
    unknown = set(kinds) - set(TOUCHPOINT_KINDS)
    if unknown:
        raise ConfigError(f"paths_before_churn: unknown touchpoint kinds {sorted(unknown)}; "
                          f"choose from {list(TOUCHPOINT_KINDS)}")
    return is_churned


def reference_instants(customer_id: pd.Series, signup: np.ndarray, churned: np.ndarray, is_churned: np.ndarray,
                       end: int, first: int | None, window: int, seed: int) -> np.ndarray:
    """Per customer, the reference instant (int64 ns, :data:`NAT_NS`: not seen) of the module docstring.

    ``first``: the first touchpoint of any kind on record (None: none); ``window`` in ns.
    """
    earliest = (end if first is None else first) + window
    order = np.argsort(customer_id.astype(str).to_numpy(), kind="stable")
    ref = _matched_references(signup, churned, order, earliest, end, seed)
    if not (ref[is_churned] != NAT_NS).any():
        raise InsufficientDataError("paths_before_churn: no customer churned at least window_days after the first "
                                    "touchpoint on record, so no churn has a whole window of data before it")
    return ref


def path_table(customer: np.ndarray, from_end: np.ndarray, token: np.ndarray, ref: np.ndarray,
               is_churned: np.ndarray, window_days: float, length: int, min_n: int) -> PathsBeforeChurn:
    """:class:`PathsBeforeChurn` from each seen customer's last touchpoints (every engine's formula).

    ``customer`` (position in the customers), ``from_end`` (0: the latest) and ``token`` (its
    name) describe the touchpoints with ``from_end < length``; ``ref`` and ``is_churned``
    are per customer.
    """
    codes, names = pd.factorize(pd.Series(token, dtype=object))
    grid = np.full((len(ref), length), -1, dtype=np.int64)   # column length-1 = the latest touchpoint
    grid[customer, length - 1 - from_end] = codes
    seen = ref != NAT_NS
    path_codes, first = np.unique(grid[seen], axis=0, return_inverse=True)
    first = first.ravel()
    token_names = np.array([*names, ""], dtype=object)
    paths = [_SEP.join(token_names[row[row >= 0]]) or NO_TOUCHPOINTS for row in path_codes]
    group_churned = is_churned[seen]
    k = len(path_codes)
    n_c = np.bincount(first[group_churned], minlength=k)
    n_r = np.bincount(first[~group_churned], minlength=k)
    total_c, total_r = int(group_churned.sum()), int((~group_churned).sum())
    lift, low, high = risk_ratio_interval(n_c, total_c, n_r, total_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({"path": paths, "n_churned": n_c, "share_churned": 100.0 * n_c / total_c,
                              "n_retained": n_r, "share_retained": 100.0 * n_r / total_r if total_r else np.nan,
                              "lift": lift, "ci_low": low, "ci_high": high, "small_n": n_c + n_r < min_n})
    table = table.assign(_total=n_c + n_r).sort_values(["_total", "path"], ascending=[False, True], kind="stable")
    return PathsBeforeChurn(table=table.drop(columns="_total").reset_index(drop=True)[list(PATH_COLUMNS)],
                            churned=total_c, retained=total_r, window_days=float(window_days), length=int(length))
