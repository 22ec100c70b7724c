"""slm: service-level management analytics (SPEC §9 is the public API)."""
from slm_lib import errors
from slm_lib.io import Dataset

__version__ = "0.1.0"

__all__ = ["errors", "Dataset"]
