"""Customer free text made safe for reports: PII masking and HTML escaping (SPEC §7).

Survey comments are written by customers and shown verbatim to reviewers, so before a
comment reaches a report it is

1. *masked*: e-mail addresses and phone numbers are replaced (:func:`mask_pii`), then
2. *escaped*: ``& < > " '`` become HTML entities (:func:`escape_html`),

in that order (:func:`safe_comment`, :func:`safe_comments` for a Series). Masking runs
first because it must see the customer's own characters: escaping first would turn
``'`` into ``&#x27;`` and ``&`` into ``&amp;``, whose ``#``, digits and ``;`` the masks
could then split or mistake for part of a number or an address, leaving broken entities
and masking the wrong characters. Escaping last also escapes whatever the masks leave,
so the final text is always inert HTML.

Masking formats
---------------
E-mail
    The local part (the run of visible characters before ``@``, up to whitespace or one
    of ``()<>[]{}:;,"\\``) becomes its first character followed by ``***``;
    the domain is kept: ``jane.doe@example.com`` -> ``j***@example.com``. Every ``@``
    is treated this way, valid domain or not (``admin@localhost`` -> ``a***@localhost``),
    so no local part ever shows more than one character.
Phone
    ``+<cc> *** *** <last 4 digits>`` for international numbers (``+`` or ``00`` prefix;
    the country code is read with the ITU prefix-free rule, so ``+4930 1234567`` is
    ``+49``), ``*** *** <last 4 digits>`` otherwise. The grouping and length of the number
    are not kept. Recognised: ``+1 555 123 4567``, ``0049 30 1234567``,
    ``+44 (0) 20 7946 0958``, national numbers with a leading trunk ``0`` (``030/1234567``,
    ``(030) 123 45 67``, ``0301234567``) and North-American ``(555) 123-4567``,
    ``555-123-4567``, ``555.123.4567``; separators are spaces, dots, dashes and slashes.
    A candidate needs 7 to 15 digits. Not masked: dates (``2026-10-01``, ``01.10.2026``),
    times (``10:30``), order numbers (``#12345``, ``order 123456``), amounts
    (``$1,234.56``), years, opening hours (``0900-1700``), and digit runs that do not start with ``+``, ``00`` or ``0``
    nor have the North-American shape.
"""
from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

__all__ = ["mask_pii", "escape_html", "safe_comment", "safe_comments", "mask_pii_series", "escape_html_series"]

#: characters that end the local part of an address when scanning left from ``@``
_LOCAL = r"""[^\s()<>\[\]{}:;,"@\\]"""
_EMAIL_RE = re.compile(rf"(?<!{_LOCAL})({_LOCAL}){_LOCAL}*(?=@)")
_EMAIL_REPL = r"\1***"

# a further group of digits; never the start of a date
_GROUP = r"(?:[ .\-/]?(?!\d{4}-\d{1,2}-\d{1,2})(?!\d{1,2}[./-]\d{1,2}[./-]\d{2,4})\(?\d+\)?)"
# opening hours written as HHMM-HHMM ("0900-1700") are not a phone number
_TIME_RANGE = r"(?:[01]\d|2[0-3])[0-5]\d ?- ?(?:[01]\d|2[0-4])[0-5]\d(?!\d)"
_PHONE_RE = re.compile(
    rf"""
    (?<![\w@#$€£¥+*])(?<!\d[.,/\-])          # not inside a word, an id, an amount or a number
    (?:
        (?P<intl>\+|00(?=[1-9]))\d+{_GROUP}*   # +1 555 123 4567, 0049 30 1234567
      | (?!{_TIME_RANGE})\(?0\d{{1,5}}\)?[ .\-/]?\d{{3,}}{_GROUP}*  # 030/1234567, (030) 123 45 67
      | \(\d{{3}}\)[ .\-]?\d{{3}}[ .\-]\d{{4}}   # (555) 123-4567
      | \d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}        # 555-123-4567
    )
    (?![\w@*])(?![.,:]\d)                    # not followed by a word, an address, decimals, minutes
    """,
    re.VERBOSE,
)

#: ITU country codes of one and two digits; every other code has three (codes are prefix-free)
_CC1 = frozenset({"1", "7"})
_CC2 = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)
_MIN_DIGITS, _MAX_DIGITS = 7, 15


