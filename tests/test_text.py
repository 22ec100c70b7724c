"""Tests of slm_lib.text: PII masking and HTML escaping of customer comments."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.text import escape_html, escape_html_series, mask_pii, mask_pii_series, safe_comment, safe_comments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("Contact: J.Smith+tag@mail.co.uk.", "Contact: J***@mail.co.uk."),
        ("(bob@x.org), <ann@y.de>", "(b***@x.org), <a***@y.de>"),
        ("o'brien@example.com", "o***@example.com"),
        ("two: a@b.com;cd@e.com", "two: a***@b.com;c***@e.com"),
        ("admin@localhost", "a***@localhost"),
        ("http://user:secret@host/path", "http://user:s***@host/path"),
        ("jörg.müller@beispiel.de", "j***@beispiel.de"),
        ("@mention stays", "@mention stays"),
    ],
)
def test_mask_email(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 555 123 4567", "+1 *** *** 4567"),
        ("+1-555-123-4567", "+1 *** *** 4567"),
        ("+1.555.123.4567.", "+1 *** *** 4567."),
        ("(555) 123-4567", "*** *** 4567"),
        ("555-123-4567", "*** *** 4567"),
        ("555.123.4567", "*** *** 4567"),
        ("0049 30 1234567", "+49 *** *** 4567"),
        ("+4930 1234567", "+49 *** *** 4567"),
        ("+44 (0) 20 7946 0958", "+44 *** *** 0958"),
        ("+353 1 234 5678", "+353 *** *** 5678"),
        ("030/1234567", "*** *** 4567"),
        ("(030) 123 45 67", "*** *** 4567"),
        ("0301234567", "*** *** 4567"),
        ("Tel.: 030-123 4567, thanks", "Tel.: *** *** 4567, thanks"),
        ("call +49 30 1234567 on 2026-10-01 at 10:30", "call +49 *** *** 4567 on 2026-10-01 at 10:30"),
        ("+49 30 1234567 2026-10-01", "+49 *** *** 4567 2026-10-01"),
        ("+1 555 123 4567@x.com", "+1 *** *** 5123 4***@x.com"),  # the address mask is never re-read
    ],
)
def test_mask_phone(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01",
        "01.10.2026",
        "01/10/2026 09:30",
        "10:30",
        "order 123456",
        "order #12345",
        "ticket #0301234567",
        "$1,234.56",
        "1.234.567,89 EUR",
        "paid 0.50 on 12345678",
        "since 2026",
        "open 0900-1700",
        "192.168.0.1",
        "0049 30",  # too few digits to be a number
    ],
)
def test_no_false_positives(text: str) -> None:
    assert mask_pii(text) == text


def test_script_is_inert() -> None:
    assert safe_comment("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_html("a & b \"c\" 'd'") == "a &amp; b &quot;c&quot; &#x27;d&#x27;"


def test_masking_before_escaping_matters() -> None:
    text = "o'brien@example.com"
    # escaping first turns ' into &#x27; and the entity's ';' would cut the local part
    assert mask_pii(escape_html(text)) == "o&#x27;b***@example.com"
    assert safe_comment(text) == "o***@example.com"


def test_series_preserves_missing_index_and_name() -> None:
    comments = pd.Series(
        ["<b>call 030/1234567</b>", None, "mail ann@x.org", np.nan], index=[10, 11, 12, 13], name="comment", dtype=object
    )
    got = safe_comments(comments)
    assert list(got.index) == [10, 11, 12, 13] and got.name == "comment"
    assert got.iloc[0] == "&lt;b&gt;call *** *** 4567&lt;/b&gt;"
    assert got.iloc[2] == "mail a***@x.org"
    assert got.isna().tolist() == [False, True, False, True]
    assert mask_pii_series(pd.Series(["ann@x.org"])).iloc[0] == "a***@x.org"
    assert escape_html_series(pd.Series(["<"])).iloc[0] == "&lt;"
    default_dtype = pd.Series(["x@y.z", None])  # pandas' own string dtype
    assert safe_comments(default_dtype).iloc[0] == "x***@y.z" and safe_comments(default_dtype).isna().iloc[1]


def test_scalar_missing_and_wrong_types() -> None:
    assert mask_pii(None) is None
    assert np.isnan(safe_comment(np.nan))
    with pytest.raises(TypeError, match="mask_pii: expected a string"):
        mask_pii(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a pandas Series"):
        safe_comments(["a"])  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------
TRICKY = st.text(alphabet=st.sampled_from(list("ab.@+-()/ 0123456789<>&'\"*#:;,\n")), max_size=60)
TEXTS = st.one_of(st.text(max_size=60), TRICKY)
#: characters that delimit an address's local part when reading leftwards from '@'
DELIMITERS = set('()<>[]{}:;,"@\\')


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
    masked = html.unescape(out)
    assert masked == mask_pii(text)
    for match in re.finditer("@", masked):
        assert re.fullmatch(r"(.\*\*\*)?", local_part_before(masked, match.start()), re.DOTALL)


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
