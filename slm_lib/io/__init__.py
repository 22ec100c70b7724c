"""Reading data: the canonical loader and the vendor-export imports (SPEC §3, §10)."""
from slm_lib.io.dataset import Dataset

__all__ = ["Dataset"]
