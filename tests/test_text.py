"""Tests of slm_lib.text: PII masking and HTML escaping of customer comments."""
from __future__ import annotations

import html
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slm_lib import text as text_module
from slm_lib.errors import ConfigError
from slm_lib.text import escape_html, escape_html_series, mask_pii, mask_pii_series, safe_comment, safe_comments

# --- corpus: every item must be masked whole -------------------------------------------------
#: (country, how it is written): national formats of the default regions and international ones
PHONES = [
    ("US", "1-800-555-1234"), ("US", "+1-800-555-1234"), ("US", "(555) 123-4567"), ("US", "555-123-4567"),
    ("US", "555.123.4567"), ("US", "+1 555 123 4567"), ("US", "+1 (212) 555-0142"), ("US", "(212) 555-0199"),
    ("US", "555-1234"), ("CA", "+1 416 555 0199"),
    ("GB", "+44 20 7946 0958"), ("GB", "+44 (0) 20 7946 0958"), ("GB", "020 7946 0958"), ("GB", "07700 900123"),
    ("GB", "+44 7700 900123"), ("GB", "0800 123 4567"),
    ("DE", "030 12 34 56"), ("DE", "030/1234567"), ("DE", "(030) 123 45 67"), ("DE", "0301234567"),
    ("DE", "0049 30 1234567"), ("DE", "+4930 1234567"), ("DE", "+49 (0)30 1234567"), ("DE", "+49-30-1234567"),
    ("DE", "089 12345678"), ("DE", "0611 234 5678"),
    ("FR", "06 12 34 56 78"), ("FR", "0612345678"), ("FR", "+33 6 12 34 56 78"), ("FR", "+33 (0)1 23 45 67 89"),
    ("FR", "01 23 45 67 89"),
    ("NL", "06-12345678"), ("NL", "020-1234567"), ("NL", "+31 6 12345678"),
    ("ES", "612 34 56 78"), ("ES", "91 123 45 67"), ("ES", "+34 612 34 56 78"),
    ("IT", "06 1234 5678"), ("IT", "333 123 4567"), ("IT", "+39 06 1234 5678"), ("IT", "+39 333 123 4567"),
    ("CN", "+86 138 0013 8000"), ("CN", "138 0013 8000"), ("CN", "13800138000"), ("CN", "010-12345678"),
    ("CN", "021-12345678"), ("CN", "+86 10 1234 5678"),
    ("IN", "+91 98765 43210"), ("IN", "098765 43210"), ("IN", "9876543210"), ("IN", "080 2345 6789"),
    ("IN", "+91 80 2345 6789"),
    ("BR", "+55 11 91234-5678"), ("BR", "(11) 91234-5678"), ("BR", "(21) 2345-6789"), ("BR", "+55 21 2345-6789"),
    ("AU", "+61 2 9876 5432"), ("AU", "(02) 9876 5432"), ("AU", "0412 345 678"), ("AU", "+61 412 345 678"),
    ("JP", "+81 3-1234-5678"), ("JP", "03-1234-5678"), ("JP", "090-1234-5678"), ("JP", "080-1234-5678"),
    ("CH", "+41 44 668 18 00"), ("MX", "+52 55 1234 5678"), ("RU", "+7 495 123-45-67"), ("IE", "+353 1 234 5678"),
    ("AT", "+43 1 234 5678"),
]
#: well-known test card numbers (Luhn-valid), 13 to 19 digits, compact and grouped
CARDS = [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "4012888888881881", "5555 5555 5555 4444",
    "2223 0031 2200 3222", "3782 822463 10005", "371449635398431", "6011 1111 1111 1117", "3056 930902 5904",
    "3530 1113 3330 0000", "6200000000000005", "4222222222222", "6304 0000 0000 0000 018",
]
#: IBAN registry examples of several countries, compact, grouped, dashed and lower-case
IBANS = [
    "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "DE89-3704-0044-0532-0130-00",
    "de89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606", "NL91 ABNA 0417 1643 00", "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456", "BE68 5390 0754 7034", "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201", "PL61 1090 1014 0000 0712 1981 2874", "NO93 8601 1117 947",
    "BR18 0036 0305 0000 1000 9795 493C 1", "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
]
EMAILS = [
    "jane.doe@janedoe.com", "J.Smith+tag@mail.co.uk", "o'brien@example.com", "jörg.müller@beispiel.de",
    "x@münchen.de", "admin@localhost", "first_last-2@sub.domain.example.org", "ALL.CAPS@EXAMPLE.COM",
    "user@[192.168.0.1]", "jane dot doe at gmail dot com", "jane.doe [at] example [dot] org",
    "ann_lee (at) example.co.uk", "PETER AT EXAMPLE DOT COM", "jane.doe at gmail.com", "bob{at}mail.example.net",
    "jane @ doe.com", "jane@ doe.com",
]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize(("country", "number"), PHONES, ids=[f"{c}:{n}" for c, n in PHONES])
def test_phone_corpus_masked_whole(country: str, number: str) -> None:
    out = mask_pii(f"Please call me on {number} tomorrow.")
    assert out == "Please call me on [phone] tomorrow."
    assert _digits(out) == ""


