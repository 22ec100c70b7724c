"""Vendor-export imports (SPEC §10): one mapping engine, vendors are YAML data.

Public names: :func:`read_export`, :func:`import_exports`, :func:`reconcile_business_hours`, :func:`read_vendor_durations`,
:func:`builtin_mappings`, :func:`load_mapping`.
"""
from slm_lib.io.imports.api import import_exports, read_export
from slm_lib.io.imports.mapping import builtin_mappings, load_mapping
from slm_lib.io.imports.reconcile import read_vendor_durations, reconcile_business_hours

__all__ = ["builtin_mappings", "import_exports", "load_mapping", "read_export", "read_vendor_durations",
           "reconcile_business_hours"]
