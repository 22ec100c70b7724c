"""Which language a customer text is in, as far as the sentiment scorers need to know (en, zh or neither).

A documented rule on the characters and words of each text, not a statistical detector: a
detector that ships its profiles (py3langid, pure Python) took 260 µs a text here, over four
minutes for a million comments, and lingua's wheel is 96 MB; the scorers only need to
know "English", "Chinese" or "neither", which scripts and function words tell. The rule
runs in pyarrow over the whole column (RE2 character classes, one word split):

1. The text is read without masked personal data (``[email]``, ``[phone]``, ``[iban]``,
   ``[card]`` of :mod:`slm_lib.text`), HTML tags, web addresses and the HTML entities that
   :func:`slm_lib.text.escape_html` writes (:func:`readable_text`).
2. No letter at all (numbers, symbols, emoji only): undetermined.
3. Any Japanese kana: ``ja``; any Hangul: ``ko``.
4. At least half of the letters Chinese characters (Han): ``zh``.
5. At least half of the letters Latin: the words (split on whitespace, lower-cased, leading and
   trailing punctuation trimmed) decide: ``en`` when the text has more English function words
   (:data:`ENGLISH_WORDS`) than function words of French, German, Spanish, Italian,
   Portuguese and Dutch (:data:`OTHER_LATIN_WORDS`, words shared with English left out);
   with neither, ``en`` only when the text is plain ASCII and one of its words is in
   VADER's English lexicon (``"Excellent service."``); otherwise undetermined
   (``"Servicio excelente."``, ``"Fixed quickly."``).
6. Any other script (Cyrillic, Greek, Arabic, ...): undetermined.

Undetermined texts get ``lang = "und"`` (ISO 639-2 for undetermined) and a reason.

Examples
--------
>>> import pandas as pd
>>> detect_language(pd.Series(["The refund never arrived.", "退款还没到账", "Le remboursement n'est pas arrivé."]))["lang"].tolist()
['en', 'zh', 'und']
"""
from __future__ import annotations

import string
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from slm_lib.text import CARD_MASK, EMAIL_MASK, IBAN_MASK, PHONE_MASK

__all__ = ["ENGLISH_WORDS", "OTHER_LATIN_WORDS", "NO_LETTERS", "UNDETERMINED", "detect_language", "languages", "readable_text",
           "vader_analyzer"]

#: Code of a text whose language the rule cannot tell or that no scorer reads.
UNDETERMINED = "und"
#: Reason given for a text without a letter.
NO_LETTERS = "no letters (only numbers, symbols or emoji)"

#: English function words that are not also common words of the other Latin-script languages
#: ("a", "in", "is", "was", "me", "no", "on", "so", "we" ... are left out).
ENGLISH_WORDS: frozenset[str] = frozenset("""
the and it its it's this that these those to of for with my i i'm i've i'd you you're your our they
they're them their he she his her not have has been are were at but very just after again from about
what when where why how there there's would could should did didn't don't doesn't can't cannot won't
isn't wasn't aren't haven't still please thanks thank because which who all any some than then only
also too much more by be being do does done if or into over out up get got one nobody anyone
""".split())

#: Function words of French, German, Spanish, Italian, Portuguese and Dutch, none of them an English word.
OTHER_LATIN_WORDS: frozenset[str] = frozenset("""
le la les des du est et une pas je il elle avec pour très mais vous nous été sur qui que ce cette ne au
aux mon ma mes votre merci j'ai c'est n'est rien toujours encore
der das und ist nicht ich mit für sehr aber sie wir ein eine einen dem den auf war wurde noch kein
keine mein meine ihr ihre danke bitte schon auch immer habe hat zu wie
el los las y es con para muy pero por del está fue mi gracias nada todavía también hay sin su lo tengo
gli che è molto ma non sono della grazie ancora anche mio mia ho nel alla questo
o os com muito mas não é um uma foi obrigado obrigada ainda meu minha nem da na
het een niet ik met voor zeer maar heel wij zijn dat nog geen mijn bedankt dank ook wel naar wordt werd
""".split()) - ENGLISH_WORDS

_ENGLISH, _OTHER_LATIN = pa.array(sorted(ENGLISH_WORDS)), pa.array(sorted(OTHER_LATIN_WORDS))
_MARKUP = (r"\[(?:" + "|".join(m.strip("[]") for m in (EMAIL_MASK, PHONE_MASK, IBAN_MASK, CARD_MASK)) + r")\]"
           r"|<[^<>]*>|(?:https?://|www\.)\S+")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'"), ("&amp;", "&"))
_PUNCTUATION = string.punctuation + "“”‘’«»¿¡…"
_SCRIPTS = {"han": r"\p{Han}", "kana": r"[\p{Hiragana}\p{Katakana}]", "hangul": r"\p{Hangul}",
            "latin": r"\p{Latin}", "letters": r"\p{L}"}