@pytest.mark.parametrize("number", CARDS)
def test_card_corpus_masked_whole(number: str) -> None:
    assert mask_pii(f"My card {number}, expired.") == "My card [card], expired."


@pytest.mark.parametrize("number", IBANS)
def test_iban_corpus_masked_whole(number: str) -> None:
    out = mask_pii(f"Refund to {number} please.")
    assert out == "Refund to [iban] please."


@pytest.mark.parametrize("address", EMAILS)
def test_email_corpus_masked_whole(address: str) -> None:
    out = mask_pii(f"Write to {address}. Thanks")
    assert out == "Write to [email]. Thanks"
    parts = {p.lower() for p in re.split(r"\W+", address) if len(p) > 2} - {"dot"}
    assert not {p for p in parts if p in out.replace("[email]", "").lower()}


def _fullwidth(text: str) -> str:
    """``text`` with ASCII letters, digits, punctuation and spaces in their fullwidth forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


@pytest.mark.parametrize(("item", "token"), [(n, "[phone]") for _, n in PHONES] + [(n, "[card]") for n in CARDS]
                         + [(n, "[iban]") for n in IBANS] + [(a, "[email]") for a in EMAILS])
def test_corpus_in_fullwidth_characters_masked_whole(item: str, token: str) -> None:
    # Japanese and Chinese keyboards type fullwidth digits, letters, @, hyphens and spaces
    assert mask_pii(f"Note: {_fullwidth(item)}, thanks") == f"Note: {token}, thanks"


#: (text, what it becomes): formats a review found leaking; the masks keep the customer's own characters
LEAKS = [
    ("０３－１２３４－５６７８", "[phone]"),                    # fullwidth digits and hyphen (U+FF0D)
    ("０９０ー１２３４ー５６７８", "[phone]"),                  # katakana prolonged sound mark as a dash
    ("電話：０３－１２３４－５６７８（平日）", "電話：[phone]（平日）"),
    ("+49\u201130\u20111234567", "[phone]"),                    # non-breaking hyphens
    ("phone #5551234567", "phone #[phone]"), ("Tel #030 1234567", "Tel #[phone]"), ("ph#555-123-4567", "ph#[phone]"),
    ("FAX-030-1234567", "FAX-[phone]"), ("TEL-03-1234-5678", "TEL-[phone]"), ("Tel.-Nr. 030 1234567", "Tel.-Nr. [phone]"),
    ("card 4111.1111.1111.1111", "card [card]"), ("card 4111_1111_1111_1111", "card [card]"),
    ("card 378282246310006", "card [card]"), ("card 3782 822463 10006", "card [card]"),  # 15 digits, Luhn fails
    ("jane＠example.com", "[email]"), ("ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[email]"),
    ("IBAN: DE 89 3704 0044 0532 0130 00", "IBAN: [iban]"), ("GB 82 WEST 1234 5698 7654 32", "[iban]"),
    ("de 89 3704 0044 0532 0130 00", "[iban]"),
    ("card ٤١١١ ١١١١ ١١١١ ١١١١", "card [card]"),            # Arabic-Indic digits
    ("tel. 512 345 678", "tel. [phone]"), ("Telefonnummer: 0301234567", "Telefonnummer: [phone]"),  # PL, DE
]


@pytest.mark.parametrize(("text", "expected"), LEAKS)
def test_reviewed_leaks_masked_whole(text: str, expected: str) -> None:
    out = mask_pii(text)
    assert out == expected
    assert not [run for run in re.findall(r"\d{4,}", text) if run in out]  # \d: fullwidth digits too
    if "＠" in text:  # no part of an address
        assert not [part for part in re.split(r"\W+", text) if len(part) > 2 and part in out]


def test_fold_translates_every_character_it_changes() -> None:
    # the fold translates only runs outside _FOLD_KEEPS: none of those may change when read
    keeps = [range(ord(a), ord(b) + 1) for a, b in re.findall(r"(.)-(.)", text_module._FOLD_KEEPS)]
    keeps += [[ord(c)] for c in re.sub(r".-.", "", text_module._FOLD_KEEPS)]
    changed = [hex(code) for r in keeps for code in r if chr(code).translate(text_module._FOLD) != chr(code)]
    assert changed == []
    assert text_module._fold("Ａé－ー€") == "Aé--€"


def test_corpus_size() -> None:
    assert len(PHONES) >= 40 and len({c for c, _ in PHONES}) >= 12
    assert len(PHONES) + len(CARDS) + len(IBANS) + len(EMAILS) >= 100


# --- what stays exactly as it was ---------------------------------------------------------------
KEEP = [
    "2026-10-01", "01.10.2026", "10/01/2026", "01/10/2026 09:30", "on 01.10.26 at 10:30", "10:30", "10h30",
    "order 123456", "order #12345", "ticket #0301234567", "ORD-2024-001234", "T000123", "INV-2026/000417",
    "$1,234.56", "€ 1.234,56", "1.234.567,89 EUR", "paid 0.50 on 12345678", "since 2026", "from 2020-2026",
    "open 0900-1700", "0900 - 1700 Mon-Fri", "version 2.10.1234", "192.168.0.1", "order 1234567",
    "invoice 20261001", "@mention stays", "thanks @john", "I was at amazon.com", "meet at 10 dot 30", "3 x 1500 = 4500",
    "Case 00123 closed", "2026-10-01 2026-10-02 2026-10-03", "score 9/10, 100% happy",
    # a reference word right before a number: order, invoice, case, product and tracking numbers
    "invoice inv-2024-000123", "inv-2024-000123", "case 01234567", "reference 9876543210", "ref 1234567890",
    "order 2024-001234", "Order no. 0301234567", "Bestellnummer: 0301234567", "SKU 0123456789012 (EAN)",
    "USPS 9400 1000 0000 0000 0000 00", "tracking 9400 1000 0000 0000 0000 00",  # 22 digits: no card inside
    "受付時間：１０：３０～１８：００", "ｺｰﾋｰ ２杯",
]


@pytest.mark.parametrize("text", KEEP)
def test_texts_that_stay_untouched(text: str) -> None:
    assert mask_pii(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an IBAN is masked whole, never cut by a phone mask and no country code is invented
        ("IBAN GB82 WEST 1234 5698 7654 32 or call +44 20 7946 0958",
         "IBAN [iban] or call [phone]"),
        ("BE68 5390 0754 7034 from BE, DE89 3704 0044 0532 0130 00", "[iban] from BE, [iban]"),
        ("DE89 3704 0044 0532 0130 01 (mistyped check digits)", "[iban] (mistyped check digits)"),
        ("card 4111 1111 1111 1111 12/27, tel 0612345678/0712345678", "card [card] 12/27, tel [phone]/[phone]"),
        ("call +49 30 1234567 on 2026-10-01 at 10:30", "call [phone] on 2026-10-01 at 10:30"),
        ("+1 555 123 4567@x.com", "[phone] [email]"),
        ("12 4111 1111 1111 1111 and 4111.1111.1111.1111", "12 [card] and [card]"),
        ("+491234567890123 or 4111 1111 1111 1111 5555", "[phone] or 4111 1111 1111 1111 5555"),  # 20 digits: no card
        # a phone number masked in a longer run frees the card before it, in the same call
        ("4111 1111 1111 1111 0301234567", "[card] [phone]"), ("100000000000000 0100000", "[card] [phone]"),
        ("call 2026-10-01 at 10:30, tel 0900-1700", "call 2026-10-01 at 10:30, tel 0900-1700"),
        ("お問い合わせ：０９０ー１２３４ー５６７８　ｊｏ＠ｅｘａｍｐｌｅ．ｊｐ", "お問い合わせ：[phone]　[email]"),
        ("http://user:secret@host/path", "http://user:[email]/path"),
        ("two: a@b.com;cd@e.com", "two: [email];[email]"),
        ("<ann@y.de>", "<[email]>"),
    ],
)
def test_mixed_texts(text: str, expected: str) -> None:
    assert mask_pii(text) == expected
    assert mask_pii(expected) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-001234", "[phone]"),                   # a valid Chinese/US number: privacy first
        ("1234567890", "[phone]"),                    # a valid Indian/Brazilian mobile number
        ("order number is 1234567890", "order number is [phone]"),  # the reference word is not right before
        ("order +1 555 123 4567", "order [phone]"),   # written internationally: a phone number after any word
        ("ref 0049 30 1234567", "ref [phone]"),
        ("order 3782 822463 10005", "order [card]"),  # a reference word never hides a card
        ("call 1234567", "call [phone]"),             # a phone word right before: 7 to 15 digits are a number
        ("order 1234 5678 9012 3456", "order [card]"),  # 16 digits in card groups, Luhn or not
        ("4111 1111 1111 1112", "[card]"),
    ],
)
def test_collisions_mask_on_the_privacy_side(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_regions_keyword() -> None:
    assert mask_pii("reach me on 06 12 34 56 78", regions=["US"]) == "reach me on 06 12 34 56 78"
    assert mask_pii("reach me on 06 12 34 56 78", regions=["fr"]) == "reach me on [phone]"
    assert mask_pii("tel 06 12 34 56 78", regions=["US"]) == "tel [phone]"  # a phone word: any region
    assert mask_pii("tel +33 6 12 34 56 78", regions=[]) == "tel [phone]"  # international needs no region
    got = safe_comments(pd.Series(["06 12 34 56 78"]), regions=("US",))
    assert got.iloc[0] == "06 12 34 56 78"
    with pytest.raises(ConfigError, match="unknown region code.*'XX'"):
        mask_pii("x", regions=["XX"])
    with pytest.raises(ConfigError, match="expected a sequence"):
        mask_pii_series(pd.Series(["x"]), regions="US")


def test_script_is_inert() -> None:
    assert safe_comment("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_html("a & b \"c\" 'd'") == "a &amp; b &quot;c&quot; &#x27;d&#x27;"


def test_masking_before_escaping_matters() -> None:
    text = "o'brien@example.com"
    # escaping first turns ' into &#x27; and the entity's ';' would cut the local part
    assert mask_pii(escape_html(text)) == "o&#x27;[email]"
    assert safe_comment(text) == "[email]"


def test_series_preserves_missing_index_and_name() -> None:
    comments = pd.Series(
        ["<b>call 030/1234567</b>", None, "mail ann@x.org", np.nan], index=[10, 11, 12, 13], name="comment", dtype=object
    )
    got = safe_comments(comments)
    assert list(got.index) == [10, 11, 12, 13] and got.name == "comment"
    assert got.iloc[0] == "&lt;b&gt;call [phone]&lt;/b&gt;"
    assert got.iloc[2] == "mail [email]"
    assert got.isna().tolist() == [False, True, False, True]
    assert mask_pii_series(pd.Series(["ann@x.org"])).iloc[0] == "[email]"
    assert escape_html_series(pd.Series(["<"])).iloc[0] == "&lt;"
    twice = pd.Series(["ｊｏ＠ｘ．ｏｒｇ", "tel ０３－１２３４－５６７８", "keep"], index=[7, 7, 7])  # folded rows, one label
    assert mask_pii_series(twice).tolist() == ["[email]", "tel [phone]", "keep"]
    default_dtype = pd.Series(["x@y.z", None])  # pandas' own string dtype
    assert safe_comments(default_dtype).iloc[0] == "[email]" and safe_comments(default_dtype).isna().iloc[1]


def test_scalar_missing_and_wrong_types() -> None:
    assert mask_pii(None) is None
    assert np.isnan(safe_comment(np.nan))
    with pytest.raises(TypeError, match="mask_pii: expected a string"):
        mask_pii(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a pandas Series"):
        safe_comments(["a"])  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------
TRICKY = st.text(alphabet=st.sampled_from(list("abtDE.@+-()/[] 0123456789<>&'\"*#:;,\n_０３－ー＠")), max_size=60)
#: pieces of addresses, IBANs, cards, phone numbers, dates and ids, glued in any order
PIECES = st.lists(st.sampled_from(["jane", "doe", " at ", " dot ", "(at)", "[dot]", ".", "@", "com", "DE89", "3704",
                                   "0044", "4111", "1111", "+44", "06", "12", "34", " ", "-", "/", "#", "ORD-", "2026",
                                   "10:30", "(0)", "<b>", "&", "'", "tel", "#", "order ", "５５５", "ー", "＠", "."]),
                  max_size=12).map("".join)
TEXTS = st.one_of(st.text(max_size=60), TRICKY, PIECES)
#: characters that delimit an address's local part when reading leftwards from '@'
DELIMITERS = set('()<>[]{}:;,"@\\')


def as_read(text: str) -> str:
    """``text`` as the masks read it: each character in its NFKC form where that is one character."""
    return "".join(n if len(n := unicodedata.normalize("NFKC", c)) == 1 else c for c in text)


def local_part_before(text: str, at: int) -> str:
    start = at
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in DELIMITERS:
        start -= 1
    return text[start:at]


@settings(max_examples=100, deadline=None)
@given(TEXTS)
def test_output_is_inert_and_addresses_hidden(text: str) -> None:
    out = safe_comment(text)
    assert not set(out) & set("<>\"'")
    masked = as_read(html.unescape(out))  # a fullwidth ＠ or ： reads as @ or :
    assert html.unescape(out) == mask_pii(text)
    for match in re.finditer("@", masked):
        assert local_part_before(masked, match.start()) == ""


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXTS), max_size=8))
def test_series_matches_scalar(values: list[str | None]) -> None:
    got = safe_comments(pd.Series(values, dtype=object))
    expected = [None if v is None else safe_comment(v) for v in values]
    assert [None if pd.isna(g) else g for g in got] == expected


@settings(max_examples=60, deadline=None)
@given(TEXTS)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


@settings(max_examples=100, deadline=None)
@given(TEXTS.map(lambda t: "".join(c for c in t if c.isascii())))
def test_fullwidth_text_masked_like_its_ascii_form(text: str) -> None:
    # the detectors read fullwidth characters as their ASCII forms; what is kept stays fullwidth
    tokens = r"(\[(?:email|iban|card|phone)\])"
    assume(not re.search(tokens, text))
    expected = "".join(part if i % 2 else _fullwidth(part) for i, part in enumerate(re.split(tokens, mask_pii(text))))
    assert mask_pii(_fullwidth(text)) == expected


NUMBERS = [n for _, n in PHONES] + CARDS + IBANS
#: words and punctuation around a number; no digits, so any digit in the output is the number's
PROSE = st.text(alphabet=st.sampled_from(list("abcxyz .,;:!?()'")), max_size=20)


@settings(max_examples=100, deadline=None)
@given(PROSE, st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=3), PROSE)
def test_no_seven_digits_of_a_number_survive(before: str, numbers: list[str], after: str) -> None:
    text = f"{before} " + " and ".join(numbers) + f" {after}"
    out_digits = _digits(mask_pii(text))
    for number in numbers:
        digits = _digits(number)
        assert not [digits[i:i + 7] for i in range(len(digits) - 6) if digits[i:i + 7] in out_digits]
    assert mask_pii(mask_pii(text)) == mask_pii(text)
