"""Synthetic customers: signups (existing base plus new signups), segments, regions.

Customers come back sorted by signup time, so their position is their id order.

Examples
--------
>>> import numpy as np
>>> bounds = np.array([1_700_000_000 + 2_592_000 * k for k in range(3)])
>>> c = make_customers(np.random.default_rng(0), 10, bounds)
>>> bool(np.all(np.diff(c["signup"]) >= 0))
True
"""
from __future__ import annotations

import numpy as np

from slm_lib.synth.tickets import CHANNEL_SHARE

SEGMENTS: tuple[str, ...] = ("smb", "mid", "enterprise")
SEGMENT_SHARE: tuple[float, ...] = (0.62, 0.28, 0.10)
REGIONS: tuple[str, ...] = ("north_america", "emea", "apac", "latam")
REGION_SHARE: tuple[float, ...] = (0.42, 0.33, 0.17, 0.08)
#: Share of customers whose region is unknown (missing in the data).
REGION_MISSING: float = 0.02
#: Share of all customers already signed up at ``start`` (up to HISTORY_YEARS before).
EXISTING_SHARE: float = 0.6
HISTORY_YEARS: float = 3.0
#: Mean tickets per customer-month per segment; each customer also has a Gamma frailty.
TICKET_RATE: tuple[float, ...] = (0.5, 1.0, 2.2)
RATE_SHAPE: float = 2.0
#: New signups grow linearly from 1 to this multiple over the generated months.
SIGNUP_GROWTH: float = 1.5
_YEAR_S = 365.25 * 86400


def make_customers(rng: np.random.Generator, n: int, bounds: np.ndarray) -> dict[str, np.ndarray]:
    """Draw ``n`` customers for the months delimited by ``bounds``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of customers.
    bounds : numpy.ndarray
        Month starts in seconds since the epoch, ``months + 1`` values.

    Returns
    -------
    dict of numpy.ndarray
        ``signup`` (int64 seconds), ``segment`` (code into SEGMENTS), ``region`` (code into
        REGIONS, -1 missing), ``rate`` (expected tickets per month), ``channel_pref``
        (code into the ticket channels), ``mood`` (standard-normal disposition that shifts
        survey scores), sorted by ``signup``.

    Examples
    --------
    >>> bounds = np.array([0, 2_592_000])
    >>> sorted(make_customers(np.random.default_rng(1), 5, bounds))[:3]
    ['channel_pref', 'mood', 'rate']
    """
    months = bounds.size - 1
    n_existing = int(round(n * EXISTING_SHARE)) if months > 0 else n
    existing = bounds[0] - rng.uniform(0.0, HISTORY_YEARS * _YEAR_S, n_existing)
    weights = np.linspace(1.0, SIGNUP_GROWTH, months) if months > 0 else np.ones(1)
    month = rng.choice(weights.size, size=n - n_existing, p=weights / weights.sum())
    if months > 0:
        length = (bounds[1:] - bounds[:-1])[month]
        new = bounds[month] + rng.uniform(0.0, 1.0, month.size) * length
    else:
        new = np.zeros(0)
    signup = np.floor(np.concatenate([existing, new])).astype(np.int64)

    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE).astype(np.int8)
    region[rng.random(n) < REGION_MISSING] = -1
    rate = np.asarray(TICKET_RATE)[segment] * rng.gamma(RATE_SHAPE, 1.0 / RATE_SHAPE, n)
    channel_pref = rng.choice(len(CHANNEL_SHARE), size=n, p=CHANNEL_SHARE).astype(np.int8)
    mood = rng.standard_normal(n)
    order = np.argsort(signup, kind="stable")
    return {"signup": signup[order], "segment": segment[order], "region": region[order],
            "rate": rate[order], "channel_pref": channel_pref[order], "mood": mood[order]}
