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
is never cut into by a later mask (an IBAN never gets a phone mask inside it). IBANs,
cards and phone numbers are looked for again until none is found, so what one mask frees
(a card in a run of digits that also held a phone number) is masked in the same call, and
masking a masked text changes nothing.

The detectors read a *folded* copy of the text: each character whose compatibility
(NFKC) form is one character becomes that form (fullwidth ``０３－１２３４`` and ``＠``,
no-break and ideographic spaces), every dash (``‐ – — − ー ｰ``, soft hyphen) becomes
``-`` and every decimal digit of any script its ASCII digit. The fold keeps one character
for one, so what it finds is masked in the customer's own text: the reader sees the
comment as written (``電話：０３－１２３４－５６７８（平日）`` -> ``電話：[phone]（平日）``), not its
normalised form. Characters whose NFKC form is longer (``⑩``, ``½``) are read as written.

E-mail -> ``[email]``
    The local part (the run of visible characters before ``@``, up to whitespace or one
    of ``()<>[]{}:;,"\\``), the ``@`` and the domain (dot-separated labels of letters,
    digits, ``_`` and ``-``, or an address literal such as ``[192.168.0.1]``):
    ``jane.doe@janedoe.com.`` -> ``[email].``, ``jane＠example.com`` -> ``[email]``. Every
    ``@`` with a local part is masked, valid domain or not (``admin@localhost``,
    ``jane@ doe.com``, ``me@ home`` -> ``[email] home``).
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
    ``IBAN: DE 89 3704 0044 0532 0130 00``, any case). It is an IBAN when the rest has the
    length and structure that the IBAN registry (python-stdnum's copy) gives for the
    country, whatever the check digits (a mistyped IBAN is masked too), or, for a country
    missing from that registry and written ``XX00`` (not ``XX 00``, which words such as
    ``on 09`` would fake), when the ISO 13616 mod-97 checksum holds.
Payment card -> ``[card]``
    13 to 19 digits starting with 1-9, written compact, in groups of four (the last group
    may be shorter) or as 4-6-5 / 4-6-4 (American Express, Diners), separated by spaces,
    dashes, dots or underscores (``4111.1111.1111.1111``, ``4111_1111_1111_1111``), that
    pass the Luhn check (``4111 1111 1111 1111``). A 15- or 16-digit number in one of
    these shapes is masked even when the Luhn check fails: a mistyped card number is still
    one, so an order number of exactly 15 or 16 digits is masked too (privacy first). A
    card is looked for inside a run of digits with single separators between them
    (``12 4111 1111 1111 1111`` -> ``12 [card]``), but a run of more than 19 digits holds
    none: a 22-digit parcel number (``9400 1000 0000 0000 0000 00``) is not a card and a
    leftover.
Phone -> ``[phone]``
    A run of at least 7 digits (neighbours at most three separators apart: spaces, dots,
    dashes, underscores, slashes, brackets) is a phone number when it is written
    internationally (``+``, ``00`` or ``011`` first) with at most 15 digits
    (``+44 20 7946 0958``, ``0049 30 1234567``, ``+1 555 123 4567``), when it comes right
    after a phone word with at most 15 digits (``tel``, ``phone``, ``ph``, ``fax``,
    ``call``, ``mobile``, ``cell``, ``whatsapp``, ``sms``, ``Telefon``, ``Handy``,
    ``téléphone``, ``móvil``, ``電話`` and the like, with ``.``, ``:``, ``#``, ``-`` or a
    word for "number" between: ``Tel.-Nr. 030 1234567``, ``phone #5551234567``,
    ``FAX-030-1234567``), or when it has the North-American shape (``(555) 123-4567``,
    ``555-123-4567``, ``555.123.4567``, ``555-1234``); any other run goes to Google's
    libphonenumber (``phonenumbers.PhoneNumberMatcher`` at ``Leniency.VALID``: a valid
    number of the region, with the trunk prefix where the region writes one) for each of
    ``regions`` (default :data:`PHONE_REGIONS`: US, GB, DE, FR, NL, ES, IT, CN, IN, BR,
    AU, JP), which finds national formats such as ``06 12 34 56 78``, ``030 12 34 56``,
    ``1-800-555-1234``, ``020 7946 0958``, ``138 0013 8000``, ``03-1234-5678``. Texts
    without such a run never reach the matcher, which costs about 1 ms per run that holds
    no number.
Not masked (kept exactly): dates (``2026-10-01``, ``01.10.2026``, ``10/01/2026``,
``01.10.26``), times (``10:30``, ``10h30``), opening hours (``0900-1700``), year ranges
(``2020-2026``), ids after ``#`` (``#12345``, ``ticket #0301234567``) or glued to a code
of up to five letters (``ORD-2024-001234``, ``inv-2024-000123``, ``T000123``), a number
right after a reference word (``invoice``, ``case``, ``ticket``, ``ref``, ``reference``,
``order``, ``SKU``, ``EAN``, ``tracking``, ``parcel``, ``Rechnung``, ``Bestellnummer``,
``commande``, ``pedido`` and the like, with the same ``.:#-`` or "number" between:
``case 01234567``, ``reference 9876543210``, ``SKU 0123456789012``, ``Order no.
2024-001234``) unless it is written internationally, amounts (``$1,234.56``,
``€ 1.234,56``, ``1.234.567,89 EUR``), years, version numbers (``2.10.1234``), IP
addresses, digit runs of more than 19 digits in which no phone number is found
(``USPS 9400 1000 0000 0000 0000 00``), and numbers that are neither international, nor
after a phone word, nor valid in a region, nor of the North-American shape (``order
123456``, ``ref 12345678``). Reference words, ``#`` and codes never hide a number from the
card and IBAN detectors (``order 1234 5678 9012 3456`` -> ``order [card]``), and a phone
word before a ``#`` or a code lifts their protection (``phone #5551234567``).
Where a national phone format and such a text collide, the number is masked: a bare
``1234567890`` or ``2024-001234`` is a valid Indian/Brazilian or Chinese/US number, and a
reference number after words other than a reference word (``order number is
1234567890``) or written with ``00`` first reads as international; all become
``[phone]``. A bare 13-digit EAN is not told apart by its check digit, which one number in
ten passes by chance: a reference word before it is what keeps it. Not caught: a card
number run on into more digits with single separators, so that the run holds more than 19
(two card numbers in a row, ``4111 1111 1111 1111 5555 5555 5555 4444``), unless a phone
number found in that run is masked and frees it (``4111 1111 1111 1111 0301234567`` ->
``[card] [phone]``).
"""
from __future__ import annotations

import html
import re
import unicodedata
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


# --- what the detectors read --------------------------------------------------------------------
#: dash-like characters outside Unicode's dash punctuation (Pd) that separate digits too
_DASHES = "\u00ad\u02d7\u2043\u2212\u30fc"  # soft hyphen, modifier minus, hyphen bullet, minus, katakana ー


class _FoldTable(dict[int, int]):
    """``str.translate`` table of the character each character is read as, filled on first sight.

    A character becomes its NFKC form when that is one character (fullwidth ``０３－＠`` ->
    ``03-@``, no-break and ideographic spaces -> space), then any dash (Pd or
    :data:`_DASHES`) ``-`` and any decimal digit of any script its ASCII digit; everything
    else, and characters whose NFKC form is longer (``⑩``, ``½``), stay as they are. One
    character for one keeps positions: a span found in the folded text is the same span of
    the customer's text.
    """

    def __missing__(self, code: int) -> int:
        char = unicodedata.normalize("NFKC", chr(code))
        char = char if len(char) == 1 else chr(code)
        if unicodedata.category(char) == "Pd" or char in _DASHES:
            char = "-"
        elif (digit := unicodedata.decimal(char, None)) is not None:
            char = str(digit)
        self[code] = ord(char)
        return self[code]


_FOLD = _FoldTable()
#: letters and punctuation of common scripts that the fold keeps (Latin-1 and Latin
#: Extended-A letters, Greek, Cyrillic, curly quotes, CJK punctuation, kana, CJK
#: ideographs, Hangul): runs of other non-ASCII characters are all it has to translate
_FOLD_KEEPS = ("\u00c0-\u017e\u0388-\u03ce\u0400-\u04ff\u2018-\u201f\u3001\u3002\u3008-\u3011"
               "\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff\uac00-\ud7a3")
#: a run of characters that the fold may change (Python and RE2)
_TO_FOLD_RE2 = rf"[^\x00-\x7f{_FOLD_KEEPS}]+"
_TO_FOLD_RE = re.compile(_TO_FOLD_RE2)


def _fold(text: str) -> str:
    """``text`` as the detectors read it (:class:`_FoldTable`); ASCII text is its own fold."""
    return text if text.isascii() else _TO_FOLD_RE.sub(lambda run: run.group(0).translate(_FOLD), text)


def _replaced(text: str, spans: Iterable[tuple[int, int]], token: str) -> str:
    """``text`` with each span (sorted by start) replaced by ``token``; spans that overlap
    or touch get one token for their union."""
    out, pos = [], 0
    for start, stop in spans:
        if out and start <= pos:  # touches the span before: extend that mask
            pos = max(pos, stop)
            continue
        out += [text[pos:start], token]
        pos = stop
    return "".join(out) + text[pos:] if out else text


def _masked(text: str, find: Callable[[str], list[tuple[int, int]]], token: str) -> str:
    """``text`` with the spans that ``find`` reports in its fold replaced by ``token``."""
    return _replaced(text, find(_fold(text)), token)


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
#: RE2 pre-filter of the (folded) texts that may hold an address: an ``@``, or ``at`` between non-letters
_EMAIL_HINT_RE2 = r"@|(?i)\Wat\W"


def _is_obfuscated(match: re.Match[str]) -> bool:
    """An obfuscated address; a spelled ``at`` needs more evidence (module doc)."""
    bracketed = match.group("at").strip()[:1] in "[({<@"
    return bool(bracketed or _SPELLED_DOT_RE.search(match.group(0)) or re.search(r"[._+]", match.group("local")))


def _mask_emails(text: str) -> str:
    """Plain, then obfuscated addresses masked in one text."""
    text = _masked(text, lambda folded: [m.span() for m in _EMAIL_RE.finditer(folded)], EMAIL_MASK)
    return _masked(text, lambda folded: [m.span() for m in _OBFUSCATED_RE.finditer(folded) if _is_obfuscated(m)],
                   EMAIL_MASK)


# --- IBAN and payment cards --------------------------------------------------------------------
_IBAN_RE = re.compile(r"(?<![^\W_])[A-Za-z]{2}[ -]?[0-9]{2}(?:[ -]?[A-Za-z0-9]){11,30}(?![^\W_])")
_CARD_SEP = "[ ._-]"
_CARD_SHAPE_RE = re.compile(
    rf"[1-9][0-9]{{12,18}}|[1-9][0-9]{{3}}(?:{_CARD_SEP}[0-9]{{4}}){{2,3}}(?:{_CARD_SEP}[0-9]{{1,4}})?"
    rf"|[1-9][0-9]{{3}}{_CARD_SEP}[0-9]{{6}}{_CARD_SEP}[0-9]{{4,5}}")
#: a run of digits with single separators between them (and a word character glued to its end)
_DIGIT_RUN_RE = re.compile(rf"(?<![\w+])(?<![0-9]{_CARD_SEP})[0-9](?:{_CARD_SEP}?[0-9])*+\w?")
_MIN_CARD_DIGITS, _MAX_CARD_DIGITS = 13, 19


def _is_iban(candidate: str) -> bool:
    """The registry's length and structure for the country fit, check digits aside; or, for
    a country missing from the registry, written ``XX00`` (not ``XX 00``), the mod-97
    checksum holds."""
    number = iban.compact(candidate)
    try:
        iban.validate(number[:2] + iban.calc_check_digits(number) + number[4:], check_country=False)
    except InvalidComponent:  # country not in the registry
        return candidate[2:3].isdigit() and 15 <= len(number) <= 34 and mod_97_10.is_valid(number[4:] + number[:4])
    except ValidationError:
        return False
    return True


def _is_card(candidate: str) -> bool:
    """Card shape with 13-19 digits and a valid Luhn check digit, or any 15 or 16 digits."""
    digits = re.sub(r"[^0-9]", "", candidate)
    return (_CARD_SHAPE_RE.fullmatch(candidate) is not None
            and _MIN_CARD_DIGITS <= len(digits) <= _MAX_CARD_DIGITS and (len(digits) in (15, 16) or luhn.is_valid(digits)))


def _valid_prefix(candidate: str, is_valid: Callable[[str], bool]) -> int | None:
    """Length of the longest prefix of ``candidate`` that ends before a separator (or at its
    end) and passes ``is_valid``; None if there is none."""
    ends = [len(candidate)] + [i for i in range(len(candidate) - 1, 0, -1) if not candidate[i].isalnum()]
    return next((end for end in ends if is_valid(candidate[:end])), None)


def _iban_spans(text: str) -> list[tuple[int, int]]:
    """IBANs in ``text``: the longest valid prefix of each candidate.

    A candidate may run on into the next word or number ("BE68 5390 0754 7034 from"), so
    its prefixes ending before a separator are tried, longest first; scanning resumes
    after the IBAN, or one character after a candidate with no valid prefix.
    """
    spans = []
    match = _IBAN_RE.search(text)
    while match:
        end = _valid_prefix(match.group(0), _is_iban)
        if end is None:
            match = _IBAN_RE.search(text, match.start() + 1)
            continue
        spans.append((match.start(), match.start() + end))
        match = _IBAN_RE.search(text, match.start() + end)
    return spans


def _card_spans(text: str) -> list[tuple[int, int]]:
    """Card numbers in ``text``: in each run of at most 19 digits, the leftmost, then
    longest, part between separators that is a card; a longer run holds none."""
    spans = []
    for run in _DIGIT_RUN_RE.finditer(text):
        digits = sum(c.isdigit() for c in run.group(0))
        if not _MIN_CARD_DIGITS <= digits <= _MAX_CARD_DIGITS:
            continue
        for start in [0] + [i + 1 for i, c in enumerate(run.group(0)) if not c.isalnum()]:
            end = _valid_prefix(run.group(0)[start:], _is_card)
            if end is not None:
                spans.append((run.start() + start, run.start() + start + end))
                break
    return spans


# --- phone numbers ----------------------------------------------------------------------------
# The pre-filters below also run in pyarrow (RE2) over a whole (folded) Series, so they use
# only syntax both engines read alike: ASCII classes, no \s, \d or \w.
_PHONE_SEP = r"[ \t\n\r\f\v()./\\_-]"
#: a phone number's place: a run of at least 7 digits, neighbours at most three separators apart
_PHONE_WINDOW_RE = re.compile(rf"(?:\+|\(\+?)?[0-9](?:{_PHONE_SEP}{{0,3}}[0-9]){{6,}}")
#: texts that may hold an IBAN, a card or a phone number (Python and RE2)
_NUMBER_HINT_RE2 = rf"[0-9](?:{_PHONE_SEP}{{0,3}}[0-9]){{6,}}|[A-Za-z]{{2}}[ -]?[0-9]{{2}}(?:[ -]?[A-Za-z0-9]){{11}}"
_NUMBER_HINT_RE = re.compile(_NUMBER_HINT_RE2)
_DAY, _MONTH, _YEAR = r"(?:0?[1-9]|[12][0-9]|3[01])", r"(?:0?[1-9]|1[0-2])", r"(?:19|20)[0-9]{2}"
#: words that say a phone number follows (English and common others), as word or compound
_PHONE_WORDS = (r"tel|telephone|phone|ph|fon|fax|call|mob|mobile?|cell|cellphone|whats-?app|sms|handy|telefon|telefono"
                r"|telefone|telefoon|t[eé]l[eé]fono|t[eé]l|t[eé]l[eé]phone|m[oó]vil|portable|cellulare|celular")
#: words that say an order, invoice, case, product or parcel number follows
_REFERENCE_WORDS = (r"invoice|inv|case|ticket|ref|reference|order|ord|sku|ean|gtin|upc|isbn|tracking|parcel|shipment"
                    r"|usps|rechnung|bestell(?:ung)?|auftrag|sendung|kunden|commande|facture|r[eé]f[eé]rence|referenz"
                    r"|pedido|factura|referencia|ordine|fattura|riferimento")
_NUMBER_WORD = r"(?:no|nr|number|num|nummer|id|n°)"
#: after a phone or reference word: ``.``, ``:``, ``#``, dashes and a word for "number" (``Tel.-Nr. ``)
_FILLER = rf"(?:\.?[\s:#.-]*{_NUMBER_WORD}\.?(?![^\W\d_]))?[\s:#.-]*"
_PROTECTED_RE = re.compile(
    # the guard first: most positions (inside a word or a number) fail it at once
    rf"""(?:(?<!\w)(?=[^\W\d_])|(?<![0-9.])(?=[0-9])|(?=[\#電电手携]))
    (?: (?P<phone>(?:(?:{_PHONE_WORDS})(?:s?-?{_NUMBER_WORD})?(?![^\W\d_])
                   |電話|电话|手机|携帯)(?:番号|号码)?{_FILLER})                     # Tel.-Nr. , phone #, FAX-
      | (?:{_REFERENCE_WORDS})(?:s?-?{_NUMBER_WORD})?(?![^\W\d_]){_FILLER}
        (?!\+|00[1-9]|011[1-9])(?:[A-Za-z]{{1,5}}-?)?[0-9](?:[ ./-]?[0-9])*  # order 2024-001234, SKU 0123456789012
      | (?:{_YEAR}(?P<s1>[-/.]){_MONTH}(?P=s1){_DAY}                            # 2026-10-01
        | {_DAY}(?P<s2>[-/.]){_DAY}(?P=s2){_YEAR}                              # 01.10.2026, 10/01/2026
        | {_DAY}(?P<s3>[./]){_DAY}(?P=s3)[0-9]{{2}}(?![./-][0-9])              # 01.10.26
        | (?:[01]?[0-9]|2[0-3])[:h][0-5][0-9](?::[0-5][0-9])?                   # 10:30, 10h30
        | (?:[01][0-9]|2[0-3])[0-5][0-9]\ ?-\ ?(?:[01][0-9]|2[0-4])[0-5][0-9]  # 0900-1700
        | {_YEAR}\ ?-\ ?{_YEAR}                                               # 2020-2026
        )(?![0-9])
      | \#[0-9][0-9/-]*                                                       # #0301234567
      | [A-Za-z]{{1,5}}-?[0-9][0-9/-]*                                        # ORD-2024-001234, T000123
    )""",
    re.VERBOSE | re.IGNORECASE,
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


def _hide_protected(text: str) -> tuple[str, set[int]]:
    """``text`` with the digits of dates, times, ids and reference numbers blanked (so
    positions carry over), and the positions right after a phone word."""
    out, pos, after_phone_word = [], 0, set()
    for match in _PROTECTED_RE.finditer(text):
        if match.group("phone") is not None:
            after_phone_word.add(match.end())
            continue
        out += [text[pos:match.start()], re.sub(r"[0-9]", "x", match.group(0))]
        pos = match.end()
    return "".join(out) + text[pos:], after_phone_word


def _phone_spans(text: str, regions: tuple[str, ...], clean: set[str]) -> list[tuple[int, int]]:
    """Start/end of the phone numbers found in (folded) ``text`` (see the module docstring).

    Dates, times, ids and reference numbers are hidden first. A run of digits written
    internationally with at most 15 digits, right after a phone word with 7 to 15 digits,
    or of North-American shape, is a number as it stands; any other run goes to
    libphonenumber's matcher at ``Leniency.VALID``, one region after the other until each
    of its digits lies in a number found or the regions run out. Runs in ``clean`` are
    known to hold no number and are skipped; runs found to hold none are added to it.
    """
    if not _PHONE_WINDOW_RE.search(text):  # hiding only takes digits away
        return []
    hidden, after_phone_word = _hide_protected(text)
    spans = []
    for window in _PHONE_WINDOW_RE.finditer(hidden):
        raw, start = window.group(0), window.start()
        n_digits = sum(c.isdigit() for c in raw)
        if ((_INTERNATIONAL_RE.match(raw) or start in after_phone_word) and n_digits <= _MAX_PHONE_DIGITS
                or _NANP_RE.fullmatch(raw)):
            spans.append(window.span())
            continue
        if raw in clean:
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
    return sorted(spans)


def _mask_numbers(text: str, regions: tuple[str, ...]) -> str:
    """IBANs, then cards, then phone numbers masked in one text, repeated until none is found.

    What is left of a run beside a number masked in it is a new run (the rest of a run
    beside a phone number, a card no longer inside a run of more than 19 digits), read
    again as the next call of :func:`mask_pii` would read it: so masking is idempotent.
    Phone numbers found in two regions may overlap: they get one mask for their union.
    Runs found to hold no phone number are not given to the matcher again.
    """
    clean: set[str] = set()
    while True:
        masked = _masked(_masked(text, _iban_spans, IBAN_MASK), _card_spans, CARD_MASK)
        masked = _replaced(masked, _phone_spans(_fold(masked), regions, clean), PHONE_MASK)
        if masked == text:
            return text
        text = masked


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
    return _mask_numbers(text, regions) if _NUMBER_HINT_RE.search(_fold(text)) else text


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


def _folded_series(s: pd.Series) -> pd.Series:
    """The texts of ``s`` as the detectors read them (:func:`_fold`), on a fresh 0..n-1 index."""
    flat = s.reset_index(drop=True)
    rows = flat.str.contains(_TO_FOLD_RE2, regex=True, na=False)
    if not rows.any():
        return flat
    picked = flat[rows]
    return flat.mask(rows, pd.Series([_fold(text) for text in picked.tolist()], index=picked.index, dtype=flat.dtype))


def mask_pii_series(series: pd.Series, *, regions: Iterable[str] = PHONE_REGIONS) -> pd.Series:
    """:func:`mask_pii` over a Series; missing values stay missing, index and name kept.

    Cheap pre-filters run over the whole (folded) column in pyarrow; only the texts they
    pick (an ``@`` or a word ``at``; seven digits or the start of an IBAN) go through the
    detectors, one text at a time.

    Examples
    --------
    >>> mask_pii_series(pd.Series(["ann@x.org", None, "tel. 0049 30 1234567"])).tolist()
    ['[email]', nan, 'tel. [phone]']
    """
    regions = _phone_regions(regions)
    s = _as_str_series(series, "mask_pii_series")
    folded = _folded_series(s)
    # both pre-filters read the unmasked texts: masking an address only takes characters
    # away, so a text whose numbers need masking afterwards was picked before it
    picked = [(folded.str.contains(hint, regex=True, na=False).to_numpy(), mask) for hint, mask in
              ((_EMAIL_HINT_RE2, _mask_emails), (_NUMBER_HINT_RE2, partial(_mask_numbers, regions=regions)))]
    for rows, mask in picked:
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
