"""Build hook: the wheel carries the report notebooks, so ``pip install`` is enough for ``slm report``.

The report notebooks live once, in ``notebooks/0*.ipynb`` at the top of the repository
(SPEC §2), committed with their outputs. ``build_py`` copies them into the built package as
``slm_lib/report/report_notebooks/``; ``MANIFEST.in`` puts them into the sdist, so a wheel
built from the sdist has them too. An editable install copies nothing: ``slm report`` reads
the checkout's ``notebooks/`` (``slm_lib.report.runner.report_notebooks``). Everything else
is configured in ``pyproject.toml``.
"""
import os
from glob import glob

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

NOTEBOOKS = os.path.join("notebooks", "0*.ipynb")
PACKAGED = os.path.join("slm_lib", "report", "report_notebooks")


class build_py_with_notebooks(build_py):
    """``build_py`` that also copies the report notebooks into the built package."""

    def _notebook_mapping(self) -> dict[str, str]:
        """Build path -> source path of each report notebook."""
        sources = sorted(glob(NOTEBOOKS))
        if not sources:
            raise FileError(f"no report notebooks {NOTEBOOKS} in {os.getcwd()}: the wheel would lack them")
        return {os.path.join(self.build_lib, PACKAGED, os.path.basename(s)): s for s in sources}

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for target, source in self._notebook_mapping().items():
            self.mkpath(os.path.dirname(target))
            self.copy_file(source, target)

    def get_output_mapping(self) -> dict[str, str]:
        return {**super().get_output_mapping(), **self._notebook_mapping()}

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)  # in editable mode: the keys of get_output_mapping
        return outputs if self.editable_mode else outputs + list(self._notebook_mapping())


setup(cmdclass={"build_py": build_py_with_notebooks})
