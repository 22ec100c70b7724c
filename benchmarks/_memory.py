"""Peak-memory figure shared by the benchmarks (not a benchmark itself: no ``bench_`` prefix)."""
from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Callable


def print_peak_memory(label: str, run: Callable[[], object]) -> None:
    """Run ``run`` once under tracemalloc and print its peak numpy/pandas allocations and the process max RSS."""
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory: {label} numpy/pandas allocations {peak / 2**30:.2f} GiB (tracemalloc); "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
