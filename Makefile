# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRIALS ?= 40

.PHONY: setup demo test test-fast lint bench mutate clean

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

## Mutation score of the numerical core (oracles, SDR, Wiener, losses, separation) against its
## fast reference tests ([tool.mutmut] in pyproject.toml); not part of `test` (tens of minutes
## on 2 cores). mutmut skips decorated functions, so separate_array's hand-written mutants run
## after it. `mutmut results` lists survivors, `mutmut show NAME` shows one.
MUTATE_JOBS ?= 2
mutate: setup
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/mutmut results
	nice -n 10 $(BIN)/python scripts/mutate_decorated.py

clean:
	rm -rf $(VENV) .pytest_cache mutants
