"""The dispatch hooks of a :class:`~slm_lib.engines.dataset.LazyDataset`: one per library function with an engine form.

A library function that has an engine form looks for ``engine_<name>`` on its data
(``getattr(ds, "engine_metric_table", None)``): a pandas Dataset has none and the function
runs in memory; a LazyDataset has them all, here, each importing the module that computes it
on the engine when first called (the engine modules import the dataset module, so not at
import time).
"""
from __future__ import annotations

from typing import Any

import pandas as pd


class EngineHooks:
    """Mixin of :class:`~slm_lib.engines.dataset.LazyDataset`: the ``engine_*`` methods the library dispatches to."""

    def engine_select_segment(self, segment: str) -> Any:
        """:func:`slm_lib.summary.select_segment` on the engine (its dispatch hook)."""
        from slm_lib.engines.cut import select_segment
        return select_segment(self, segment)

    def engine_data_months(self, tz: str = "UTC") -> list[str]:
        """:func:`slm_lib.summary.data_months` on the engine (its dispatch hook)."""
        from slm_lib.engines.cut import data_months
        return data_months(self, tz)

    def engine_first_created(self) -> pd.Timestamp:
        """The first ticket's ``created_at`` (NaT without tickets)."""
        from slm_lib.engines.cut import first_created
        return first_created(self)

    def engine_collect_window(self, start: Any, end: Any) -> Any:
        """The rows of ``[start, end)`` as a pandas Dataset (:func:`slm_lib.engines.cut.collect_window`)."""
        from slm_lib.engines.cut import collect_window
        return collect_window(self, start, end)

    def engine_monthly_sums(self, ordinals: Any, targets: dict, calendar: Any, tz: str) -> pd.DataFrame:
        """Per-month sums of :func:`slm_lib.service_panel.monthly_service_panel` (its dispatch hook)."""
        from slm_lib.engines.panel import engine_monthly_sums
        return engine_monthly_sums(self, ordinals, targets, calendar, tz)

    def engine_customer_spans(self) -> pd.DataFrame:
        """Every customer's ``signup_at`` and ``churned_at`` (one row per customer)."""
        from slm_lib.engines.panel import customer_spans
        return customer_spans(self)

    def engine_first_activity(self) -> pd.Timestamp:
        """The first ticket, survey, payment or churn (else the first signup)."""
        from slm_lib.engines.panel import first_activity
        return first_activity(self)

    def engine_has_ticket_events(self) -> bool:
        """Whether a ``ticket_events`` table with at least one row is open (:func:`slm_lib.io.dataset.has_ticket_events`)."""
        events = self.tables.get("ticket_events")
        return events is not None and int(events.limit(1).count().execute()) > 0

    def engine_metric_table(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.metrics.table.metric_table` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.metric_table import engine_metric_table
        return engine_metric_table(self, **kwargs)

    def engine_ticket_lifecycle(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.metrics.lifecycle.ticket_lifecycle` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.lifecycle import engine_ticket_lifecycle
        return engine_ticket_lifecycle(self, **kwargs)

    def engine_rfm_summary(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.clv.rfm.rfm_summary` of the revenue table on the engine (its dispatch hook)."""
        from slm_lib.engines.summaries import engine_rfm_summary
        return engine_rfm_summary(self, **kwargs)

    def engine_validate(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.io.load.validate` on the engine (its dispatch hook): a validated LazyDataset."""
        from slm_lib.engines.validate import engine_validate
        return engine_validate(self, **kwargs)

    def engine_customer_features(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.features.customer_features` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.features import engine_customer_features
        return engine_customer_features(self, **kwargs)

    def engine_cohort_retention(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.cohorts.cohort_retention` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.summaries import engine_cohort_retention
        return engine_cohort_retention(self, **kwargs)

    def engine_active_customers(self, as_of: pd.Timestamp, columns: list[str]) -> pd.DataFrame:
        """:func:`slm_lib.io.dataset.active_customers` on the engine (its dispatch hook)."""
        from slm_lib.engines.customers import active_customers
        return active_customers(self, as_of, columns)

    def engine_purchases(self, start: Any, end: Any, customers: Any = None) -> Any:
        """This data set with only the purchases of a window in its revenue (:func:`slm_lib.clv.rfm.purchase_rfm`)."""
        from slm_lib.engines.customers import purchases
        return purchases(self, start, end, customers)

    def engine_payment_totals(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Net amount paid in ``[start, end)`` per customer (the contractual CLV's margin)."""
        from slm_lib.engines.customers import payment_totals
        return payment_totals(self, start, end)

    def engine_cohort_lives(self, as_of: pd.Timestamp, freq: str, by: str | None, tz: str) -> pd.DataFrame:
        """Customers by group, signup cohort and periods survived (:func:`slm_lib.clv.contractual.cohort_survivors`)."""
        from slm_lib.engines.customers import cohort_lives
        return cohort_lives(self, as_of, freq, by, tz)

    def engine_window_comments(self, start: Any, end: Any) -> pd.DataFrame:
        """:func:`slm_lib.summary.month_comments` on the engine (:func:`slm_lib.engines.cut.window_comments`)."""
        from slm_lib.engines.cut import window_comments
        return window_comments(self, start, end)

    def engine_repeat_contact_rate(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.journeys.repeat.repeat_contact_rate` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.journeys import engine_repeat_contact_rate
        return engine_repeat_contact_rate(self, **kwargs)

    def engine_channel_switching(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.journeys.switching.channel_switching` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.journeys import engine_channel_switching
        return engine_channel_switching(self, **kwargs)

    def engine_paths_before_churn(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.journeys.paths.paths_before_churn` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.journeys import engine_paths_before_churn
        return engine_paths_before_churn(self, **kwargs)

    def engine_journey_stages(self, **kwargs: Any) -> Any:
        """:func:`slm_lib.journeys.stages.journey_stages` computed on the engine (its dispatch hook)."""
        from slm_lib.engines.stages import engine_journey_stages
        return engine_journey_stages(self, **kwargs)

    def engine_backlog_steps(self, **kwargs: Any) -> Any:
        """The open-count changes of :func:`slm_lib.metrics.backlog.backlog` on the engine (its dispatch hook)."""
        from slm_lib.engines.backlog import engine_backlog_steps
        return engine_backlog_steps(self, **kwargs)

    def engine_volume(self, freq: str, by: list[str], tz: str, first: int, n: int) -> Any:
        """Tickets per group and period of :func:`slm_lib.forecast.volume.forecast_volume` on the engine (its dispatch hook)."""
        from slm_lib.engines.volume import engine_volume
        return engine_volume(self, freq, by, tz, first, n)