def _country_code(digits: str) -> str:
    """Country code at the start of an international number (digits without prefix)."""
    if digits[:1] in _CC1:
        return digits[:1]
    if digits[:2] in _CC2:
        return digits[:2]
    return digits[:3]


def _mask_phone(match: re.Match[str]) -> str:
    """Replacement for one phone-number candidate (unchanged when it has too few/many digits)."""
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    prefix = ""
    if match.group("intl"):
        if text.startswith("00"):
            digits = digits[2:]
        prefix = f"+{_country_code(digits)} "
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return text
    return f"{prefix}*** *** {digits[-4:]}"


def _check_text(text: Any, where: str) -> bool:
    """True if ``text`` is a string to process, False if missing; TypeError otherwise."""
    if isinstance(text, str):
        return True
    if text is None or (not isinstance(text, (list, tuple, dict)) and pd.isna(text)):
        return False
    raise TypeError(f"{where}: expected a string or a missing value, got {type(text).__name__}")


def mask_pii(text: str) -> str:
    """Mask e-mail addresses and phone numbers in one piece of customer text.

    Parameters
    ----------
    text : str
        Free text; a missing value (None/NaN) is returned unchanged.

    Returns
    -------
    str
        The text with every address as ``j***@domain`` and every phone number as
        ``+<cc> *** *** <last 4>`` (or ``*** *** <last 4>``); see the module docstring.

    Raises
    ------
    TypeError
        If ``text`` is neither a string nor missing.

    Examples
    --------
    >>> mask_pii("Mail jane.doe@example.com or call +1 555 123 4567 before 2026-10-01 10:30")
    'Mail j***@example.com or call +1 *** *** 4567 before 2026-10-01 10:30'
    """
    if not _check_text(text, "mask_pii"):
        return text
    return _PHONE_RE.sub(_mask_phone, _EMAIL_RE.sub(_EMAIL_REPL, text))


def escape_html(text: str) -> str:
    """Escape ``& < > " '`` so the text shows as text in HTML (``html.escape``, quotes on).

    Examples
    --------
    >>> escape_html("<script>alert('x')</script>")
    '&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;'
    """
    if not _check_text(text, "escape_html"):
        return text
    return html.escape(text, quote=True)


def safe_comment(text: str) -> str:
    """Mask PII, then escape HTML: the form in which a comment may appear in a report.

    Masking comes first so it sees the customer's characters, not entities (see the
    module docstring).

    Examples
    --------
    >>> safe_comment('<b>Call me</b> on 030/1234567, "jo@example.org"')
    '&lt;b&gt;Call me&lt;/b&gt; on *** *** 4567, &quot;j***@example.org&quot;'
    """
    return escape_html(mask_pii(text))


def _as_str_series(series: pd.Series, where: str) -> pd.Series:
    if not isinstance(series, pd.Series):
        raise TypeError(f"{where}: expected a pandas Series, got {type(series).__name__}")
    return series.astype("str")


def mask_pii_series(series: pd.Series) -> pd.Series:
    """:func:`mask_pii` over a Series; missing values stay missing, index and name kept.

    Examples
    --------
    >>> mask_pii_series(pd.Series(["ann@x.org", None])).tolist()
    ['a***@x.org', nan]
    """
    s = _as_str_series(series, "mask_pii_series")
    return s.str.replace(_EMAIL_RE, _EMAIL_REPL, regex=True).str.replace(_PHONE_RE, _mask_phone, regex=True)


def escape_html_series(series: pd.Series) -> pd.Series:
    """:func:`escape_html` over a Series (same entities as ``html.escape(quote=True)``).

    Examples
    --------
    >>> escape_html_series(pd.Series(["a<b", None])).tolist()
    ['a&lt;b', nan]
    """
    s = _as_str_series(series, "escape_html_series")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        s = s.str.replace(char, entity, regex=False)
    return s


def safe_comments(series: pd.Series) -> pd.Series:
    """:func:`safe_comment` over a Series of comments; missing values stay missing.

    Parameters
    ----------
    series : pandas.Series
        Customer comments (``surveys["comment"]``); non-string values are converted
        with ``astype("str")``.

    Returns
    -------
    pandas.Series of str
        Same index and name, each value equal to ``safe_comment(value)``.

    Examples
    --------
    >>> safe_comments(pd.Series(["<script>alert(1)</script>", None])).tolist()
    ['&lt;script&gt;alert(1)&lt;/script&gt;', nan]
    """
    return escape_html_series(mask_pii_series(series))
