"""Notebook helpers (slm_lib.notebook): sections that degrade to a note instead of failing."""
import pandas as pd
import pytest

from slm_lib.errors import InsufficientDataError
from slm_lib.metrics.survey import nps
from slm_lib.notebook import Unavailable, attempt, bullets


def test_attempt_returns_result_or_note_and_absorbs_dependent_steps():
    assert attempt(nps, [10, 10, 0, 8]) == 25.0
    note = attempt(nps, [], what="NPS")
    assert isinstance(note, Unavailable) and note.what == "NPS" and "no non-missing scores" in note.reason
    # steps built on it: attribute access, calls, indexing and further attempts all give the same note
    assert note.table[note.table["role"] == "driver"] is note and note.sentences() is note
    assert attempt(pd.DataFrame.describe, note) is note
    assert bullets(note) is note and list(note) == [] and len(note) == 0


def test_attempt_does_not_hide_programming_errors():
    with pytest.raises(TypeError):
        attempt(nps)  # a missing argument is a bug, not a data condition
    def boom():
        raise InsufficientDataError("too few")
    assert attempt(boom, what="X").reason == "too few"


def test_notes_and_bullets_render_escaped_html_once():
    note = Unavailable("Model", "driver <x> & y")
    assert note._repr_html_() == "<blockquote><b>Model not shown:</b> driver &lt;x&gt; &amp; y</blockquote>"
    assert note._repr_html_() == ""
    assert not hasattr(note, "_ipython_display_")
    assert bullets(["a < b", "c"])._repr_html_() == "<ul><li>a &lt; b</li><li>c</li></ul>"
    assert bullets([])._repr_html_() == ""
