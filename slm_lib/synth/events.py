"""Synthetic ticket events (SPEC §3 ``ticket_events``) that agree with the tickets they belong to.

Each ticket's history is drawn from its own fields, so that every rule of
:mod:`slm_lib.events` gives the tickets' values back: the first agent public_reply at
``first_response_at``, ``replies`` agent public replies, ``reopens`` changes from solved
back to open, and the last solve at ``resolved_at`` (none when unresolved). The shape:

* at ``created_at``: status new and the customer's first message; a few minutes later
  (never after the first reply) the ticket is assigned to its ``agent_id`` / ``team`` and
  opened (15 % first go to another agent and are handed off at the first reply; 5 % get
  a priority event confirming their priority);
* at ``first_response_at``: the first agent reply, status pending;
* then ``max(replies - 1, reopens)`` rounds spread evenly (with jitter) until the
  resolution (or the end of the data): the customer writes (status open; 20 % write twice),
  the agent answers (pending, 15 % on_hold); the last ``reopens`` rounds start with the ticket
  solved and reopened by the customer's message; 20 % of tickets carry an internal note;
* at ``resolved_at``: solved (closed by the customer when the ticket was never answered),
  closed by the system 4 days later if that is before the end of the data.

Events at one instant are written in the order they happen (the table order breaks ties,
:mod:`slm_lib.events`). Vectorised: the rounds of all tickets are built with ``np.repeat``
and the events sorted once by (ticket, step).

Examples
--------
>>> from slm_lib.events import event_disagreements
>>> import slm_lib.synth as synth
>>> ds = synth.generate(customers=60, months=2, seed=2)
>>> ev = ticket_events(ds.tickets, np.random.default_rng(0), end=pd.Timestamp("2025-01-01", tz="UTC"))
>>> event_disagreements(ds.tickets, ev)[0]
[]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.periods import NAT_NS, epoch_ns
from slm_lib.schema import EVENT_ACTORS, EVENT_KINDS, EVENT_STATUSES
from slm_lib.synth.assemble import event_frame

_S = 10**9
_K = {k: i for i, k in enumerate(EVENT_KINDS)}
_A = {a: i for i, a in enumerate(EVENT_ACTORS)}
_ST = {s: i for i, s in enumerate(EVENT_STATUSES)}
#: Share of tickets first assigned to another agent, with a priority event, with an internal note.
HANDOFF_SHARE, PRIORITY_EVENT_SHARE, NOTE_SHARE = 0.15, 0.05, 0.20
#: Share of agent answers in a round that put the ticket on hold instead of pending; of rounds
#: where the customer writes a second time before the answer.
HOLD_SHARE, FOLLOW_UP_SHARE = 0.15, 0.2
CLOSE_AFTER_S: int = 4 * 86_400
#: How long the rounds of an unresolved ticket go on after its first reply, at most.
OPEN_SPAN_S: int = 14 * 86_400


def ticket_events(tickets: pd.DataFrame, rng: np.random.Generator, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Events for canonical ``tickets`` that agree with their fields (module docstring).

    Parameters
    ----------
    tickets : pandas.DataFrame
        Canonical tickets; answered tickets need ``replies >= 1`` and ``reopens`` within
        what fits before their resolution (as the generator's tickets have).
    rng : numpy.random.Generator
        Source of randomness (a stream of its own: the tickets are not redrawn).
    end : Timestamp, optional
        The end of the data: no event at or after it (default: one second after the
        latest timestamp of the tickets).

    Returns
    -------
    pandas.DataFrame
        Canonical ``ticket_events``, by ticket (in the tickets' order) and time; ids
        ``E0000001``... in that order.
    """
    created, first, resolved = (epoch_ns(tickets[c]) for c in ("created_at", "first_response_at", "resolved_at"))
    if end is None:
        stop = int(max(created.max(), first.max(), resolved.max())) + _S if len(tickets) else 0
    else:
        stop = pd.Timestamp(end).value
    drawn = event_arrays(created, first, resolved, tickets["replies"].to_numpy(np.int64),
                         tickets["reopens"].to_numpy(np.int64), rng, stop)
    return event_frame(tickets, drawn)


