# Two commands matter: `make report` and `make test` (README). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data_samples
REPORTS ?= reports
MONTH ?= $(shell test -x $(BIN)/slm && $(BIN)/slm latest-month --data $(DATA) 2>/dev/null)

.PHONY: venv test report samples notebooks bench clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

report: $(STAMP)
	$(BIN)/slm validate --data $(DATA)
	$(BIN)/slm metrics --data $(DATA) --format table

samples: $(STAMP)
	$(BIN)/slm generate --out $(DATA) --customers 3000 --months 24 --end 2026-10 --seed 7

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
