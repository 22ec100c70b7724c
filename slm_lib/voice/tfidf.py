"""TF-IDF rows of customer texts, with the words found by pyarrow (the matrix of the comment themes).

:func:`theme_matrix` fits the vocabulary and the idf weights on texts (as scikit-learn's
``TfidfVectorizer`` with the settings of :func:`slm_lib.voice.themes.comment_themes`) and
:func:`tfidf_rows` gives the rows of other texts on that vocabulary and those weights (as the
fitted vectorizer's ``transform``): how new comments are put on themes found earlier.

Examples
--------
>>> m, terms, idf = theme_matrix(pd.Series(["slow reply", "refund late"]), np.array([1, 1]), min_comments=1)
>>> tfidf_rows(pd.Series(["slow slow refund", "no known word"]), terms, idf).toarray().round(3).tolist()
[[0.0, 0.509, 0.0, 0.861], [0.0, 0.0, 0.0, 0.0]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.preprocessing import normalize

__all__ = ["TOKEN_PATTERN", "theme_matrix", "tfidf_rows"]

#: Words of two or more letters (no digits, no underscores).
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
_STOP_WORDS = pa.array(sorted(ENGLISH_STOP_WORDS), type=pa.large_string())


def _term_counts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each (text, word) pair once: ``(text position, word index, count, vocabulary)``."""
    arr = pa.array(texts.to_numpy(dtype=object), type=pa.large_string())
    split = pc.split_pattern_regex(pc.utf8_lower(arr), r"[^\p{L}\p{N}_]+")
    flat, doc = pc.list_flatten(split), pc.list_parent_indices(split).to_numpy()
    word = (pc.match_substring_regex(flat, r"^[\p{L}\p{Nl}\p{No}]{2,}$").to_numpy(zero_copy_only=False)
            & ~pc.is_in(flat, value_set=_STOP_WORDS).to_numpy(zero_copy_only=False))
    encoded = pc.dictionary_encode(flat.filter(pa.array(word)))
    vocabulary = np.array(encoded.dictionary.to_pylist(), dtype=object)
    pairs, count = np.unique(doc[word] * len(vocabulary) + encoded.indices.to_numpy(zero_copy_only=False),
                             return_counts=True)
    doc, term = np.divmod(pairs, max(len(vocabulary), 1))
    return doc, term, count, vocabulary


def _rows(n_texts: int, doc: np.ndarray, column: np.ndarray, count: np.ndarray, idf: np.ndarray) -> sparse.csr_matrix:
    """Unit-length rows of sublinear tf x idf; ``column`` -1 drops a word."""
    use = column >= 0
    tf = sparse.csr_matrix(((1.0 + np.log(count[use])) * idf[column[use]], (doc[use], column[use])),
                           shape=(n_texts, idf.size))
    return normalize(tf).tocsr() if idf.size and n_texts else tf


def theme_matrix(texts: pd.Series, repeats: np.ndarray,
                 min_comments: int = 5) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """TF-IDF rows of distinct texts that occur ``repeats`` times each: ``(matrix, terms, idf)``.

    Equals scikit-learn's ``TfidfVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english",
    min_df=min_comments, sublinear_tf=True)`` fitted on the texts with their repeats and
    taken at each distinct text, without building the repeated rows, and with the words
    found by pyarrow over the whole column (scikit-learn runs a Python regex per text, 15 s
    for a million): a term is a lower-cased run of word characters (letters, digits,
    underscore) made of two or more letters. ``idf`` (smooth, ``ln((1 + N) / (1 + df)) + 1``)
    is the weight of each term, for :func:`tfidf_rows`.

    Examples
    --------
    >>> m, terms, _ = theme_matrix(pd.Series(["slow reply", "refund late"]), np.array([2, 1]), min_comments=1)
    >>> terms.tolist(), m.shape, round(float(m[0, 2]), 4)
    (['late', 'refund', 'reply', 'slow'], (2, 4), 0.7071)
    """
    doc, term, count, vocabulary = _term_counts(texts)
    df = np.bincount(term, weights=repeats[doc], minlength=len(vocabulary))
    kept = np.flatnonzero(df >= min_comments)
    kept = kept[np.argsort(vocabulary[kept], kind="stable")]              # columns in alphabetical order
    column = np.full(len(vocabulary), -1)
    column[kept] = np.arange(kept.size)
    idf = np.log((1.0 + repeats.sum()) / (1.0 + df[kept])) + 1.0
    return _rows(len(texts), doc, column[term], count, idf), vocabulary[kept], idf


def tfidf_rows(texts: pd.Series, terms: np.ndarray, idf: np.ndarray) -> sparse.csr_matrix:
    """TF-IDF rows of ``texts`` on fitted ``terms`` and ``idf`` (:func:`theme_matrix`); other words are left out.

    A text made of the texts a matrix was fitted on gets the same row as in that matrix;
    a text without a known term gets an empty row.

    Examples
    --------
    >>> texts = pd.Series(["slow reply", "refund late", "slow refund"])
    >>> m, terms, idf = theme_matrix(texts, np.array([1, 1, 1]), min_comments=1)
    >>> bool((tfidf_rows(texts, terms, idf) != m).nnz == 0)
    True
    """
    doc, term, count, vocabulary = _term_counts(texts)
    column = pd.Index(terms).get_indexer(vocabulary) if len(terms) else np.full(len(vocabulary), -1)
    return _rows(len(texts), doc, column[term] if term.size else term, count, np.asarray(idf, np.float64))
