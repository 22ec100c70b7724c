"""Customer free text made safe for reports: PII masking and HTML escaping (SPEC §7).

Survey comments are written by customers and shown verbatim to reviewers, so before a
comment reaches a report it is

1. *masked*: e-mail addresses, IBANs, payment-card numbers and phone numbers are
   replaced by a fixed token (:func:`mask_pii`), then
2. *escaped*: ``& < > " '`` become HTML entities (:func:`escape_html`),

in that order (:func:`safe_comment`, :func:`safe_comments` for a Series). Masking runs
first because it must see the customer's own characters: escaping first would turn
``'`` into ``&#x27;`` and ``&`` into ``&amp;``, whose ``#``, digits and ``;`` the masks
could then split or mistake for part of a number or an address. Escaping last also
escapes whatever the masks leave, so the final text is always inert HTML.

Masking formats
---------------
A detected item is replaced whole by its token; nothing of it is kept (no first letter,
no domain, no country code, no last digits, no length). The detectors run in this
order, each on the output of the one before, so a longer structured identifier wins and
is never cut into by a later mask (an IBAN never gets a phone mask inside it).

E-mail -> ``[email]``
    The local part (the run of visible characters before ``@``, up to whitespace or one
    of ``()<>[]{}:;,"\\``), the ``@`` and the domain (dot-separated labels of letters,
    digits, ``_`` and ``-``, or an address literal such as ``[192.168.0.1]``):
    ``jane.doe@janedoe.com.`` -> ``[email].``. Every ``@`` with a local part is masked,
    valid domain or not (``admin@localhost``, ``jane@ doe.com``, ``me@ home`` ->
    ``[email] home``).
    Obfuscated addresses are caught when the ``at`` is bracketed (``jane(at)doe.com``,
    ``jane [at] doe [dot] com``, ``{at}``, ``<at>``) or an ``@`` with spaces
    (``jane @ doe.com``), or when a spelled ``at`` comes with a spelled ``dot`` (``jane
    dot doe at gmail dot com``, any case) or with a local part holding ``.``, ``_`` or
    ``+`` (``jane.doe at gmail.com``); such an address must end in a label of letters.
    Not caught: ``jane at gmail.com`` (it reads like "arrived at example.com"), other
    spellings (``jane at gmail period com``) and addresses split over lines.
IBAN -> ``[iban]``
    Two letters, two check digits and 11 to 30 letters or digits, written compact or with
    single spaces or dashes (``DE89 3704 0044 0532 0130 00``, ``GB82WEST12345698765432``,
    any case). It is an IBAN when the rest has the length and structure that the IBAN
    registry (python-stdnum's copy) gives for the country, whatever the check digits (a
    mistyped IBAN is masked too), or, for a country missing from that registry, when the
    ISO 13616 mod-97 checksum holds.
Payment card -> ``[card]``
    13 to 19 digits starting with 1-9, written compact, in groups of four (the last group
    may be shorter) or as 4-6-5 / 4-6-4 (American Express, Diners), separated by spaces or
    dashes, that pass the Luhn check (``4111 1111 1111 1111``). A 16-digit number in one
    of these shapes is masked even when the Luhn check fails: a mistyped card number is
    still one, so an order number of exactly 16 digits is masked too (privacy first).
Phone -> ``[phone]``
    A run of at least 7 digits (neighbours at most three separators apart: spaces, dots,
    dashes, slashes, brackets) is a phone number when it is written internationally
    (``+``, ``00`` or ``011`` first) with at most 15 digits (``+44 20 7946 0958``,
    ``0049 30 1234567``, ``+1 555 123 4567``), or has the North-American shape
    (``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``555-1234``); any other
    run goes to Google's libphonenumber (``phonenumbers.PhoneNumberMatcher`` at
    ``Leniency.VALID``: a valid number of the region, with the trunk prefix where the
    region writes one) for each of ``regions`` (default :data:`PHONE_REGIONS`: US, GB, DE,
    FR, NL, ES, IT, CN, IN, BR, AU, JP), which finds national formats such as
    ``06 12 34 56 78``, ``030 12 34 56``, ``1-800-555-1234``, ``020 7946 0958``,
    ``138 0013 8000``, ``03-1234-5678``. Texts without such a run never reach the
    matcher, which costs about 1 ms per run that holds no number.
Not masked (kept exactly): dates (``2026-10-01``, ``01.10.2026``, ``10/01/2026``,
``01.10.26``), times (``10:30``, ``10h30``), opening hours (``0900-1700``), year ranges
(``2020-2026``), ids after ``#`` (``#12345``, ``ticket #0301234567``) or glued to an
upper-case code (``ORD-2024-001234``, ``T000123``), amounts (``$1,234.56``,
``€ 1.234,56``, ``1.234.567,89 EUR``), years, version numbers (``2.10.1234``), IP
addresses, and numbers that are neither international, nor valid in a region, nor of the
North-American shape (``order 123456``, ``ref 12345678``). Where a national phone format
and such a text collide, the number is masked: a bare ``1234567890`` or ``order
2024-001234`` is a valid Indian/Brazilian or Chinese/US number, so it becomes ``[phone]``.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from stdnum import iban, luhn
from stdnum.exceptions import InvalidComponent, ValidationError
from stdnum.iso7064 import mod_97_10

from slm_lib.errors import ConfigError

__all__ = ["mask_pii", "escape_html", "safe_comment", "safe_comments", "mask_pii_series", "escape_html_series",
           "PHONE_REGIONS", "EMAIL_MASK", "IBAN_MASK", "CARD_MASK", "PHONE_MASK"]

#: regions whose national phone formats are recognised by default (ISO 3166 alpha-2)
PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "CN", "IN", "BR", "AU", "JP")
EMAIL_MASK, IBAN_MASK, CARD_MASK, PHONE_MASK = "[email]", "[iban]", "[card]", "[phone]"

# --- e-mail ---------------------------------------------------------------------------------
#: characters that end the local part of an address when scanning left from ``@``
_LOCAL = r"""[^\s()<>\[\]{}:;,"@\\]"""
_EMAIL_RE = re.compile(rf"{_LOCAL}+@(?:\[[^\]\s]*\]|\s?[\w-]+(?:\.[\w-]+)+|[\w-]*)")
_AT_BRACKETED = r"\s*[\[({<]\s*at\s*[\])}>]\s*|\s+@\s*|\s*@\s+"
_DOT_SPELLED = r"\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+"
_OBFUSCATED_RE = re.compile(
    rf"""(?<![\w.+-])(?P<local>[\w+-]+(?:(?:{_DOT_SPELLED}|\.)[\w+-]+)*)
    (?P<at>{_AT_BRACKETED}|\s+at\s+)
    [\w-]+(?:(?:{_DOT_SPELLED}|\.)[\w-]+)*(?:{_DOT_SPELLED}|\.)[^\W\d_]{{2,}}(?![\w-])""",
    re.IGNORECASE | re.VERBOSE,
)
_SPELLED_DOT_RE = re.compile(_DOT_SPELLED, re.IGNORECASE)
#: RE2 pre-filter of the texts that may hold an address: an ``@``, or ``at`` between non-letters
_EMAIL_HINT_RE2 = r"@|(?i)\Wat\W"


def _mask_obfuscated(match: re.Match[str]) -> str:
    """``[email]`` for an obfuscated address; a spelled ``at`` needs more evidence (module doc)."""
    bracketed = match.group("at").strip()[:1] in "[({<@"
    if bracketed or _SPELLED_DOT_RE.search(match.group(0)) or re.search(r"[._+]", match.group("local")):
        return EMAIL_MASK
    return match.group(0)


def _mask_emails(text: str) -> str:
    """Plain, then obfuscated addresses masked in one text."""
    return _OBFUSCATED_RE.sub(_mask_obfuscated, _EMAIL_RE.sub(EMAIL_MASK, text))


# --- IBAN and payment cards --------------------------------------------------------------------
_SEP = "[ \u00a0-]"
_IBAN_RE = re.compile(rf"(?<![^\W_])[A-Za-z]{{2}}[0-9]{{2}}(?:{_SEP}?[A-Za-z0-9]){{11,30}}(?![^\W_])")
_CARD_SHAPE = (rf"[1-9][0-9]{{12,18}}|[1-9][0-9]{{3}}(?:{_SEP}[0-9]{{4}}){{2,3}}(?:{_SEP}[0-9]{{1,4}})?"
               rf"|[1-9][0-9]{{3}}{_SEP}[0-9]{{6}}{_SEP}[0-9]{{4,5}}")
_CARD_RE = re.compile(rf"(?<!\w)(?:{_CARD_SHAPE})(?!\w)")
_CARD_SHAPE_RE = re.compile(_CARD_SHAPE)


def _is_iban(candidate: str) -> bool:
    """The registry's length and structure for the country fit, check digits aside; or, for
    a country missing from the registry, the mod-97 checksum holds."""
    number = iban.compact(candidate.replace("\u00a0", " "))
    try:
        iban.validate(number[:2] + iban.calc_check_digits(number) + number[4:], check_country=False)
    except InvalidComponent:  # country not in the registry
        return 15 <= len(number) <= 34 and mod_97_10.is_valid(number[4:] + number[:4])
    except ValidationError:
        return False
    return True


def _is_card(candidate: str) -> bool:
    """Card shape with 13-19 digits and a valid Luhn check digit, or any 16 digits."""
    digits = re.sub(r"[^0-9]", "", candidate)
    return (_CARD_SHAPE_RE.fullmatch(candidate) is not None and 13 <= len(digits) <= 19
            and (len(digits) == 16 or luhn.is_valid(digits)))


def _mask_checked(text: str, pattern: re.Pattern[str], is_valid: Callable[[str], bool], token: str) -> str:
    """Replace the longest valid prefix of each candidate (cut at a separator) by ``token``.

    A candidate may run on into the next word or number ("BE68 5390 0754 7034 from"), so
    its prefixes ending before a separator are tried, longest first; scanning resumes
    after the masked part, or one character after a candidate with no valid prefix.
    """
    out, pos = [], 0
    match = pattern.search(text)
    while match:
        cand = match.group(0)
        ends = [len(cand)] + [i for i in range(len(cand) - 1, 0, -1) if not cand[i].isalnum()]
        end = next((e for e in ends if is_valid(cand[:e])), None)
        if end is None:
            match = pattern.search(text, match.start() + 1)
            continue
        out += [text[pos:match.start()], token]
        pos = match.start() + end
        match = pattern.search(text, pos)
    return "".join(out) + text[pos:]


# --- phone numbers ----------------------------------------------------------------------------
# The pre-filters below also run in pyarrow (RE2) over a whole Series, so they use only
# syntax both engines read alike: literal characters instead of \s, and \d (Python: any
# Unicode decimal digit) becomes \p{Nd} for RE2.
_PHONE_SEP = "[ \t\n\r\f\v\u00a0\u2007\u202f()./\\-\u2010-\u2015\u2212]"
#: a phone number's place: a run of at least 7 digits, neighbours at most three separators apart
_PHONE_WINDOW_RE = re.compile(rf"(?:\+|\(\+?)?\d(?:{_PHONE_SEP}{{0,3}}\d){{6,}}")
#: texts that may hold an IBAN, a card or a phone number (Python and RE2 versions)
_NUMBER_HINT = rf"\d(?:{_PHONE_SEP}{{0,3}}\d){{6,}}|[A-Za-z]{{2}}[0-9]{{2}}"
_NUMBER_HINT_RE, _NUMBER_HINT_RE2 = re.compile(_NUMBER_HINT), _NUMBER_HINT.replace(r"\d", r"\p{Nd}")
_DAY, _MONTH, _YEAR = r"(?:0?[1-9]|[12][0-9]|3[01])", r"(?:0?[1-9]|1[0-2])", r"(?:19|20)[0-9]{2}"
#: dates, times, opening hours, year ranges and ids: their digits are hidden from the phone matcher
_PROTECTED_RE = re.compile(
    rf"""(?<![0-9.])(?:
        {_YEAR}(?P<s1>[-/.]){_MONTH}(?P=s1){_DAY}                               # 2026-10-01
      | {_DAY}(?P<s2>[-/.]){_DAY}(?P=s2){_YEAR}                                # 01.10.2026, 10/01/2026
      | {_DAY}(?P<s3>[./]){_DAY}(?P=s3)[0-9]{{2}}(?![./-][0-9])                # 01.10.26
      | (?:[01]?[0-9]|2[0-3])[:h][0-5][0-9](?::[0-5][0-9])?                     # 10:30, 10h30
      | (?:[01][0-9]|2[0-3])[0-5][0-9]\ ?[-\u2013]\ ?(?:[01][0-9]|2[0-4])[0-5][0-9]  # 0900-1700
      | {_YEAR}\ ?[-\u2013]\ ?{_YEAR}                                          # 2020-2026
    )(?![0-9])
    | \#[0-9][0-9/-]*                                                         # #0301234567
    | \b[A-Z]{{1,5}}-?[0-9][0-9/-]*                                           # ORD-2024-001234, T000123
    """,
    re.VERBOSE,
)
#: written internationally: ``+``, ``00`` or ``011`` first (E.164 allows at most 15 digits)
_INTERNATIONAL_RE = re.compile(r"\(?\+|00|011")
_NANP_RE = re.compile(r"(?:1[ .-])?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])?[0-9]{3}[ .-][0-9]{4}")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15


def _phone_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """``regions`` upper-cased and checked against libphonenumber's; ConfigError otherwise."""
    if isinstance(regions, str):
        raise ConfigError(f"phone regions: expected a sequence of region codes such as ('US', 'DE'), got {regions!r}")
    out = tuple(str(r).upper() for r in regions)
    unknown = [r for r in out if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ConfigError(f"phone regions: unknown region code(s) {unknown}; "
                          "use ISO 3166 alpha-2 codes such as 'US', 'DE'")
    return out


def _phone_spans(text: str, regions: tuple[str, ...], clean: set[str]) -> list[tuple[int, int]]:
    """Start/end of the phone numbers found in ``text`` (see the module docstring).

    Dates, times and ids are hidden first (their digits blanked, so positions carry over).
    A run of digits written internationally with at most 15 digits, or of North-American
    shape, is a number as it stands; any other run goes to libphonenumber's matcher at
    ``Leniency.VALID``, one region after the other until each of its digits lies in a
    number found or the regions run out. Runs in ``clean`` are known to hold no number
    and are skipped; runs found to hold none are added to it.
    """
    hidden = _PROTECTED_RE.sub(lambda m: re.sub(r"[0-9]", "_", m.group(0)), text)
    spans = []
    for window in _PHONE_WINDOW_RE.finditer(hidden):
        raw, start = window.group(0), window.start()
        if raw in clean:
            continue
        n_digits = sum(c.isdigit() for c in raw)
        if (_INTERNATIONAL_RE.match(raw) and n_digits <= _MAX_PHONE_DIGITS) or _NANP_RE.fullmatch(raw):
            spans.append(window.span())
            continue
        todo, found = {i for i, c in enumerate(raw) if c.isdigit()}, len(spans)
        for region in regions:
            for match in phonenumbers.PhoneNumberMatcher(raw, region, leniency=phonenumbers.Leniency.VALID):
                if sum(c.isdigit() for c in match.raw_string) >= _MIN_PHONE_DIGITS:
                    spans.append((start + match.start, start + match.end))
                    todo.difference_update(range(match.start, match.end))
            if not todo:
                break
        if len(spans) == found:
            clean.add(raw)
    return spans


def _mask_phones(text: str, regions: tuple[str, ...]) -> str:
    """Phone numbers masked, repeated until no run of digits left over holds one.

    What is left of a run beside a number found in it is a new run, read again as the
    next call of :func:`mask_pii` would read it: so masking is idempotent.
    """
    clean: set[str] = set()
    while spans := _phone_spans(text, regions, clean):
        merged: list[list[int]] = []  # numbers found in two regions may overlap: one mask for their union
        for start, stop in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(stop, merged[-1][1])
            else:
                merged.append([start, stop])
        for start, stop in reversed(merged):
            text = text[:start] + PHONE_MASK + text[stop:]
    return text


def _mask_numbers(text: str, regions: tuple[str, ...]) -> str:
    """IBANs, then cards, then phone numbers masked in one text."""
    text = _mask_checked(text, _IBAN_RE, _is_iban, IBAN_MASK)
    return _mask_phones(_mask_checked(text, _CARD_RE, _is_card, CARD_MASK), regions)


def _check_text(text: Any, where: str) -> bool:
    """True if ``text`` is a string to process, False if missing; TypeError otherwise."""
    if isinstance(text, str):
        return True
    if text is None or (not isinstance(text, (list, tuple, dict)) and pd.isna(text)):
        return False
    raise TypeError(f"{where}: expected a string or a missing value, got {type(text).__name__}")


def mask_pii(text: str, *, regions: Iterable[str] = PHONE_REGIONS) -> str:
    """Mask e-mail addresses, IBANs, payment cards and phone numbers in one text.

    Parameters
    ----------
    text : str
        Free text; a missing value (None/NaN) is returned unchanged.
    regions : iterable of str, default :data:`PHONE_REGIONS`
        ISO 3166 alpha-2 regions whose national phone formats are recognised; numbers
        written with ``+``/``00`` are recognised whatever the regions.

    Returns
    -------
    str
        The text with every item replaced by ``[email]``, ``[iban]``, ``[card]`` or
        ``[phone]``; see the module docstring for what is and is not detected.

    Raises
    ------
    TypeError
        If ``text`` is neither a string nor missing.
    ConfigError
        If a region code is unknown to libphonenumber.

    Examples
    --------
    >>> mask_pii("Mail jane.doe@janedoe.com or call +1 555 123 4567 before 2026-10-01 10:30")
    'Mail [email] or call [phone] before 2026-10-01 10:30'
    >>> mask_pii("IBAN DE89 3704 0044 0532 0130 00, card 4111-1111-1111-1111, tel 06 12 34 56 78")
    'IBAN [iban], card [card], tel [phone]'
    """
    regions = _phone_regions(regions)
    if not _check_text(text, "mask_pii"):
        return text
    text = _mask_emails(text)
    return _mask_numbers(text, regions) if _NUMBER_HINT_RE.search(text) else text


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


def safe_comment(text: str, *, regions: Iterable[str] = PHONE_REGIONS) -> str:
    """Mask PII, then escape HTML: the form in which a comment may appear in a report.

    Masking comes first so it sees the customer's characters, not entities (see the
    module docstring); ``regions`` as in :func:`mask_pii`.

    Examples
    --------
    >>> safe_comment('<b>Call me</b> on 030/1234567, "jo@example.org"')
    '&lt;b&gt;Call me&lt;/b&gt; on [phone], &quot;[email]&quot;'
    """
    return escape_html(mask_pii(text, regions=regions))


def _as_str_series(series: pd.Series, where: str) -> pd.Series:
    """``series`` as Arrow-backed ``str`` (whose ``str.contains`` runs RE2 in pyarrow)."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"{where}: expected a pandas Series, got {type(series).__name__}")
    return series.astype(pd.StringDtype("pyarrow", na_value=np.nan))


def mask_pii_series(series: pd.Series, *, regions: Iterable[str] = PHONE_REGIONS) -> pd.Series:
    """:func:`mask_pii` over a Series; missing values stay missing, index and name kept.

    Cheap pre-filters run over the whole column in pyarrow; only the texts they pick (an
    ``@`` or a word ``at``; seven digits or the start of an IBAN) go through the
    detectors, one text at a time.

    Examples
    --------
    >>> mask_pii_series(pd.Series(["ann@x.org", None, "tel. 0049 30 1234567"])).tolist()
    ['[email]', nan, 'tel. [phone]']
    """
    regions = _phone_regions(regions)
    s = _as_str_series(series, "mask_pii_series")
    for hint, mask in ((_EMAIL_HINT_RE2, _mask_emails), (_NUMBER_HINT_RE2, partial(_mask_numbers, regions=regions))):
        rows = s.str.contains(hint, regex=True, na=False)
        if rows.any():
            s[rows] = s[rows].map(mask)
    return s


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


def safe_comments(series: pd.Series, *, regions: Iterable[str] = PHONE_REGIONS) -> pd.Series:
    """:func:`safe_comment` over a Series of comments; missing values stay missing.

    Parameters
    ----------
    series : pandas.Series
        Customer comments (``surveys["comment"]``); non-string values are converted
        with ``astype("str")``.
    regions : iterable of str, default :data:`PHONE_REGIONS`
        As in :func:`mask_pii`.

    Returns
    -------
    pandas.Series of str
        Same index and name, each value equal to ``safe_comment(value)``.

    Examples
    --------
    >>> safe_comments(pd.Series(["<script>alert(1)</script>", None])).tolist()
    ['&lt;script&gt;alert(1)&lt;/script&gt;', nan]
    """
    return escape_html_series(mask_pii_series(series, regions=regions))