def readable_text(texts: pd.Series) -> pa.Array:
    """The texts as the scorers read them: masks, HTML tags, web addresses removed, entities decoded.

    Each removed item becomes one space, so the words around it stay apart; a masked
    address therefore neither adds a word nor joins two. Missing values stay null.

    Examples
    --------
    >>> readable_text(pd.Series(["Mail [email] &amp; <b>call</b> [phone]!", None])).to_pylist()
    ['Mail   &  call   !', None]
    """
    arr = pa.array(texts.astype(pd.StringDtype("pyarrow", na_value=np.nan)).array)
    for entity, char in _ENTITIES:
        arr = pc.replace_substring(arr, entity, char)
    return pc.replace_substring_regex(arr, _MARKUP, " ")


@lru_cache(maxsize=1)
def vader_analyzer() -> SentimentIntensityAnalyzer:
    """VADER's analyzer, loaded once (its English lexicon also serves :func:`detect_language`)."""
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _english_lexicon() -> pa.Array:
    return pa.array(sorted(vader_analyzer().lexicon))


def _script_counts(text: pa.Array) -> dict[str, np.ndarray]:
    """Letters of each script per text (:data:`_SCRIPTS`); an ASCII text only says whether it has a letter."""
    plain = pc.fill_null(pc.string_is_ascii(text), True).to_numpy(zero_copy_only=False)
    has_letter = pc.fill_null(pc.match_substring_regex(text, "[A-Za-z]"), False).to_numpy(zero_copy_only=False)
    count = {k: np.where(plain & has_letter & (k in ("latin", "letters")), 1.0, 0.0) for k in _SCRIPTS}
    wide = np.flatnonzero(~plain)
    if wide.size:
        subset = text.take(pa.array(wide))
        for k, pattern in _SCRIPTS.items():
            count[k][wide] = pc.count_substring_regex(subset, pattern).to_numpy(zero_copy_only=False)
    return count


def _word_counts(words: pa.Array, rows: np.ndarray, vocabulary: pa.Array, n: int) -> np.ndarray:
    """How many of each text's words (flattened, ``rows`` their texts) are in ``vocabulary``."""
    return np.bincount(rows[pc.is_in(words, value_set=vocabulary).to_numpy(zero_copy_only=False)], minlength=n)


def detect_language(texts: pd.Series) -> pd.DataFrame:
    """Language code (``en``, ``zh``, ``ja``, ``ko`` or ``und``) of each text and, when undetermined, why.

    Parameters
    ----------
    texts : pandas.Series
        Customer texts (comments, message bodies); missing values allowed.

    Returns
    -------
    pandas.DataFrame
        ``lang, reason`` on the index of ``texts``; ``reason`` is NaN when the language
        was recognised. Missing texts get ``lang`` NaN and reason ``"no text"``.

    Examples
    --------
    >>> detect_language(pd.Series(["Sehr langsam und nicht hilfreich.", "123", None]))["reason"].tolist()
    ['Latin script, not English', 'no letters (only numbers, symbols or emoji)', 'no text']
    """
    return languages(readable_text(texts)).set_axis(texts.index)


def languages(text: pa.Array) -> pd.DataFrame:
    """:func:`detect_language` of texts already made readable (:func:`readable_text`), on a 0..n-1 index.

    Examples
    --------
    >>> languages(pa.array(["Thanks a lot", "谢谢"]))["lang"].tolist()
    ['en', 'zh']
    """
    n = len(text)
    count = _script_counts(text)
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    letters = count["letters"]
    split = pc.utf8_split_whitespace(pc.utf8_lower(pc.fill_null(text, "")))
    words, rows = pc.utf8_trim(pc.list_flatten(split), _PUNCTUATION), pc.list_parent_indices(split).to_numpy()
    english, other, lexicon = (_word_counts(words, rows, vocabulary, n) for vocabulary in
                               (_ENGLISH, _OTHER_LATIN, _english_lexicon()))
    ascii_only = pc.string_is_ascii(pc.fill_null(text, "")).to_numpy(zero_copy_only=False)
    latin = (letters > 0) & (count["latin"] >= 0.5 * letters)
    latin_english = (english > other) | ((english == 0) & (other == 0) & ascii_only & (lexicon > 0))
    conditions = [missing, letters == 0, count["kana"] > 0, count["hangul"] > 0, count["han"] >= 0.5 * letters,
                  latin & latin_english, latin & (other > english), latin]
    langs = [None, UNDETERMINED, "ja", "ko", "zh", "en", UNDETERMINED, UNDETERMINED]
    reasons = ["no text", NO_LETTERS, None, None, None, None,
               "Latin script, not English",
               "no function word and no English sentiment word: language not determined"]
    pick = np.select(conditions, np.arange(len(conditions)), default=len(conditions))
    lang = np.array(langs + [UNDETERMINED], dtype=object)[pick]
    reason = np.array(reasons + ["a script other than Latin, Chinese, Japanese or Korean"], dtype=object)[pick]
    return pd.DataFrame({"lang": pd.Series(lang, dtype="str"), "reason": pd.Series(reason, dtype="str")})
