# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRIALS ?= 40

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh

## The main job on the built-in demo corpus: a short vocals search, then the report.
## 4-second clips keep it to a few minutes on 2 cores; re-running adds TRIALS more trials.
DEMO_STORAGE ?= sqlite:///studies/demo.db
demo: setup
	$(BIN)/tfselect search --target vocals --trials $(TRIALS) --seconds 4 --study demo --storage $(DEMO_STORAGE)
	$(BIN)/tfselect report --study demo --storage $(DEMO_STORAGE) --out reports/demo
	@echo "demo: best vocals transform: $$($(BIN)/tfselect best --target vocals --study demo --storage $(DEMO_STORAGE)); report in reports/demo/"

## Lint and the whole test suite (slow tests included; CI runs exactly this).
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

## Every benchmark, each printing medians and ratios against a named peer in the same run.
## The peers are installed into .venv here only (never project dependencies).
bench: setup
	$(BIN)/python -m pip install -q --no-deps -r benchmarks/requirements.txt
	$(BIN)/python -m pip install -q ssqueezepy
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
