"""The metric layer on DuckDB and Spark through ibis: lazy data sets, their validation, metric_table, ticket lifecycle, RFM, retention, features (SPEC §9)."""
from slm_lib.engines.dataset import ENGINES, LazyDataset, connect, from_tables, open_dataset
from slm_lib.engines.features import engine_customer_features
from slm_lib.engines.lifecycle import engine_ticket_lifecycle, lifecycle_table
from slm_lib.engines.metric_table import ENGINE_TICKET_METRICS, engine_metric_table
from slm_lib.engines.summaries import engine_cohort_retention, engine_rfm_summary
from slm_lib.engines.validate import engine_validate

__all__ = ["ENGINES", "ENGINE_TICKET_METRICS", "LazyDataset", "connect", "engine_cohort_retention",
           "engine_customer_features", "engine_metric_table", "engine_rfm_summary", "engine_ticket_lifecycle",
           "engine_validate", "from_tables", "lifecycle_table", "open_dataset"]
