"""What customers wrote, as features of :func:`slm_lib.features.customer_features`: comment sentiment and themes.

With ``text_features=True`` or ``themes=...``, ``customer_features`` adds, per customer and
``as_of``, over the customer's survey answers with a comment submitted in the lookback
window ``W = [as_of - lookback, as_of)``:

* ``comments``: how many there are (the n of the two below);
* ``mean_comment_sentiment``: mean :func:`slm_lib.voice.sentiment` score (-1..1) of their
  comments; NaN when none is scored (no comment, or only comments in a language without a
  scorer);
* ``theme_<name>_share``, one per theme: share (0-1) of those answers whose comment belongs
  to the theme; NaN without a comment. A comment with no theme word belongs to no theme and
  counts in every denominator, as in :func:`slm_lib.voice.comment_themes`.

Where the themes come from (``themes=``); none of them reads a comment from after ``as_of``:

* an ``int`` n (``text_features=True`` alone: :data:`DEFAULT_THEMES`): n themes fitted by
  ``comment_themes(n_themes=n, seed=0)`` on the survey comments submitted before the
  earliest ``as_of``, then each ``as_of``'s window comments put on them
  (:meth:`slm_lib.voice.CommentThemes.assign`, only the window's comments together);
* a :class:`~slm_lib.voice.CommentThemes` fitted by the caller (e.g. on an earlier export):
  assigned the same way; every survey comment of its fit that is in ``ds.surveys`` must
  have been submitted before the earliest ``as_of``, else :class:`ConfigError` (the fit
  would have seen the future);
* a function of a Series of texts returning a theme name per text (NaN: none), applied to
  each text on its own: a fixed rule such as a keyword map, or
  :func:`slm_lib.synth.comments.planted_themes` (the planted truth of synthetic data).

Names: fitted themes are named by their top term (:attr:`slm_lib.voice.CommentThemes.names`:
``theme_refund_share``, ``theme_agent_friendly_share`` when two themes share a top term);
a function's names as column words (:func:`slm_lib.wording.column_word`: ``"rude agent"`` ->
``theme_rude_agent_share``). The same themes and names hold for every
``as_of`` of a panel.

Examples
--------
>>> s = pd.DataFrame({"response_id": ["R1", "R2"], "customer_id": "c1", "comment": ["Refund late!", None],
...                   "submitted_at": pd.to_datetime(["2024-02-01", "2024-02-02"], utc=True)})
>>> cf = CommentFeatures(s, lambda t: t.str.contains("refund", case=False).map({True: "refund"}),
...                      pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-01", tz="UTC"))
>>> cf.columns
['comments', 'mean_comment_sentiment', 'theme_refund_share']
"""
from __future__ import annotations

from typing import Callable, Union

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.voice import CommentThemes, comment_themes, sentiment
from slm_lib.wording import column_word

__all__ = ["DEFAULT_THEMES", "ThemeSource", "CommentFeatures"]

#: Themes fitted when ``text_features=True`` is asked without ``themes=``.
DEFAULT_THEMES: int = 8
#: What ``themes=`` accepts: a number of themes to fit, fitted themes, or a rule text -> theme name.
ThemeSource = Union[int, CommentThemes, Callable[[pd.Series], pd.Series]]


class CommentFeatures:
    """The comment features of one ``customer_features`` call: sentiment scored, themes fixed, once.

    Parameters
    ----------
    surveys : pandas.DataFrame
        Canonical surveys (``response_id, submitted_at, comment``).
    themes : int, CommentThemes or callable
        See the module docstring.
    first, last : pandas.Timestamp
        The earliest and latest ``as_of`` (UTC): themes are fitted before ``first``; only
        comments before ``last`` are read.
    """

    def __init__(self, surveys: pd.DataFrame, themes: ThemeSource, first: pd.Timestamp, last: pd.Timestamp):
        known = surveys.loc[surveys["comment"].notna() & (surveys["submitted_at"] < last)]
        self.sentiment = sentiment(known["comment"])["score"]            # on the surveys' index
        self.rule: pd.Series | None = None                                # theme code per comment, for a rule
        self.fitted: CommentThemes | None = None
        if isinstance(themes, (int, np.integer)) and not isinstance(themes, bool):
            try:
                themes = comment_themes(surveys.loc[surveys["submitted_at"] < first], n_themes=int(themes), seed=0)
            except InsufficientDataError as exc:
                raise InsufficientDataError(f"customer_features: themes fitted on the survey comments before the "
                                            f"earliest as_of ({first}): {exc}") from None
        if isinstance(themes, CommentThemes):
            self._check_fit(themes, surveys, first)
            self.fitted, names = themes, themes.names.tolist()
        elif callable(themes):
            found = themes(known["comment"])
            if len(found) != len(known):
                raise ConfigError(f"customer_features: the themes function gave {len(found):,} names for "
                                  f"{len(known):,} texts; give one name (or NaN) per text")
            found = found.set_axis(known.index) if isinstance(found, pd.Series) else pd.Series(found, index=known.index)
            names = (list(found.cat.categories) if isinstance(found.dtype, pd.CategoricalDtype)
                     else sorted(found.dropna().unique()))
            self.rule = pd.Series(pd.Index(names).get_indexer(found), index=known.index)
            names = [column_word(n) for n in names]
            if len(set(names)) < len(names):
                raise ConfigError(f"customer_features: theme names {names} clash once made column names")
        else:
            raise ConfigError(f"customer_features: themes must be a number of themes, a CommentThemes or a function "
                              f"of texts, not {type(themes).__name__}")
        self.columns = ["comments", "mean_comment_sentiment", *(f"theme_{n}_share" for n in names)]

    @staticmethod
    def _check_fit(themes: CommentThemes, surveys: pd.DataFrame, first: pd.Timestamp) -> None:
        ids = themes.comments.loc[themes.comments["source"] == "survey", "id"]
        later = surveys.loc[surveys["response_id"].isin(ids) & (surveys["submitted_at"] >= first), "submitted_at"]
        if len(later):
            raise ConfigError(f"customer_features: the themes were fitted on {len(later):,} survey comment(s) "
                              f"submitted at or after the earliest as_of ({first}; the latest {later.max()}): they "
                              f"would carry the future into the features; fit them on comments before it")

    def window(self, sv: pd.DataFrame, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The columns for customers at positions ``ids`` from their answers ``sv`` in the window (``_pos`` column)."""
        c = sv.loc[sv["comment"].notna()]
        row = pd.Index(ids).get_indexer(c["_pos"])
        k = len(self.columns) - 2
        if self.fitted is not None:
            code = self.fitted.assign(c["comment"]).fillna(0).to_numpy(np.int64) - 1
        else:
            code = self.rule.reindex(c.index).to_numpy(np.int64)
        n = np.bincount(row, minlength=len(ids)).astype(np.float64)
        scored = self.sentiment.reindex(c.index).to_numpy()
        ok = ~np.isnan(scored)
        total = np.bincount(row[ok], weights=scored[ok], minlength=len(ids))
        n_scored = np.bincount(row[ok], minlength=len(ids))
        has = code >= 0
        counts = np.bincount(row[has] * k + code[has], minlength=len(ids) * k).reshape(len(ids), k)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = {"comments": n.astype(np.int64),
                   "mean_comment_sentiment": np.where(n_scored > 0, total / np.maximum(n_scored, 1), np.nan)}
            shares = np.where(n[:, None] > 0, counts / np.maximum(n, 1)[:, None], np.nan)
        return out | dict(zip(self.columns[2:], shares.T))
