# Two commands matter: `make report` and `make test` (README). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data_samples
REPORTS ?= reports
MONTH ?=

.PHONY: venv test report samples notebooks bench clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,spark]"
	touch $(STAMP)

venv: $(STAMP)

NBVAL := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --doctest-modules slm_lib tests $(NBVAL) notebooks

report: $(STAMP)
	$(BIN)/slm validate --data $(DATA)
	$(BIN)/slm report --data $(DATA) --out $(REPORTS) --jobs 2 $(if $(MONTH),--month $(MONTH))

samples: $(STAMP)
	$(BIN)/slm generate --out $(DATA) --customers 3000 --months 24 --start 2024-11 --seed 7 --events --events-format parquet

# Re-execute the committed notebooks in place on data_samples/ (their default parameters).
notebooks: $(STAMP)
	cd notebooks && for nb in 0*.ipynb; do ../$(BIN)/papermill --no-progress-bar --log-level WARNING $$nb $$nb || exit 1; done
	cd notebooks/examples && for nb in *.ipynb; do ../../$(BIN)/papermill --no-progress-bar --log-level WARNING $$nb $$nb || exit 1; done
	$(BIN)/python -m slm_lib.report.notebooks notebooks/*.ipynb notebooks/examples/*.ipynb

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
