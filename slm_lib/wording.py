"""How slm writes numbers, tests and names for people who read reports without the code.

One helper per thing a sentence or a table shows, so the reports say it the same way
everywhere: p-values (:func:`format_p`; a test that could not be computed says so, never
"p < 0.001").
"""
from __future__ import annotations

import math

__all__ = ["format_p", "NOT_TESTABLE"]

#: How a p-value that could not be computed (NaN, None) is written.
NOT_TESTABLE = "not testable"


def format_p(p: float | None, reason: str | None = None, bare: bool = False) -> str:
    """A p-value as a reader sees it: ``p = 0.03``, ``p < 0.001`` or why there is no test.

    Parameters
    ----------
    p : float or None
        The p-value; NaN or None means the test could not be computed.
    reason : str, optional
        Why there is no test (e.g. "the previous month had 1 CES answer"), appended to
        :data:`NOT_TESTABLE` when ``p`` is missing; ignored otherwise.
    bare : bool
        Table cells: the number without ``p =`` (``0.03``, ``< 0.001``).

    Returns
    -------
    str
        Two significant digits from 0.001 up, ``< 0.001`` below.

    Examples
    --------
    >>> format_p(0.0312), format_p(0.0004), format_p(0.5, bare=True)
    ('p = 0.031', 'p < 0.001', '0.5')
    >>> format_p(float("nan")), format_p(None, "the previous month had 1 CES answer")
    ('not testable', 'not testable: the previous month had 1 CES answer')
    """
    if p is None or not math.isfinite(p):
        return f"{NOT_TESTABLE}: {reason}" if reason else NOT_TESTABLE
    text = "< 0.001" if p < 0.001 else f"{'' if bare else '= '}{p:.2g}"
    return text if bare else f"p {text}"
