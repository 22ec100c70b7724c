"""What customers say: sentiment and themes of survey comments and customer messages.

Modules: :mod:`~slm_lib.voice.language` (which language a text is in: en, zh or neither),
:mod:`~slm_lib.voice.vader` (VADER's compound score, vectorised),
:mod:`~slm_lib.voice.sentiment` (``sentiment``: VADER for English, SnowNLP for Chinese, NaN
with the reason otherwise; ``sentiment_trend``), :mod:`~slm_lib.voice.themes`
(``comment_themes``: TF-IDF + NMF, shares with intervals, detractors vs promoters).

Everything runs offline: the lexicon (VADER) and the model (SnowNLP) ship inside their
packages, and nothing is downloaded at run time.
"""
from slm_lib.voice.language import detect_language
from slm_lib.voice.sentiment import sentiment, sentiment_trend
from slm_lib.voice.themes import CommentThemes, comment_themes

__all__ = ["detect_language", "sentiment", "sentiment_trend", "CommentThemes", "comment_themes"]
