# Two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results/demo

.PHONY: demo test install bench baselines clean

$(BIN)/zerosim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,dask,dashboard,calibrate,frontier]"
	@touch $(BIN)/zerosim

# Compiles every Numba kernel into the on-disk cache (python -m zerosim.warmup): the first run after
# an install compiles nothing. A few minutes the first time; a few seconds when the cache is warm.
install: $(BIN)/zerosim
	$(BIN)/python -m zerosim.warmup

demo: install
	$(BIN)/zerosim run demo --out $(OUT) --force
	@echo "results and figures: $(OUT)/"

test: install
	$(BIN)/python -m pytest -m "not slow" -q

# Rewrite tests/baselines/baselines.json on purpose (results changed and the commit says why).
baselines: install
	$(BIN)/python -m tests.test_baselines --update

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_foundation.py

clean:
	rm -rf $(VENV) results build src/*.egg-info
