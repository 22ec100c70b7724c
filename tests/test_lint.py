"""Static check of the sources: names used but never defined or imported (a NameError waiting for the
rare path that runs them), unused imports and unused local variables (pyflakes rules via ruff)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_no_undefined_names_unused_imports_or_variables():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "F821,F401,F841",
                             "--output-format", "concise", "slm_lib", "tests", "benchmarks"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