def event_arrays(created: np.ndarray, first: np.ndarray, resolved: np.ndarray, replies: np.ndarray,
                 reopens: np.ndarray, rng: np.random.Generator, stop: int) -> dict[str, np.ndarray]:
    """The events of tickets given as arrays (nanoseconds since the epoch, ``NAT_NS`` = null).

    The core of :func:`ticket_events`, also run by the generator month by month (whose
    churn depends on the requester wait these events imply).

    Parameters
    ----------
    created, first, resolved : numpy.ndarray
        Creation, first response and resolution of each ticket (int64 ns; whole seconds).
    replies, reopens : numpy.ndarray
        Agent public replies and reopens of each ticket.
    rng : numpy.random.Generator
        Source of randomness.
    stop : int
        The end of the data (ns): no event at or after it.

    Returns
    -------
    dict of numpy.ndarray
        One entry per event, by ticket (position in the input) and time: ``ticket``, ``at``
        (ns), ``kind``, ``actor``, ``status`` (codes of :data:`slm_lib.schema.EVENT_KINDS`
        ... ; status -1 when not a status event), ``own`` (the ticket's own agent acts) and
        ``pick`` (a uniform draw choosing the agent of an assignment to someone else).

    Examples
    --------
    >>> s = 10**9
    >>> e = event_arrays(np.array([0]), np.array([3600 * s]), np.array([7200 * s]), np.array([1]),
    ...                  np.array([0]), np.random.default_rng(0), 10**6 * s)
    >>> [EVENT_STATUSES[c] for c in e["status"][e["status"] >= 0]]
    ['new', 'open', 'pending', 'solved', 'closed']
    """
    n = created.size
    answered, done = first != NAT_NS, resolved != NAT_NS
    replies = np.where(answered, np.maximum(replies, 1), 0)
    base = np.where(answered, first, created)
    until = np.where(done, resolved, np.minimum(stop - _S, base + OPEN_SPAN_S * _S))
    span = np.maximum(until - base, 0)
    assigned = created + np.minimum(np.where(answered, (first - created) // 2 // _S * _S, 3600 * _S),
                                    rng.integers(60, 900, n) * _S)
    assigned = np.maximum(np.minimum(assigned, until), created)
    parts: list[tuple[np.ndarray, ...]] = []   # (ticket, step, at, kind, actor, status, own agent?)

    def add(t, step, at, kind, actor, status=-1, agent=False):
        t = np.asarray(t)
        full = lambda v: np.broadcast_to(np.asarray(v), t.shape)  # noqa: E731
        parts.append((t, full(step), full(at), full(kind), full(actor), full(status), full(agent)))

    every, yes = np.arange(n), np.ones(n, dtype=bool)
    add(every, 0, created, _K["status"], _A["system"], _ST["new"])
    add(every, 1, created, _K["customer_message"], _A["customer"])
    handoff = rng.random(n) < HANDOFF_SHARE
    add(every, 2, assigned, _K["assignment"], _A["system"], agent=~handoff)   # a handed-off ticket starts elsewhere
    add(every, 3, assigned, _K["status"], _A["agent"], _ST["open"], agent=yes)
    prio = np.flatnonzero(rng.random(n) < PRIORITY_EVENT_SHARE)
    add(prio, 4, assigned[prio], _K["priority"], _A["agent"], agent=True)
    a = np.flatnonzero(answered)
    add(a, 6, first[a], _K["public_reply"], _A["agent"], agent=True)
    add(a, 7, first[a], _K["status"], _A["agent"], _ST["pending"], agent=True)
    h = np.flatnonzero(handoff)   # handed off at the first reply, or right away when never answered
    add(h, np.where(answered[h], 8, 5), np.where(answered[h], first[h], assigned[h]), _K["assignment"], _A["agent"],
        agent=True)
    note = np.flatnonzero(rng.random(n) < NOTE_SHARE)
    add(note, 9, np.maximum(base[note], assigned[note]), _K["internal_note"], _A["agent"], agent=True)

    rounds = np.maximum(replies - 1, reopens)
    t = np.repeat(every, rounds)
    j = np.arange(len(t)) - np.repeat(np.cumsum(rounds) - rounds, rounds)
    m = rounds[t]
    slot = span[t] / (m + 1)
    seconds = lambda x: (x // _S).astype(np.int64) * _S  # noqa: E731  (whole seconds, as exports have)
    answer = base[t] + seconds(slot * (j + 1 - 0.5 * rng.random(len(t))))
    previous = base[t] + seconds(slot * j)
    message = np.maximum(answer - seconds(slot * 0.45 * rng.random(len(t))), previous)
    step = 10 + 10 * j
    reopen = j >= m - reopens[t]
    r = np.flatnonzero(reopen)
    add(t[r], step[r], previous[r] + (message[r] - previous[r]) // 2 // _S * _S, _K["status"], _A["agent"], _ST["solved"],
        agent=True)
    add(t, step + 1, message, _K["customer_message"], _A["customer"])
    add(t, step + 2, message, _K["status"], _A["customer"], _ST["open"])
    again = np.flatnonzero(rng.random(len(t)) < FOLLOW_UP_SHARE)   # the customer writes again before the answer
    add(t[again], step[again] + 3, message[again] + (answer[again] - message[again]) // 2 // _S * _S,
        _K["customer_message"], _A["customer"])
    w = np.flatnonzero(j < replies[t] - 1)
    hold = np.where(rng.random(len(w)) < HOLD_SHARE, _ST["on_hold"], _ST["pending"])
    add(t[w], step[w] + 4, answer[w], _K["public_reply"], _A["agent"], agent=True)
    add(t[w], step[w] + 5, answer[w], _K["status"], _A["agent"], hold, agent=True)
    last = int(step.max()) + 10 if len(step) else 10
    f = np.flatnonzero(done)
    add(f, last, resolved[f], _K["status"], np.where(answered[f], _A["agent"], _A["customer"]),
        np.where(answered[f], _ST["solved"], _ST["closed"]), agent=True)
    c = f[answered[f] & (resolved[f] + CLOSE_AFTER_S * _S < stop)]
    add(c, last + 1, resolved[c] + CLOSE_AFTER_S * _S, _K["status"], _A["system"], _ST["closed"])

    ticket, steps, at, kind, actor, status, own = (np.concatenate(col) for col in zip(*parts))
    order = np.argsort(ticket * (int(steps.max(initial=0)) + 1) + steps, kind="stable")
    return {"ticket": ticket[order], "at": at[order], "kind": kind[order], "actor": actor[order],
            "status": status[order], "own": own[order], "pick": rng.random(order.size)}
