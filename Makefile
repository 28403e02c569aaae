# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench mutate mutate-fresh mutate-survivors clean

## TORCH / TORCH_INDEX_URL choose the torch build (default: the pinned CPU wheel); a CUDA
## build: `make clean setup TORCH_INDEX_URL=<PyTorch's CUDA wheel index for your driver>`.
TORCH ?= torch==2.13.0
TORCH_INDEX_URL ?=
setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) TORCH="$(TORCH)" TORCH_INDEX_URL="$(TORCH_INDEX_URL)" bash scripts/setup.sh

## The whole job on the built-in demo corpus (scripts/demo.sh says each step): a short search
## per target (studies demo-vocals ... demo-other), the report of those four studies, a short
## CPU train-best from its best.csv, evaluate, separate, then a summary. It uses the defaults
## of every command: the built-in corpus (no --root) and studies/tfselect.db (no --storage);
## DEMO_ROOT=DIR / DEMO_STORAGE=URL choose others.
## Every size below can be given on the command line: `make demo TRIALS=40 EPOCHS=10`.
TRIALS ?= 8
EPOCHS ?= 2
STEPS ?= 3
BASELINES ?=
DEMO_ROOT ?=
DEMO_STORAGE ?=
demo: setup
	TFSELECT=$(BIN)/tfselect PYTHON=$(BIN)/python TRIALS=$(TRIALS) EPOCHS=$(EPOCHS) \
	  STEPS=$(STEPS) BASELINES="$(BASELINES)" DEMO_ROOT="$(DEMO_ROOT)" STORAGE="$(DEMO_STORAGE)" \
	  bash scripts/demo.sh

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

## Mutation score of the numerical core (oracles, SDR, Wiener, losses, separation, selection)
## and of the data (dataset layouts, training data, de-overlap, ConvNeXt) against their fast
## reference tests ([tool.mutmut] in pyproject.toml); not part of `test`. About 8000 mutants,
## hours on 2 cores, so it resumes: an interrupted `make mutate` goes on where it stopped, and
## mutmut re-tests only the functions whose code changed since. `make mutate-survivors` runs
## the survivors again (after adding tests); `make mutate-fresh` starts over. mutmut skips
## decorated functions, so separate_array's hand-written mutants run after it.
## `mutmut results` lists survivors, `mutmut show NAME` shows one.
MUTATE_JOBS ?= 2
mutate: setup
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/mutmut results
	nice -n 10 $(BIN)/python scripts/mutate_decorated.py

mutate-fresh:
	rm -rf mutants
	$(MAKE) mutate

mutate-survivors: setup
	$(BIN)/mutmut results | awk -F': ' '$$2 == "survived" {print $$1}' \
	  | xargs -r nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache mutants
