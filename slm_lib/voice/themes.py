"""Themes of what customers write: TF-IDF + NMF over survey comments (and customer messages).

Method (:func:`comment_themes`):

1. Texts: every survey comment, and the ``body`` of each ``customer_message`` in
   ``ticket_events`` when given. Personal data are masked first (:func:`slm_lib.text.mask_pii_series`),
   so no address or number can become a theme term or an example; the terms are read
   without the masks, HTML tags and web addresses (:func:`slm_lib.voice.language.readable_text`).
2. TF-IDF (scikit-learn conventions: words of two or more letters, lower-cased, without
   scikit-learn's English stop words, kept when at least ``min_comments`` texts use them;
   sublinear term frequency ``1 + log tf``, smooth idf ``ln((1 + N) / (1 + df)) + 1``, rows of
   unit length). Each distinct text is counted once and weighted by how often it occurs,
   which gives the same matrix as TF-IDF over all texts at a fraction of the cost.
3. NMF (scikit-learn, Frobenius loss, NNDSVDa start, coordinate descent) with
   ``n_themes`` components, each distinct text weighted by its repeats (its row times
   sqrt(repeats): the same objective as all texts); deterministic for a ``seed``. With more
   than ``max_fit`` distinct texts, NMF is fitted on a seeded random ``max_fit`` of them and
   every text is then projected on the themes.
4. Each text belongs to the theme with its largest NMF weight; a text with no kept word
   belongs to none (``theme`` NaN), and counts in the denominators all the same. Themes are
   numbered by size; ``label`` is their three top terms.

Shares carry a Wilson interval (:func:`slm_lib.stats.share_from_counts`). With ``by``, each
group's shares are listed, and two groups are compared theme by theme (``by="nps_category"``:
detractors against promoters): difference in share with its normal interval, a pooled
two-proportion z test, and p-values Holm-adjusted over the themes
(:func:`slm_lib.stats.holm_adjusted`).

Examples
--------
>>> import slm_lib.synth as synth
>>> themes = comment_themes(synth.generate(customers=600, months=6, seed=1).surveys, n_themes=8)
>>> int(themes.table["n"].sum()) == themes.n_comments - themes.n_unassigned
True
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import NMF

from slm_lib.config import CONFIDENCE, DEFAULT_MIN_N
from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError
from slm_lib.metrics.survey import nps_category
from slm_lib.stats import (
    holm_adjusted,
    normal_interval,
    proportion_diff_se,
    share_from_counts,
    two_proportion_z,
)
from slm_lib.text import mask_pii_series
from slm_lib.voice.language import readable_text
from slm_lib.voice.tfidf import theme_matrix, tfidf_rows
from slm_lib.wording import column_word, format_estimate, format_p, interval_texts, is_clear

__all__ = ["CommentThemes", "comment_themes"]

#: The two groups compared by default: (reference, compared), the difference is compared - reference.
DEFAULT_COMPARE: dict[str, tuple[str, str]] = {"nps_category": ("promoter", "detractor")}


@dataclass(frozen=True)
class _Projection:
    """What puts texts on fitted themes: the terms, their idf, the NMF and each component's theme number."""

    terms: np.ndarray
    idf: np.ndarray
    nmf: NMF
    number: np.ndarray


