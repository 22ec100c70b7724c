"""The metric layer on DuckDB and Spark through ibis: lazy data sets and engine aggregates (SPEC §9)."""
from slm_lib.engines.dataset import ENGINES, LazyDataset, connect, from_tables, open_dataset
from slm_lib.engines.metric_table import ENGINE_TICKET_METRICS, engine_metric_table

__all__ = ["ENGINES", "ENGINE_TICKET_METRICS", "LazyDataset", "connect", "engine_metric_table", "from_tables", "open_dataset"]
