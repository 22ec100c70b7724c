"""Customer identity across tools (SPEC §10): one key, optionally a salted hash.

The key is either the vendor's customer/requester id (``key="id"``) or the e-mail address
(``key="email"``, stripped and lower-cased so ``Ann@X.com`` and ``ann@x.com `` agree across
tools). With a ``hash_salt`` the key is replaced by ``sha256(salt + key)`` as hex, truncated
to the first 16 characters (64 bits: collisions are negligible below billions of customers),
so reports never carry raw e-mails. Use the same salt for every import into one directory.
"""
from __future__ import annotations

import hashlib

import pandas as pd

KEYS: tuple[str, ...] = ("id", "email")
HASH_CHARS = 16


def to_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings (missing and empty = NaN); integral floats lose ``.0``.

    JSON ids read with gaps become floats (``123.0``); they are written back as ``"123"``.

    Examples
    --------
    >>> to_text(pd.Series([12.0, None, " a "])).tolist()
    ['12', nan, 'a']
    """
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if (finite == finite.round()).all():
            values = values.astype("Int64")
    elif values.dtype == object:
        floats = values.map(type).eq(float) & values.notna()
        if floats.any():
            numeric = pd.to_numeric(values[floats], errors="coerce")
            whole = numeric == numeric.round()
            values = values.copy()
            values.loc[whole[whole].index] = numeric[whole].astype("int64")
    text = values.astype("string").str.strip()
    return text.mask(text.eq("")).astype("str")


def hash_keys(keys: pd.Series, salt: str) -> pd.Series:
    """``sha256(salt + key)`` as hex, truncated to 16 characters; missing keys stay missing.

    Examples
    --------
    >>> hash_keys(pd.Series(["ann@x.com"]), "s").str.len().tolist()
    [16]
    """
    unique = keys.dropna().unique()
    table = {k: hashlib.sha256((salt + k).encode("utf-8")).hexdigest()[:HASH_CHARS] for k in unique}
    return keys.map(table).astype("str")


def customer_keys(candidates: list[pd.Series], key: str, salt: str | None = None) -> pd.Series:
    """The customer key of each row: the first non-missing candidate column, normalised.

    Parameters
    ----------
    candidates : list of pandas.Series
        Columns that may hold the key, in order of preference (aligned on one index).
    key : {"id", "email"}
        Which identity the columns hold; e-mails are lower-cased.
    salt : str, optional
        When given, keys are replaced by their salted hash.

    Examples
    --------
    >>> customer_keys([pd.Series(["Ann@X.com ", None])], "email").tolist()
    ['ann@x.com', nan]
    """
    values = to_text(candidates[0])
    for other in candidates[1:]:
        values = values.fillna(to_text(other))
    if key == "email":
        values = values.str.lower()
    return hash_keys(values, salt) if salt is not None else values
