"""Keep committed notebooks free of run-to-run noise (papermill timings, execution stamps).

``python -m slm_lib.report.notebooks NOTEBOOK...`` rewrites each notebook in place without the
volatile metadata, so re-executing an unchanged notebook gives an unchanged file and a
diff shows only real changes of outputs. ``make notebooks`` runs it after papermill.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

#: Metadata keys written anew on every execution.
VOLATILE_KEYS: tuple[str, ...] = ("papermill", "execution", "ExecuteTime")


def clean_notebook(path: str | Path) -> bool:
    """Drop volatile metadata from a notebook file in place; True when the file changed.

    Examples
    --------
    >>> import tempfile, os
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    >>> nb.cells[0].metadata["papermill"] = {"duration": 0.1}
    >>> path = os.path.join(tempfile.mkdtemp(), "x.ipynb"); nbformat.write(nb, path)
    >>> clean_notebook(path), clean_notebook(path)
    (True, False)
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for meta in [nb.metadata] + [cell.metadata for cell in nb.cells]:
        for key in VOLATILE_KEYS:
            meta.pop(key, None)
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after + ("" if after.endswith("\n") else "\n"), encoding="utf-8")
    return after != before


def main(paths: Iterable[str]) -> int:
    """Clean every notebook given on the command line."""
    for path in paths:
        clean_notebook(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
