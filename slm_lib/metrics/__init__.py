"""Service and experience metrics (SPEC §4): survey, ticket and SLA metrics, grouped tables.

Modules: :mod:`~slm_lib.metrics.survey` (nps, csat, ces, compare_periods),
:mod:`~slm_lib.metrics.tickets` (durations, FCR, reopens, resolution rate, volume),
:mod:`~slm_lib.metrics.sla` (per-ticket status and compliance),
:mod:`~slm_lib.metrics.sla_events` (SLA clocks timed by ticket events: next reply, requester wait),
:mod:`~slm_lib.metrics.table` (metric_table, agent_table), :mod:`~slm_lib.metrics.grouping` (their group keys),
:mod:`~slm_lib.metrics.lifecycle` (ticket_lifecycle: waits, holds, next replies from ticket events),
:mod:`~slm_lib.metrics.lifecycle_table` (the rows metric_table gains from ticket events),
:mod:`~slm_lib.metrics.backlog` (the open backlog by age at each period end),
:mod:`~slm_lib.metrics.reconcile` (the lifecycle against the help desk's own ticket metrics).

One empty-input rule for all of them: NaN scores are ignored; a function returning a bare
float (``nps``, ``csat``, ``ces``) raises ``InsufficientDataError`` when nothing is left;
anything that returns ``n`` beside the value (summaries, rates, tables) returns ``n = 0``
with NaN value and interval instead of raising.
"""