def _largest(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's component with the largest NMF weight (-1 with no weight) and its part of the row's weights."""
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weights.argmax(axis=1), -1), np.where(total > 0, weights.max(axis=1) / total, np.nan)


@dataclass
class CommentThemes:
    """Themes found in customer texts (:func:`comment_themes`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per theme: ``theme`` (1 = largest), ``label`` (three top terms), ``terms``
        (top terms, comma-separated), ``n`` (texts in the theme), ``share`` (% of all texts),
        ``ci_low, ci_high`` (95% Wilson), ``small_n``.
    comments : pandas.DataFrame
        One row per text: ``source`` (``survey`` or ``message``), ``id`` (response_id or
        event_id), ``group`` (with ``by``), ``theme`` (NaN: no kept word), ``weight`` (the
        theme's part of the text's NMF weights, 0-1) and ``text`` (personal data masked).
    groups : pandas.DataFrame or None
        With ``by``: ``group, theme, label, n_group, n, share, ci_low, ci_high, small_n``.
    comparison : pandas.DataFrame or None
        With two groups to compare: ``theme, label, reference, compared, share_reference,
        share_compared, n_reference, n_compared, diff`` (percentage points, compared minus
        reference), ``ci_low, ci_high, p_value, p_adjusted`` (Holm over the themes).
    terms : pandas.DataFrame
        ``theme, rank, term, weight``: each theme's top terms and NMF weights.
    n_comments, n_unassigned : int
        Texts analysed, and those with no kept word.

    :meth:`assign` puts other texts on these themes, and :attr:`names` names them in a word.
    """

    table: pd.DataFrame
    comments: pd.DataFrame
    groups: pd.DataFrame | None
    comparison: pd.DataFrame | None
    terms: pd.DataFrame
    n_comments: int
    n_unassigned: int
    projection: _Projection | None = field(default=None, repr=False)

    @property
    def names(self) -> pd.Series:
        """A short name per theme (index ``theme``): its top term as a column word (:func:`slm_lib.wording.column_word`).

        Two themes with the same top term are named by their two top terms (``agent_friendly``,
        ``agent_rude``); a name still shared gets the theme number (``reply_3``). Names are
        for column names (``slm.customer_features`` gives ``theme_<name>_share``).

        Examples
        --------
        >>> t = comment_themes(pd.DataFrame({"response_id": list("abcd"), "comment": ["refund late",
        ...     "refund missing", "friendly agent", "agent friendly"]}), n_themes=2, min_comments=1)
        >>> t.names.tolist()
        ['agent', 'refund']
        """
        words = self.terms.groupby("theme")["term"].agg(list).reindex(self.table["theme"])
        words = words.map(lambda w: [column_word(t) for t in w] if isinstance(w, list) else [])
        names = words.map(lambda w: w[0] if w else "")
        shared = names.duplicated(keep=False) | (names == "")
        names[shared] = words[shared].map(lambda w: "_".join(w[:2]))
        shared = names.duplicated(keep=False) | (names == "")
        names[shared] = [f"{n}_{k}".lstrip("_") for n, k in zip(names[shared], names.index[shared])]
        return names.rename("name")

    def assign(self, texts: pd.Series) -> pd.Series:
        """The theme of each text, on these themes: the one with its largest NMF weight (NaN: no kept word or no text).

        The text is masked and read as in :func:`comment_themes`, weighted by the fitted terms
        and idf, and projected on the fitted NMF; a text of the fit gets the theme it has in
        :attr:`comments` (up to NMF's convergence tolerance on near ties).

        Examples
        --------
        >>> t = comment_themes(pd.DataFrame({"response_id": list("abcd"), "comment": ["refund late",
        ...     "refund missing", "friendly agent", "agent friendly"]}), n_themes=2, min_comments=1)
        >>> t.assign(pd.Series(["Where is my refund?", "So friendly", "Nothing known", None])).tolist()
        [2, 1, <NA>, <NA>]
        """
        if self.projection is None:
            raise ConfigError("CommentThemes.assign: these themes carry no fitted model (made by comment_themes?)")
        p = self.projection
        codes, distinct = pd.factorize(texts.to_numpy(dtype=object))
        theme = np.full(len(distinct), -1)
        if len(distinct):
            masked = mask_pii_series(pd.Series(distinct, dtype="str"))
            matrix = tfidf_rows(readable_text(masked).to_pandas(), p.terms, p.idf)
            theme, _ = _largest(p.nmf.transform(matrix))
        number = np.r_[p.number, -1][np.where(codes >= 0, theme[codes], -1)]
        return pd.Series(number, index=texts.index, name="theme").where(number > 0).astype("Int64")

    @property
    def caption(self) -> str:
        """What the themes were found in, in words (shown above :meth:`readable` in a notebook)."""
        none = f"; {self.n_unassigned:,} with no theme word belong to none" if self.n_unassigned else ""
        return f"{len(self.table)} themes in {self.n_comments:,} comments (TF-IDF + NMF){none}"

    def readable(self) -> pd.DataFrame:
        """One row per theme as a reader sees it: top terms, comments, share and its 95% interval.

        Examples
        --------
        >>> t = comment_themes(pd.DataFrame({"response_id": ["R1", "R2", "R3", "R4"], "comment": [
        ...     "refund late", "refund missing", "friendly agent", "agent friendly"]}), n_themes=2, min_comments=1)
        >>> t.readable().columns.tolist()
        ['top terms', 'comments', 'share of comments (%)', '95% CI']
        """
        share, ci = interval_texts(self.table["share"], self.table["ci_low"], self.table["ci_high"], signed=False)
        return pd.DataFrame({"top terms": self.table["terms"].to_numpy(), "comments": [f"{v:,}" for v in self.table["n"]],
                             "share of comments (%)": share, "95% CI": ci},
                            index=pd.Index(self.table["theme"].to_numpy(), name="theme"))

    def _repr_html_(self) -> str:
        table = self.readable().to_html()  # escapes the terms
        return table.replace(">", f">\n<caption>{html.escape(self.caption)}</caption>", 1)

    def examples(self, n: int = 3, group: str | None = None) -> pd.DataFrame:
        """The ``n`` distinct texts most typical of each theme (largest ``weight``; ties: first in the data).

        Personal data are masked; the text is otherwise verbatim, so show it through an
        escaping renderer (a DataFrame's HTML display escapes, as for
        :func:`slm_lib.nb.verbatim_comments`; :func:`slm_lib.text.escape_html_series` for raw HTML).

        Parameters
        ----------
        n : int
            Texts per theme.
        group : str, optional
            Only texts of this group (with ``by``, e.g. ``"detractor"``).

        Returns
        -------
        pandas.DataFrame
            ``theme, label, source, comment``.
        """
        c = self.comments
        if group is not None:
            if "group" not in c.columns:
                raise ConfigError("CommentThemes.examples: group given, but the themes were found without by=")
            c = c.loc[c["group"] == group]
        c = c.loc[c["theme"].notna()].sort_values(["theme", "weight"], ascending=[True, False], kind="stable")
        top = c.drop_duplicates(["theme", "text"]).groupby("theme", sort=True).head(n)
        labels = self.table.set_index("theme")["label"]
        return pd.DataFrame({"theme": top["theme"].to_numpy(np.int64), "label": labels.reindex(top["theme"]).to_numpy(),
                             "source": top["source"].to_numpy(), "comment": top["text"].to_numpy()})

    def sentences(self) -> list[str]:
        """One plain-words sentence per theme of :attr:`comparison` (largest difference first).

        A theme whose Holm-adjusted p-value is below 5% "comes up more (less) often"; one
        whose own p-value is below 5% but not its adjusted one is "a signal to watch" (as
        the monthly summary's changes); any other theme shows "no clear difference".

        Examples
        --------
        >>> c = pd.DataFrame({"theme": [1, 2, 3], "label": ["refund", "wait", "invoice"], "reference": "promoter",
        ...     "compared": "detractor", "share_reference": [2.0, 1.0, 5.0], "share_compared": [20.0, 6.0, 6.0],
        ...     "n_reference": 100, "n_compared": 200, "diff": [18.0, 5.0, 1.0], "ci_low": [11.0, 1.2, -4.0],
        ...     "ci_high": [25.0, 8.8, 6.0], "p_value": [0.0001, 0.03, 0.7], "p_adjusted": [0.0003, 0.06, 0.7]})
        >>> for sentence in CommentThemes(None, None, None, c, None, 300, 0).sentences():
        ...     print(sentence.split(" — ")[0])
        Theme 1 (refund): comes up more often
        Theme 2 (wait): a signal to watch (clear on its own, not over the 3 themes together)
        Theme 3 (invoice): no clear difference
        """
        if self.comparison is None:
            return []
        alpha = 1.0 - CONFIDENCE
        out = []
        for _, r in self.comparison.sort_values("diff", key=np.abs, ascending=False, kind="stable").iterrows():
            excludes_zero = is_clear(r["ci_low"], r["ci_high"])
            if r["p_adjusted"] < alpha and excludes_zero:
                verb = "comes up more often" if r["diff"] > 0 else "comes up less often"
            elif r["p_value"] < alpha and excludes_zero:
                verb = f"a signal to watch (clear on its own, not over the {len(self.comparison)} themes together)"
            else:
                verb = "no clear difference"
            shares = (f"{r['share_compared']:.1f}% of {r['compared']} comments (n = {r['n_compared']:,}) vs "
                      f"{r['share_reference']:.1f}% of {r['reference']} comments (n = {r['n_reference']:,})")
            out.append(f"Theme {r['theme']} ({r['label']}): {verb} — {shares}; difference "
                       f"{format_estimate(r['diff'], r['ci_low'], r['ci_high'], 'pp')}, "
                       f"{format_p(r['p_adjusted'])} (Holm-adjusted over {len(self.comparison)} themes).")
        return out


def _texts(surveys: pd.DataFrame, ticket_events: pd.DataFrame | None, by: str | None) -> pd.DataFrame:
    missing = [c for c in ("response_id", "comment", *((["type", "score"] if by == "nps_category" else [by])
                                                         if by else [])) if c not in surveys.columns]
    if missing:
        raise DataValidationError(f"comment_themes: surveys lack column(s) {missing}")
    s = surveys.loc[surveys["comment"].notna()]
    parts = [pd.DataFrame({"source": "survey", "id": s["response_id"].to_numpy(), "text": s["comment"].to_numpy()})]
    if by == "nps_category":
        parts[0]["group"] = np.where(s["type"] == "nps", nps_category(s["score"]), None)
    elif by:
        parts[0]["group"] = s[by].to_numpy()
    if ticket_events is not None and len(ticket_events):
        e = ticket_events.loc[(ticket_events["kind"] == "customer_message") & ticket_events["body"].notna()]
        parts.append(pd.DataFrame({"source": "message", "id": e["event_id"].to_numpy(), "text": e["body"].to_numpy()}))
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"source": "str", "id": "str", "text": "str", **({"group": "str"} if by else {})})


def _fit(matrix: sparse.csr_matrix, repeats: np.ndarray, n_themes: int, seed: int, max_fit: int) -> NMF:
    rows = np.arange(matrix.shape[0])
    if rows.size > max_fit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_fit, replace=False))
    weighted = sparse.diags(np.sqrt(repeats[rows].astype(np.float64))) @ matrix[rows]
    model = NMF(n_components=n_themes, init="nndsvda", solver="cd", max_iter=500, random_state=seed)
    model.fit(weighted)
    return model


def _shares(counts: pd.DataFrame, min_n: int) -> pd.DataFrame:
    share, low, high = share_from_counts(counts["n"].to_numpy(np.float64), counts["n_group"].to_numpy(np.float64))
    return counts.assign(share=share, ci_low=low, ci_high=high, small_n=counts["n_group"].to_numpy() < min_n)


def _comparison(groups: pd.DataFrame, pair: tuple[str, str]) -> pd.DataFrame | None:
    wide = {g: groups.loc[groups["group"] == g].set_index("theme") for g in pair}
    if any(w.empty for w in wide.values()):
        return None
    a, b = wide[pair[0]], wide[pair[1]]
    x1, n1, x2, n2 = (v.to_numpy(np.float64) for v in (a["n"], a["n_group"], b["n"], b["n_group"]))
    _, p = two_proportion_z(x1, n1, x2, n2)
    diff = b["share"].to_numpy() - a["share"].to_numpy()
    low, high = normal_interval(diff, 100.0 * proportion_diff_se(x1, n1, x2, n2))
    return pd.DataFrame({"theme": a.index.to_numpy(), "label": a["label"].to_numpy(), "reference": pair[0],
                         "compared": pair[1], "share_reference": a["share"].to_numpy(),
                         "share_compared": b["share"].to_numpy(), "n_reference": n1.astype(np.int64),
                         "n_compared": n2.astype(np.int64), "diff": diff, "ci_low": low, "ci_high": high,
                         "p_value": p, "p_adjusted": holm_adjusted(p)})


def comment_themes(surveys: pd.DataFrame, n_themes: int = 8, by: str | None = None, seed: int = 0,
                   ticket_events: pd.DataFrame | None = None, compare: tuple[str, str] | None = None,
                   min_comments: int = 5, n_terms: int = 8, max_fit: int = 200_000,
                   min_n: int = DEFAULT_MIN_N) -> CommentThemes:
    """Themes of survey comments (and customer messages) with their top terms, n, share and 95% interval.

    Parameters
    ----------
    surveys : pandas.DataFrame
        Canonical surveys (``response_id``, ``comment``; ``type`` and ``score`` for
        ``by="nps_category"``).
    n_themes : int
        Number of themes (NMF components).
    by : str, optional
        ``"nps_category"`` (promoter / passive / detractor of NPS answers; other answers and
        messages have no group) or a surveys column: shares per group in ``groups``.
    seed : int
        Seed of the NMF start and of the fitting sample: the same seed gives the same themes.
    ticket_events : pandas.DataFrame, optional
        Canonical ticket_events: the ``body`` of ``customer_message`` events joins the texts.
    compare : (str, str), optional
        Two groups of ``by`` to compare, (reference, compared); default for
        ``by="nps_category"``: ("promoter", "detractor").
    min_comments : int
        A word is a term when at least this many texts use it.
    n_terms : int
        Top terms kept per theme.
    max_fit : int
        At most this many distinct texts fit the NMF (a seeded random sample); all are assigned.
    min_n : int
        ``small_n`` flags groups with fewer texts.

    Returns
    -------
    CommentThemes
        ``table``, ``comments``, ``groups``, ``comparison``, ``terms`` (see the class).

    Raises
    ------
    ConfigError
        ``n_themes`` below 2, or ``compare`` without ``by``.
    DataValidationError
        A column that the arguments need is missing.
    InsufficientDataError
        Fewer distinct texts with a kept word, or fewer terms, than ``n_themes``.

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> t = comment_themes(synth.generate(customers=600, months=6, seed=1).surveys, by="nps_category")
    >>> list(t.comparison.columns[-4:])
    ['ci_low', 'ci_high', 'p_value', 'p_adjusted']
    """
    if n_themes < 2:
        raise ConfigError(f"comment_themes: n_themes must be at least 2, not {n_themes}")
    if compare is not None and not by:
        raise ConfigError("comment_themes: compare needs by= (the column whose groups are compared)")
    texts = _texts(surveys, ticket_events, by)
    codes, distinct = pd.factorize(texts["text"])                  # each distinct text is read once
    masked = mask_pii_series(pd.Series(distinct, dtype="str"))
    texts["text"] = masked.to_numpy(dtype=object)[codes]
    repeats = np.bincount(codes, minlength=len(distinct))
    matrix, terms, idf = theme_matrix(readable_text(masked).to_pandas(), repeats, min_comments)
    usable = np.asarray(matrix.getnnz(axis=1) > 0)
    if usable.sum() < n_themes or len(terms) < n_themes:
        raise InsufficientDataError(
            f"comment_themes: {int(usable.sum())} distinct comments with {len(terms)} words used by at least "
            f"{min_comments} comments; {n_themes} themes need at least {n_themes} of each")
    model = _fit(matrix, repeats, n_themes, seed, max_fit)
    component, weight = _largest(model.transform(matrix))
    sizes = np.bincount(component[codes][component[codes] >= 0], minlength=n_themes)
    order = np.argsort(-sizes, kind="stable")                      # theme 1 = largest
    number = np.empty(n_themes, np.int64)
    number[order] = np.arange(1, n_themes + 1)
    assigned = component[codes]
    theme = pd.Series(number[np.maximum(assigned, 0)]).where(assigned >= 0).astype("Int64")
    comments = texts.assign(theme=theme.to_numpy(), weight=weight[codes])
    comments = comments[["source", "id", *(["group"] if by else []), "theme", "weight", "text"]]

    n_top = min(n_terms, len(terms))
    top = np.argsort(-model.components_, axis=1, kind="stable")[:, :n_top]
    term_rows = pd.DataFrame({"theme": np.repeat(number, n_top), "rank": np.tile(np.arange(1, n_top + 1), n_themes),
                              "term": terms[top].ravel(), "weight": np.take_along_axis(model.components_, top, 1).ravel()})
    term_rows = term_rows.loc[term_rows["weight"] > 0].sort_values(["theme", "rank"]).reset_index(drop=True)
    words = term_rows.groupby("theme")["term"]
    labels = words.apply(lambda t: " / ".join(t.head(3))).reindex(range(1, n_themes + 1), fill_value="")
    listed = words.apply(", ".join).reindex(range(1, n_themes + 1), fill_value="")

    n_total = len(comments)
    counts = comments["theme"].value_counts().reindex(range(1, n_themes + 1), fill_value=0)
    table = _shares(pd.DataFrame({"theme": np.arange(1, n_themes + 1), "label": labels.to_numpy(),
                                  "terms": listed.to_numpy(), "n": counts.to_numpy(np.int64), "n_group": n_total}),
                    min_n).drop(columns="n_group")
    groups = comparison = None
    if by:
        known = comments.loc[comments["group"].notna()]
        grid = pd.MultiIndex.from_product([np.sort(known["group"].unique()), range(1, n_themes + 1)],
                                          names=["group", "theme"])
        n = known.groupby(["group", "theme"]).size().reindex(grid, fill_value=0).rename("n").reset_index()
        n_group = known["group"].value_counts()
        groups = _shares(n.assign(label=labels.reindex(n["theme"]).to_numpy(),
                                  n_group=n_group.reindex(n["group"]).to_numpy(np.int64)), min_n)
        groups = groups[["group", "theme", "label", "n_group", "n", "share", "ci_low", "ci_high", "small_n"]]
        pair = compare or DEFAULT_COMPARE.get(by)
        comparison = _comparison(groups, pair) if pair else None
    return CommentThemes(table=table, comments=comments, groups=groups, comparison=comparison, terms=term_rows,
                         n_comments=n_total, n_unassigned=int(comments["theme"].isna().sum()),
                         projection=_Projection(terms, idf, model, number))
