"""What customers say: sentiment and themes of survey comments and customer messages.

Modules: :mod:`~slm_lib.voice.language` (which language a text is in: en, zh or neither),
:mod:`~slm_lib.voice.vader` (VADER's compound score, vectorised).

Everything runs offline: the lexicon (VADER) ships inside its package, and nothing is
downloaded at run time.
"""
from slm_lib.voice.language import detect_language

__all__ = ["detect_language"]
